"""The channel to one mediasoup-worker process: framing, request/response correlation.

Wire format (mediasoup >= 3.13): each message is a 4-byte little-endian length followed by a
FlatBuffers ``FBS.Message.Message`` whose union holds a Request, Response, Notification or Log.
We write requests on the pipe the worker reads as fd 3 and read everything else from fd 4,
ourselves (``loop.add_reader`` and ``readv`` into one reused buffer) rather than through an
asyncio pipe transport, whose fresh 256 KiB buffer per read costs three system calls.

Guarantees, the ones mediasoup's Node channel gives plus a timeout:

* every request gets an id; its reply resolves the matching future; every request times out;
* closing the channel (or losing the worker) fails every pending request at once;
* notifications are routed by handler id (the target object's id) and delivered with
  ``loop.call_soon``, so the coroutine awaiting a reply that arrived before a notification
  resumes before that notification is dispatched (mediasoup issue #510);
* worker log lines go to Python logging under ``mediasoup_ctl.worker``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct
import time
from collections.abc import Callable
from typing import Any

import flatbuffers.table
from FBS.Log.Log import Log
from FBS.Message.Body import Body as MessageBody
from FBS.Message.Message import Message
from FBS.Notification.Event import Event
from FBS.Notification.Notification import Notification
from FBS.Response.Response import Response

from .channel_messages import MESSAGE_MAX_LEN, METHOD_NAMES, Body, BodyBuilder, MessageWriter
from .errors import ChannelClosedError, InvalidParameterError, RequestTimeoutError, WorkerError
from .fbs_read import Table, root, slots

__all__ = ["Channel", "NotificationHandler", "Reply", "body_of", "body_table", "notification_body",
           "METHOD_NAMES", "EVENT_NAMES", "DEFAULT_TIMEOUT", "MESSAGE_MAX_LEN", "Body",
           "BodyBuilder"]

logger = logging.getLogger(__name__)
worker_logger = logging.getLogger("mediasoup_ctl.worker.log")

DEFAULT_TIMEOUT = 15.0
"""Seconds a request may wait for its reply before it fails with ``RequestTimeoutError``."""

EVENT_NAMES = {v: k for k, v in vars(Event).items() if not k.startswith("_")}

_LEN = struct.Struct("<I")
_READ_SIZE = 256 * 1024
"""Bytes read from the worker's pipe at most at once (asyncio's pipe transports read as much)."""
_CLOCK_RESOLUTION = time.get_clock_info("monotonic").resolution
_MESSAGE = slots(Message)
_RESPONSE = slots(Response)
_LOG = slots(Log)
_NOTIFICATION = slots(Notification)

NotificationHandler = Callable[[int, Notification], None]


class Reply(Response):
    """An accepted reply: the generated ``Response`` plus a fast reader of it (``table``).

    The generated accessors' ``flatbuffers`` table is made only if one of them is used: the
    package reads replies through ``table``, and making it on every reply cost more than
    reading most replies."""

    __slots__ = ("table", "_generated")

    def __init__(self, table: Table) -> None:
        self.table = table

    @property
    def _tab(self) -> flatbuffers.table.Table:
        try:
            return self._generated
        except AttributeError:
            self._generated = flatbuffers.table.Table(self.table.buf, self.table.pos)
            return self._generated

    @_tab.setter
    def _tab(self, value: flatbuffers.table.Table) -> None:  # Init(), as the generated code
        self._generated = value


class _Pending:
    __slots__ = ("request_id", "method", "future", "deadline")

    def __init__(
        self, request_id: int, method: int, future: asyncio.Future[Response] | None
    ) -> None:
        self.request_id = request_id
        self.method = method
        self.future = future
        self.deadline: float | None = None  # loop time; None: nobody waits (request_nowait)


class _WriteProtocol(asyncio.BaseProtocol):
    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:
            logger.debug("write pipe lost: %s", exc)


class Channel:
    """Request/notification channel over the two pipes of a worker process."""

    def __init__(self, *, pid: int, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.pid = pid
        self.timeout = timeout
        self.closed = False
        self._loop = asyncio.get_running_loop()
        self._messages = MessageWriter()
        self._next_id = 0
        self._pending: dict[int, _Pending] = {}
        self._handlers: dict[str, NotificationHandler] = {}
        self._buffer = b""
        self._read_fd: int | None = None
        # Replies are read into this one buffer and copied out at their size: asyncio's pipe
        # transport reads into a fresh 256 KiB ``bytes``, which glibc maps and unmaps on every
        # read (mmap + mremap + munmap and a page fault per reply, about 25 us of CPU here).
        self._read_buffer = bytearray(_READ_SIZE)
        self._read_view = memoryview(self._read_buffer)
        self._writer: asyncio.WriteTransport | None = None
        self._on_lost: Callable[[], None] | None = None
        # One timer for every request's deadline (a TimerHandle per request cost more than
        # the rest of a round trip's bookkeeping): armed at the earliest deadline.
        self._sweeper: asyncio.TimerHandle | None = None

    async def connect(self, *, read_fd: int, write_fd: int, on_lost: Callable[[], None]) -> None:
        """Attach the pipes (parent ends): ``read_fd`` is the worker's fd 4, ``write_fd`` its 3.

        ``on_lost`` is called once if the worker closes its end before we close ours.
        """
        self._on_lost = on_lost
        os.set_blocking(read_fd, False)
        self._read_fd = read_fd
        self._loop.add_reader(read_fd, self._read_ready)
        self._writer, _ = await self._loop.connect_write_pipe(
            _WriteProtocol, os.fdopen(write_fd, "wb", buffering=0)
        )

    # -- subscriptions ------------------------------------------------------------------------

    def subscribe(self, handler_id: str, handler: NotificationHandler) -> None:
        """Route notifications for ``handler_id`` to ``handler(event, notification)``."""
        self._handlers[handler_id] = handler

    def unsubscribe(self, handler_id: str) -> None:
        """Stop routing notifications for ``handler_id`` (no error if absent)."""
        self._handlers.pop(handler_id, None)

    # -- sending ------------------------------------------------------------------------------

    async def request(
        self,
        method: int,
        handler_id: str = "",
        body_type: int = 0,
        body: Body = None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 (a per-request deadline, by design)
    ) -> Response:
        """Send a request and wait for its accepted reply.

        Raises ``WorkerError`` (or ``InvalidParameterError`` for the worker's TypeError) when
        the worker refuses it, ``RequestTimeoutError`` when no reply comes in time, and
        ``ChannelClosedError`` when the channel is or gets closed.
        """
        future: asyncio.Future[Response] = self._loop.create_future()
        pending = self._send_request(method, handler_id, body_type, body, future)
        deadline = self._loop.time() + (self.timeout if timeout is None else timeout)
        pending.deadline = deadline
        sweeper = self._sweeper
        if sweeper is None or deadline < sweeper.when():
            if sweeper is not None:
                sweeper.cancel()
            self._sweeper = self._loop.call_at(deadline, self._sweep)
        return await future

    def request_nowait(
        self, method: int, handler_id: str = "", body_type: int = 0, body: Body = None
    ) -> None:
        """Send a request whose reply nobody waits for (closing requests); failures are logged.

        Does nothing if the channel is closed: then the worker is gone or closing anyway.
        """
        if self.closed:
            return
        try:
            self._send_request(method, handler_id, body_type, body, None)
        except Exception:
            logger.exception("request_nowait failed [pid:%s, method:%s]", self.pid,
                             METHOD_NAMES.get(method))

    def _send_request(
        self,
        method: int,
        handler_id: str,
        body_type: int,
        body: Body,
        future: asyncio.Future[Response] | None,
    ) -> _Pending:
        if self.closed:
            raise ChannelClosedError(
                f"channel closed, cannot send request [method:{METHOD_NAMES.get(method)}]"
            )
        self._next_id = request_id = self._next_id + 1 if self._next_id < 4294967295 else 1
        data = self._messages.request(request_id, method, handler_id, body_type, body)
        pending = _Pending(request_id, method, future)
        self._pending[request_id] = pending
        assert self._writer is not None
        self._writer.write(data)
        return pending

    def notify(self, event: int, handler_id: str, body_type: int = 0, body: Body = None) -> None:
        """Send a notification (no reply): RTP/RTCP/data sent from Python into the worker."""
        if self.closed:
            raise ChannelClosedError(
                f"channel closed, cannot send notification [event:{EVENT_NAMES.get(event)}]"
            )
        data = self._messages.notification(event, handler_id, body_type, body)
        if len(data) > MESSAGE_MAX_LEN:
            raise InvalidParameterError(f"notification too big [event:{EVENT_NAMES.get(event)}]")
        assert self._writer is not None
        self._writer.write(data)

    def _sweep(self) -> None:
        """Fail the requests whose deadline has passed; re-arm for the next deadline."""
        self._sweeper = None
        now = self._loop.time() + _CLOCK_RESOLUTION  # as the loop decides a timer is due
        expired = [p for p in self._pending.values()
                   if p.deadline is not None and p.deadline <= now]
        for pending in expired:
            self._expire(pending)
        deadlines = [p.deadline for p in self._pending.values() if p.deadline is not None]
        if deadlines and not self.closed:
            self._sweeper = self._loop.call_at(min(deadlines), self._sweep)

    def _expire(self, pending: _Pending) -> None:
        if self._pending.get(pending.request_id) is pending:
            del self._pending[pending.request_id]
        name = METHOD_NAMES.get(pending.method, str(pending.method))
        logger.error("request timed out [pid:%s, method:%s]", self.pid, name)
        if pending.future is not None and not pending.future.done():
            pending.future.set_exception(RequestTimeoutError(name, "no reply from the worker"))

    # -- receiving ----------------------------------------------------------------------------

    def _read_ready(self) -> None:
        """The worker's pipe is readable: read what is there and process whole messages."""
        try:
            size = os.readv(self._read_fd, (self._read_buffer,))  # type: ignore[arg-type]
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._read_lost(exc)
            return
        if not size:  # end of file: the worker closed its end (it exited)
            self._read_lost(None)
            return
        self._data_received(self._read_view[:size].tobytes())

    def _data_received(self, data: bytes) -> None:
        buf = self._buffer + data if self._buffer else data
        size = len(buf)
        start = 0
        while size - start >= 4:
            (length,) = _LEN.unpack_from(buf, start)
            end = start + 4 + length
            if end > size:
                break
            try:
                self._process(buf, root(buf, start + 4))
            except Exception:
                logger.exception("invalid message from the worker [pid:%s]", self.pid)
            start = end
        self._buffer = buf[start:] if start < size else b""

    def _process(self, buf: bytes, message: Table) -> None:
        kind = message.u8(_MESSAGE.DataType)
        table = message.table(_MESSAGE.Data)
        if table is None:
            logger.warning("message without data [pid:%s]", self.pid)
        elif kind == MessageBody.Response:
            self._process_response(table)
        elif kind == MessageBody.Notification:
            notification = Notification()
            notification.Init(buf, table.pos)
            self._loop.call_soon(self._dispatch, table.str(_NOTIFICATION.HandlerId, ""),
                                 table.u8(_NOTIFICATION.Event), notification)
        elif kind == MessageBody.Log:
            self._process_log(table.str(_LOG.Data, "", "replace"))
        else:
            logger.warning("unexpected message type %s [pid:%s]", kind, self.pid)

    def _process_response(self, table: Table) -> None:
        request_id = table.u32(_RESPONSE.Id)
        pending = self._pending.pop(request_id, None)
        if pending is None:
            logger.error("reply matches no request [pid:%s, id:%s]", self.pid, request_id)
            return
        future = pending.future
        if table.bool(_RESPONSE.Accepted):
            if future is not None and not future.done():
                future.set_result(Reply(table))
            return
        name = METHOD_NAMES.get(pending.method, str(pending.method))
        error = table.str(_RESPONSE.Error) or "Error"
        reason = table.str(_RESPONSE.Reason) or ""
        if future is None:
            logger.debug("request failed [pid:%s, method:%s]: %s", self.pid, name, reason)
            return
        logger.warning("request failed [pid:%s, method:%s]: %s", self.pid, name, reason)
        if not future.done():
            if error == "TypeError":
                future.set_exception(InvalidParameterError(f"{name}: {reason}"))
            else:
                future.set_exception(WorkerError(name, reason))

    def _dispatch(self, handler_id: str, event: int, notification: Notification) -> None:
        handler = self._handlers.get(handler_id)
        if handler is None:
            return
        try:
            handler(event, notification)
        except Exception:
            logger.exception(
                "notification handler raised [pid:%s, handler:%s, event:%s]",
                self.pid, handler_id, EVENT_NAMES.get(event),
            )

    def _process_log(self, line: str) -> None:
        if not line:
            return
        kind, text = line[0], line[1:]
        if kind == "D":
            worker_logger.debug("[pid:%s] %s", self.pid, text)
        elif kind == "W":
            worker_logger.warning("[pid:%s] %s", self.pid, text)
        elif kind == "E":
            worker_logger.error("[pid:%s] %s", self.pid, text)
        else:  # 'X': a dump line
            worker_logger.info("[pid:%s] %s", self.pid, text)

    def _read_lost(self, exc: Exception | None) -> None:
        if self.closed:
            return
        logger.debug("worker closed its channel [pid:%s, error:%s]", self.pid, exc)
        self.close()
        if self._on_lost is not None:
            self._on_lost()

    # -- closing ------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the pipes and fail every pending request at once (idempotent)."""
        if self.closed:
            return
        self.closed = True
        pending, self._pending = self._pending, {}
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for request_id, entry in pending.items():
            if entry.future is not None and not entry.future.done():
                name = METHOD_NAMES.get(entry.method, str(entry.method))
                entry.future.set_exception(ChannelClosedError(
                    f"channel closed, pending request aborted [method:{name}, id:{request_id}]"
                ))
        self._handlers.clear()
        if self._read_fd is not None:
            self._loop.remove_reader(self._read_fd)
            os.close(self._read_fd)
            self._read_fd = None
        if self._writer is not None:
            self._writer.close()


def body_of(response: Response, cls: type[Any]) -> Any:
    """The response body read as ``cls`` (a generated FlatBuffers table class), or None."""
    table = body_table(response)
    if table is None:
        return None
    obj = cls()
    obj.Init(table.buf, table.pos)
    return obj


def body_table(response: Response) -> Table | None:
    """The response body as a fast :class:`~.fbs_read.Table`, or None."""
    if isinstance(response, Reply):
        return response.table.table(_RESPONSE.Body)
    body = response.Body()
    return None if body is None else Table(body.Bytes, body.Pos)


def reply_body(response: Response) -> Table:
    """The body of a reply whose method always answers with one (dumps, creations)."""
    table = body_table(response)
    if table is None:
        raise WorkerError("reply", "the worker answered without the body this request has")
    return table


def notification_body(notification: Notification, cls: type[Any]) -> Any:
    """The notification body read as ``cls``, or None."""
    table = notification.Body()
    if table is None:
        return None
    obj = cls()
    obj.Init(table.Bytes, table.Pos)
    return obj
