"""A batch of attendance writes that failed as a whole, tried again one request at a time.

`meetings.joins` and `meetings.leaves` write many requests in one transaction. When that
transaction fails (a row created meanwhile by another writer, a deadlock, one row breaking a
constraint) the other requests must not pay for one request's conflict, so each is tried
again alone, and each gets its own outcome. When the database itself is unavailable, trying
each again would only wait for it once more per request: the error goes to every caller at
once (each keeps or refuses its request as it does for an outage).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TypeVar

from conference.outage import is_database_outage

__all__ = ["together_or_alone"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


def together_or_alone(run: Callable[[Sequence[T]], list[R]], requests: Sequence[T], *,
                      what: str) -> list[R | Exception]:
    """``run(requests)``, the outcome of each request in order; if it raises, ``run`` of each
    request alone, its exception as that request's outcome. A lone request's failure, or the
    database unavailable, is raised. ``what`` names the requests in the log ("joins")."""
    if not requests:
        return []
    try:
        return list(run(requests))
    except Exception as error:
        if len(requests) == 1 or is_database_outage(error):
            raise
        logger.warning("a batch of %d %s failed; each is tried alone", len(requests), what,
                       exc_info=True)
    outcomes: list[R | Exception] = []
    for request in requests:
        try:
            outcomes.extend(run([request]))
        except Exception as error:
            outcomes.append(error)
    return outcomes
