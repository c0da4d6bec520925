"""The application's one error type, and the DRF exception handler that maps it to responses.

Services and selectors raise `ApplicationError` with a short, safe message and a machine code;
the API turns it into `{"detail": message, "code": code}` with the code's HTTP status and the
WebSocket consumer turns it into an error reply. Nothing else needs to know about HTTP.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler

__all__ = [
    "ApplicationError",
    "ErrorCode",
    "api_exception_handler",
    "page_not_found",
    "server_error",
]

API_PREFIX = "/api/"


class ErrorCode(StrEnum):
    """Machine-readable error codes shared by the REST API and the WebSocket."""

    INVALID = "invalid"
    NOT_AUTHENTICATED = "not_authenticated"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    CONFLICT = "conflict"
    GONE = "gone"
    FULL = "full"


HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.INVALID: status.HTTP_400_BAD_REQUEST,
    ErrorCode.NOT_AUTHENTICATED: status.HTTP_401_UNAUTHORIZED,
    ErrorCode.FORBIDDEN: status.HTTP_403_FORBIDDEN,
    ErrorCode.NOT_FOUND: status.HTTP_404_NOT_FOUND,
    ErrorCode.CONFLICT: status.HTTP_409_CONFLICT,
    ErrorCode.GONE: status.HTTP_410_GONE,
    ErrorCode.FULL: status.HTTP_409_CONFLICT,
}


class ApplicationError(Exception):
    """A business-rule failure whose message is safe to show to the caller."""

    def __init__(
        self,
        message: str,
        *,
        code: ErrorCode = ErrorCode.INVALID,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = ErrorCode(code)
        self.extra = extra or {}

    @property
    def http_status(self) -> int:
        """The HTTP status the API answers this error with."""
        return HTTP_STATUS[self.code]

    def as_dict(self) -> dict[str, Any]:
        """The error as the API and the WebSocket show it."""
        return {"detail": self.message, "code": str(self.code), **self.extra}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus `ApplicationError` mapped to its status and `{detail, code}` body."""
    if isinstance(exc, ApplicationError):
        return Response(exc.as_dict(), status=exc.http_status)
    return exception_handler(exc, context)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler404``: under ``/api/`` a path no route matches (e.g. a malformed id) answers in
    the API's error shape, like every other API error; elsewhere Django's page."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": "Not found.", "code": str(ErrorCode.NOT_FOUND)},
                            status=status.HTTP_404_NOT_FOUND)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: under ``/api/`` a JSON body with no details; elsewhere Django's page."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": "Internal error.", "code": "internal"},
                            status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    return defaults.server_error(request)
