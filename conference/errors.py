"""The application's one error type and one code enum, and the DRF exception handler that maps
it to responses.

Services, selectors and the meeting socket's handlers raise `ApplicationError` (or its
socket-flavoured subclasses `rtc.signaling.errors.SignalingError` and
`rtc.websocket.envelope.ProtocolError`) with a short, safe message and an `ErrorCode`. Only the
edges translate it: the API into `{"detail": message, "code": code}` with the code's HTTP status,
the meeting socket into an error reply (or, on connect, a close code). Nothing else needs to
know about HTTP or WebSocket codes.
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
    """Every machine-readable error code of the application: the REST API's ``code``, the
    meeting socket's error replies and its ``error`` events. The one enum; the edges map it
    (HTTP status: :data:`HTTP_STATUS`; close code: `rtc.websocket.envelope.close_code_for`)."""

    INVALID = "invalid"
    """Malformed data; not joined yet; joined already; wrong transport direction; own
    producer consumed; RTP parameters or capabilities the router cannot use; a request the
    worker refused."""
    NOT_AUTHENTICATED = "not_authenticated"
    """Not signed in, or the join token is invalid or expired."""
    FORBIDDEN = "forbidden"
    """Not the host (host requests); not staff (`rtc:serverStats`); another peer's producer;
    removed by the host from this call; meeting ended or not invited; a join token's grants
    do not allow it."""
    NOT_FOUND = "not_found"
    """An id that is not this peer's (transports, consumers) or not in this call (producers,
    peers): ids of other meetings look like ids of nothing; a resume that does not match."""
    CONFLICT = "conflict"
    """The state does not allow it: `rtc:startRecording` / `rtc:stopRecording` when the
    recording state does not allow it (already recording, nothing recorded, meeting ended,
    too little disk space)."""
    GONE = "gone"
    """The meeting has ended (chat or whiteboard change; HTTP 410)."""
    FULL = "full"
    """The meeting is full when the socket connects (closed with 4409). Kept apart from
    ``room_full``: clients see each on its own path (connect vs `rtc:join`)."""
    ROOM_FULL = "room_full"
    """`rtc:join` when the call has `min(meeting.capacity, MAX_PEERS_PER_MEETING)` peers."""
    LIMIT = "limit"
    """A per-peer or per-meeting limit, the request or frame rate, or every worker at
    `MAX_ROOMS_PER_WORKER`."""
    UNKNOWN_TYPE = "unknown_type"
    """A request type the server does not know."""
    UNAVAILABLE = "unavailable"
    """The database is briefly unavailable: the same request works again once it is back
    (an `error` event before close 4502 on connect)."""
    INTERNAL = "internal"
    """Anything unexpected (the message never carries details)."""
    TOO_MANY_SOCKETS = "too_many_sockets"
    """`error` event before close 4430: the user or address holds too many meeting sockets."""
    SERVER_BUSY = "server_busy"
    """`error` event before close 4529, with `retryAfter` seconds."""

    # A join token refused when the socket connects (`error` event, then close 4401; 4403 for
    # the two that concern the meeting, 4410 for an ended one): `integrations.tokens`.
    TOKEN_MALFORMED = "token_malformed"
    """Not a join token, or one without the claims it needs."""
    TOKEN_EXPIRED = "token_expired"
    """The join token's ``exp`` has passed."""
    TOKEN_NOT_YET_VALID = "token_not_yet_valid"
    """The join token's ``nbf`` or ``iat`` lies in the future."""
    TOKEN_BAD_SIGNATURE = "token_bad_signature"
    """The join token's signature does not match its key."""
    TOKEN_UNKNOWN_KEY = "token_unknown_key"
    """The join token names a key no integration has."""
    INTEGRATION_REVOKED = "integration_revoked"
    """The integration that signed the join token is revoked."""
    TOKEN_REVOKED = "token_revoked"
    """This join token was revoked."""
    TOKEN_WRONG_MEETING = "token_wrong_meeting"
    """The join token is for another meeting."""
    MEETING_NOT_OWNED = "meeting_not_owned"
    """The meeting is not one of the signing integration's."""
    MEETING_ENDED = "meeting_ended"
    """The join token's meeting has ended."""
    TOKEN_UNSUPPORTED = "token_unsupported"
    """Join tokens are turned off on this server."""


HTTP_STATUS: dict[ErrorCode, int] = {
    ErrorCode.INVALID: status.HTTP_400_BAD_REQUEST,
    ErrorCode.NOT_AUTHENTICATED: status.HTTP_401_UNAUTHORIZED,
    ErrorCode.FORBIDDEN: status.HTTP_403_FORBIDDEN,
    ErrorCode.NOT_FOUND: status.HTTP_404_NOT_FOUND,
    ErrorCode.CONFLICT: status.HTTP_409_CONFLICT,
    ErrorCode.GONE: status.HTTP_410_GONE,
    ErrorCode.FULL: status.HTTP_409_CONFLICT,
    ErrorCode.ROOM_FULL: status.HTTP_409_CONFLICT,
    ErrorCode.LIMIT: status.HTTP_429_TOO_MANY_REQUESTS,
    ErrorCode.UNKNOWN_TYPE: status.HTTP_400_BAD_REQUEST,
    ErrorCode.UNAVAILABLE: status.HTTP_503_SERVICE_UNAVAILABLE,
    ErrorCode.INTERNAL: status.HTTP_500_INTERNAL_SERVER_ERROR,
    ErrorCode.TOO_MANY_SOCKETS: status.HTTP_429_TOO_MANY_REQUESTS,
    ErrorCode.SERVER_BUSY: status.HTTP_503_SERVICE_UNAVAILABLE,
    ErrorCode.TOKEN_MALFORMED: status.HTTP_401_UNAUTHORIZED,
    ErrorCode.TOKEN_EXPIRED: status.HTTP_401_UNAUTHORIZED,
    ErrorCode.TOKEN_NOT_YET_VALID: status.HTTP_401_UNAUTHORIZED,
    ErrorCode.TOKEN_BAD_SIGNATURE: status.HTTP_401_UNAUTHORIZED,
    ErrorCode.TOKEN_UNKNOWN_KEY: status.HTTP_401_UNAUTHORIZED,
    ErrorCode.INTEGRATION_REVOKED: status.HTTP_401_UNAUTHORIZED,
    ErrorCode.TOKEN_REVOKED: status.HTTP_401_UNAUTHORIZED,
    ErrorCode.TOKEN_WRONG_MEETING: status.HTTP_403_FORBIDDEN,
    ErrorCode.MEETING_NOT_OWNED: status.HTTP_403_FORBIDDEN,
    ErrorCode.MEETING_ENDED: status.HTTP_410_GONE,
    ErrorCode.TOKEN_UNSUPPORTED: status.HTTP_401_UNAUTHORIZED,
}
"""The HTTP status of each code (the API's edge)."""


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
