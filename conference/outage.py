"""The database is unavailable: one test for it, and one answer to the client.

PostgreSQL restarting or refusing connections, the connection pool waiting in vain
(``DB_POOL_TIMEOUT``), SQLite's file on a full disk or locked for too long: Django raises
``OperationalError`` (or ``InterfaceError`` for a connection that broke underneath it). None of
these is the client's fault nor a bug to report as ``internal``: the request failed because a
part the server needs is briefly missing, and the same request will work once it is back. So
each surface answers the same way: the REST API and the pages with HTTP 503 and
``Retry-After`` (``code: unavailable``), the meeting socket with an error reply of code
``unavailable`` (or, when the socket cannot even be admitted, an ``error`` event and close code
4502, after which the client reconnects with backoff). Live calls do not touch the database, so
their media and signaling go on meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse

__all__ = [
    "RETRY_AFTER_SECONDS",
    "UNAVAILABLE",
    "UNAVAILABLE_MESSAGE",
    "OutageMiddleware",
    "is_database_outage",
]

logger = logging.getLogger(__name__)

UNAVAILABLE = "unavailable"
"""The error code of a request refused because the database is unavailable."""

UNAVAILABLE_MESSAGE = "The service is briefly unavailable; try again in a few seconds."

RETRY_AFTER_SECONDS = 5


def _driver_errors() -> tuple[type[BaseException], ...]:
    try:  # PostgreSQL's driver, when installed: errors raised outside Django's wrapper
        import psycopg
    except ImportError:  # pragma: no cover (psycopg is a pinned dependency)
        return ()
    return (psycopg.OperationalError, psycopg.InterfaceError)


_OUTAGE_ERRORS = (OperationalError, InterfaceError, *_driver_errors())


def is_database_outage(error: BaseException) -> bool:
    """Whether ``error`` (or the error it was raised from) says the database is unreachable,
    full or failing, rather than that the request was wrong."""
    seen = 0
    current: BaseException | None = error
    while current is not None and seen < 5:
        if isinstance(current, _OUTAGE_ERRORS):
            return True
        current = current.__cause__ or current.__context__
        seen += 1
    return False


class OutageMiddleware:
    """Turns a database outage raised by a view into 503 with ``Retry-After``: the API's
    ``{"detail", "code": "unavailable"}`` under ``/api/``, a short plain page elsewhere."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> Any:
        """503 for an outage; None (Django's usual handling) for anything else."""
        if not is_database_outage(exception):
            return None
        logger.warning("database unavailable, answered 503 [path:%s]: %s", request.path,
                       exception)
        if request.path.startswith("/api/"):
            response: HttpResponse = JsonResponse(
                {"detail": UNAVAILABLE_MESSAGE, "code": UNAVAILABLE}, status=503)
        else:
            response = HttpResponse(UNAVAILABLE_MESSAGE, status=503,
                                    content_type="text/plain; charset=utf-8")
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
