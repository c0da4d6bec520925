"""The error every meeting-socket request can fail with, in the socket's calling convention.

`SignalingError` *is* the application's one error (`conference.errors.ApplicationError`,
with the one `ErrorCode` enum, re-exported here): only its constructor reads in the order
the socket's code has always used, ``SignalingError(code, message)``. The consumer turns it
into the reply ``{"requestId": ..., "error": message, "code": code}``; the REST API's DRF
handler into its HTTP status. The message is written for the client (short, no ids of other
meetings, no paths, no tracebacks). Anything else that escapes a handler is logged and
answered with code ``internal`` and a fixed message.
"""

from __future__ import annotations

from conference.errors import ApplicationError, ErrorCode

__all__ = ["ErrorCode", "SignalingError"]


class SignalingError(ApplicationError):
    """A request failure whose message is safe to send to the client."""

    def __init__(self, code: ErrorCode | str, message: str) -> None:
        super().__init__(message, code=ErrorCode(code))

    def __repr__(self) -> str:
        return f"SignalingError({self.code.value!r}, {self.message!r})"

    def reply(self, request_id: object) -> dict[str, object]:
        """The error reply for the request with ``request_id``."""
        return {"requestId": request_id, "error": self.message, "code": self.code.value}
