"""Who a log line is about: the meeting and peer of the connection being served.

The meeting WebSocket binds ``meeting_id`` (and ``user_id``) when a connection opens and
``peer_id`` once its ``rtc:join`` succeeds. They live in :mod:`contextvars`, so every line logged
while that connection's task runs (its handlers, the RoomService, ORM threads started with
``sync_to_async``, tasks it spawns) carries them without any call site passing them on. Each
connection's consumer runs in its own asyncio task, so connections never see each other's ids.

:class:`ContextFilter` copies the bound ids onto each record (only those that are known);
:class:`JsonFormatter` writes one JSON object per line (``LOG_FORMAT=json``), e.g.::

    {"time": "2025-01-01T12:00:00.123+00:00", "level": "INFO",
     "logger": "rtc.services.media_ops", "message": "transport created [...]",
     "meeting_id": "6f1c...", "peer_id": "0b7e...", "user_id": 12}
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.json import JsonFormatter as _BaseJsonFormatter

__all__ = [
    "CONTEXT_FIELDS",
    "ContextFilter",
    "JsonFormatter",
    "bind",
    "bound",
    "clear",
    "note_reply",
]

_meeting_id: ContextVar[str | None] = ContextVar("log_meeting_id", default=None)
_peer_id: ContextVar[str | None] = ContextVar("log_peer_id", default=None)
_user_id: ContextVar[str | None] = ContextVar("log_user_id", default=None)

_VARS: dict[str, ContextVar[str | None]] = {
    "meeting_id": _meeting_id,
    "peer_id": _peer_id,
    "user_id": _user_id,
}
CONTEXT_FIELDS = tuple(_VARS)
"""The record attributes :class:`ContextFilter` may set."""

_UNSET: Any = object()


def bind(*, meeting_id: Any = _UNSET, peer_id: Any = _UNSET, user_id: Any = _UNSET) -> None:
    """Set ids for the current context (a connection's task); ``None`` forgets one."""
    for name, value in (("meeting_id", meeting_id), ("peer_id", peer_id), ("user_id", user_id)):
        if value is not _UNSET:
            _VARS[name].set(None if value is None else str(value))


def clear() -> None:
    """Forget every id of the current context."""
    for var in _VARS.values():
        var.set(None)


def bound() -> dict[str, str]:
    """The ids known in the current context (unknown ones left out)."""
    return {name: value for name, var in _VARS.items() if (value := var.get()) is not None}


def note_reply(reply: dict[str, Any]) -> None:
    """Learn the connection's peer from the reply it is about to get.

    Called at the socket's dispatch point: an ``rtc:joined`` reply names the peer this
    connection now is; ``rtc:left`` ends it.
    """
    data = reply.get("data")
    if not isinstance(data, dict):
        return
    if data.get("type") == "rtc:joined" and data.get("peerId"):
        bind(peer_id=data["peerId"])
    elif data.get("type") == "rtc:left":
        bind(peer_id=None)


class ContextFilter(logging.Filter):
    """Adds the bound ``meeting_id``/``peer_id``/``user_id`` to each record; never drops one.

    Ids the call site passed itself (``extra={"meeting_id": ...}``) are kept.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in bound().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


class JsonFormatter(_BaseJsonFormatter):
    """One JSON object per line: time (ISO 8601, UTC), level, logger, message, the context ids,
    anything passed in ``extra``, and ``exc_info`` as text when there is an exception."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", "%(levelname)s %(name)s %(message)s")
        kwargs.setdefault("rename_fields", {"levelname": "level", "name": "logger"})
        super().__init__(*args, **kwargs)

    def add_fields(self, log_data: dict[str, Any], record: logging.LogRecord,
                   message_dict: dict[str, Any]) -> None:
        """Put the timestamp first (parsers and humans look for it there)."""
        log_data["time"] = datetime.fromtimestamp(record.created, tz=UTC).isoformat(
            timespec="milliseconds")
        super().add_fields(log_data, record, message_dict)
