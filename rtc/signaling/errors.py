"""The error every rtc:* request can fail with, and its machine-readable codes.

A handler or a service raises :class:`SignalingError`; the consumer turns it into the reply
``{"requestId": ..., "error": message, "code": code}``. The message is written for the client
(short, no ids of other meetings, no paths, no tracebacks). Anything else that escapes a handler
is logged and answered with code ``internal`` and a fixed message.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ErrorCode", "SignalingError"]


class ErrorCode(StrEnum):
    """Codes a client can branch on; the message is for people."""

    INVALID = "invalid"
    """The request is malformed, out of range, or not allowed in the peer's current state."""
    FORBIDDEN = "forbidden"
    """The caller may not do this (not the host, not a member, another peer's object)."""
    NOT_FOUND = "not_found"
    """A named id does not exist in this meeting (ids of other meetings look the same)."""
    ROOM_FULL = "room_full"
    """The meeting already has as many peers as its capacity allows."""
    LIMIT = "limit"
    """A configured limit was reached: rate, transports, producers, consumers, routers."""
    UNKNOWN_TYPE = "unknown_type"
    """The request type is not an rtc:* request this server knows."""
    INTERNAL = "internal"
    """The server failed; the client may retry or reconnect."""


class SignalingError(Exception):
    """A request failure whose message is safe to send to the client."""

    def __init__(self, code: ErrorCode | str, message: str) -> None:
        super().__init__(message)
        self.code = ErrorCode(code)
        self.message = message

    def __repr__(self) -> str:
        return f"SignalingError({self.code.value!r}, {self.message!r})"

    def reply(self, request_id: object) -> dict[str, object]:
        """The error reply for the request with ``request_id``."""
        return {"requestId": request_id, "error": self.message, "code": self.code.value}
