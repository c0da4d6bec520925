"""The meeting socket's frames and requests, from the consumer's ``receive`` and
``receive_json`` hooks.

A frame is counted against the socket's one rate limit first (its session's
`rtc.websocket.rate.SocketRate`; a flood is cut off with 4429 before the frame is even
decoded), then size-checked and decoded. A request is a validated envelope dispatched through
`rtc.websocket.envelope.registry`, after its session counted it (``rtc:leave``/``rtc:join`` noted, a
route's request budget taken); anything malformed, unknown or over the rate gets an error
reply with its requestId, never a crash and never internal details.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from conference import log_context
from conference.errors import ApplicationError, ErrorCode
from conference.outage import UNAVAILABLE_MESSAGE, is_database_outage
from rtc.operations import metrics
from rtc.websocket import frame_json
from rtc.websocket.envelope import (
    CloseCode,
    ProtocolError,
    error_reply,
    max_message_chars,
    parse_envelope,
    request_id_of,
    success_reply,
)

if TYPE_CHECKING:
    from rtc.websocket.consumer import MeetingConsumer

__all__ = ["decode_frame", "is_request", "serve_request"]

logger = logging.getLogger(__name__)

_NOTHING = object()


async def decode_frame(conn: MeetingConsumer, text_data: str | None,
                       bytes_data: bytes | None) -> Any:
    """Rate-limit, size-check and decode a frame: its JSON content, or ``_NOTHING`` when the
    frame was answered here (an error reply) or cut the socket off. Errors get a reply, not a
    closed socket, unless the client keeps flooding (`SocketSession.take_frame`)."""
    allowed = conn.session.take_frame()
    if allowed is None:
        logger.warning("meeting=%s user=%s cut off: flooding the socket", conn.meeting_id,
                       conn.user.pk)
        await conn.leave_and_close(CloseCode.TOO_MANY_REQUESTS)
        return _NOTHING
    if text_data is None:
        await conn.send_reply(
            error_reply(None, "Binary frames are not supported.", ErrorCode.INVALID))
        return _NOTHING
    if len(text_data) > max_message_chars():
        await conn.send_reply(error_reply(None, "Message too large.", ErrorCode.INVALID))
        return _NOTHING
    try:
        content = frame_json.loads(text_data)
    except ValueError:  # frame_json.DecodeError, absurdly deep nesting included
        await conn.send_reply(error_reply(frame_json.request_id_of_refused(text_data),
                                         "Malformed JSON.", ErrorCode.INVALID))
        return _NOTHING
    if not allowed:
        await conn.send_reply(error_reply(
            request_id_of(content), "Too many messages, slow down.", ErrorCode.LIMIT))
        return _NOTHING
    return content


def is_request(content: Any) -> bool:
    """Whether :func:`decode_frame` handed over something to serve."""
    return content is not _NOTHING


async def serve_request(conn: MeetingConsumer, content: Any) -> None:
    """Validate the envelope, count it, dispatch it to the registered handler, reply."""
    registry = conn.registry
    try:
        request = parse_envelope(content, known_types=registry.types)
    except ProtocolError as error:
        await conn.send_reply(error_reply(error.request_id, error.message, str(error.code)))
        return
    conn.session.note_request(request.type)
    handler = registry.get(request.type)
    if handler is None:  # unregistered between validation and dispatch
        await conn.send_reply(
            error_reply(request.request_id, "Unknown message type.", ErrorCode.UNKNOWN_TYPE))
        return
    started = time.perf_counter()
    try:
        conn.session.take_request(request.type)
        data = await handler(conn, request)
    except ApplicationError as error:
        reply = error_reply(request.request_id, error.message, str(error.code))
    except Exception as error:
        if is_database_outage(error):
            logger.warning("meeting=%s user=%s %s: database unavailable: %s",
                           conn.meeting_id, conn.user.pk, request.type, error)
            reply = error_reply(request.request_id, UNAVAILABLE_MESSAGE, ErrorCode.UNAVAILABLE)
        else:
            logger.exception("meeting=%s user=%s handler for %s failed", conn.meeting_id,
                             conn.user.pk, request.type)
            reply = error_reply(request.request_id, "Internal error.", ErrorCode.INTERNAL)
    else:
        reply = success_reply(request.request_id, data or {})
        conn.session.note_answered(request.type, data)
    metrics.observe_request(request.type, reply, time.perf_counter() - started)
    log_context.note_reply(reply)
    await conn.send_reply(reply)
