"""A client of the meeting socket: rtc:* requests matched to replies by requestId, and events.

The protocol is ``rtc/signaling/PROTOCOL.md``: a request ``{type, requestId, data}`` gets one
reply with the same ``requestId`` and either ``data`` or ``error`` and ``code``; everything else
the server pushes is an event ``{type, data}``. One task reads the socket: it resolves pending
requests, keeps every event in :attr:`SignalingClient.events` and hands it to the listeners.
When the socket closes, pending requests fail at once with :class:`SocketClosed` and
:attr:`SignalingClient.closed` resolves with the close code.

A refused connection is accepted and then closed with a 4xxx code; for a join token the server
first sends an ``error`` event saying why (daphne drops close reasons), which
:meth:`SignalingClient.connect` raises as :class:`Refused`.

The same client serves the bots, the tests and the benchmarks (``bench/``), which run hundreds
of them in one process: a client that only needs listeners can skip keeping events
(``keep_events=False``), and ``connect(wait_state=False)`` returns as soon as the socket is
open, as a browser sends its first request without waiting for ``meeting.state``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

__all__ = ["Refused", "SignalingClient", "SignalingError", "SocketClosed", "origin_of"]

logger = logging.getLogger(__name__)

Listener = Callable[[str, dict[str, Any]], None]
"""Called with each event's ``type`` and ``data``, in arrival order."""

ABNORMAL_CLOSURE = 1006


class SignalingError(Exception):
    """An error reply: its ``code`` (``invalid``, ``forbidden``, ...) and the server's message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class SocketClosed(Exception):
    """The socket closed (``close_code``) before the reply came."""

    def __init__(self, close_code: int) -> None:
        super().__init__(f"socket closed ({close_code})")
        self.close_code = close_code


class Refused(Exception):
    """The server would not let this client into the meeting."""

    def __init__(self, close_code: int, code: str = "", reason: str = "") -> None:
        detail = f"{code}: {reason}" if code else "no reason given"
        super().__init__(f"refused with close code {close_code} ({detail})")
        self.close_code = close_code
        self.code = code
        """The refusal's code when the server sent one (``token_expired``, ...)."""
        self.reason = reason


def origin_of(url: str) -> str:
    """The ``Origin`` a browser on the server's own site would send for socket ``url``."""
    parts = urlsplit(url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme, parts.scheme)
    return f"{scheme}://{parts.netloc}"


class SignalingClient:
    """One meeting socket; ``await connect()``, then ``await request(...)``.

    Made inside a running event loop (its :attr:`closed` future belongs to that loop).
    """

    _ids = itertools.count(1)

    def __init__(self, url: str, *, origin: str | None = None, name: str = "bot",
                 timeout: float = 20, compression: str | None = "deflate",
                 ping_interval: float | None = 20, ping_timeout: float | None = 20,
                 keep_events: bool = True) -> None:
        self.url = url
        self.origin = origin or origin_of(url)
        self.name = name
        self.timeout = timeout
        """Seconds a request waits for its reply (and the opening handshake for the socket)."""
        self.compression = compression
        """``websockets``' permessage-deflate setting; ``None`` sends frames uncompressed."""
        self.ping_interval = ping_interval
        """Seconds between keepalive pings; ``None`` sends none."""
        self.ping_timeout = ping_timeout
        """Seconds a ping waits for its pong before the socket is taken for dead and closed
        (1011): how a client notices that its network dropped without a close."""
        self.keep_events = keep_events
        """Whether :attr:`events` keeps every event. ``False`` for long-lived or numerous
        clients that read events through listeners only (:meth:`wait_event` needs them)."""
        self.ws: ClientConnection | None = None
        self.state: dict[str, Any] = {}
        """The ``meeting.state`` pushed on connect."""
        self.events: list[dict[str, Any]] = []
        """Every event received, in order (none when ``keep_events`` is off)."""
        self.closed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        """Resolves with the close code once the socket is closed."""
        self._listeners: list[Listener] = []
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._prefix = re.sub(r"[^A-Za-z0-9_-]", "", name)[:32] or "bot"
        self._reader: asyncio.Task[None] | None = None

    def on_event(self, listener: Listener) -> None:
        """Call ``listener(type, data)`` for every event from now on."""
        self._listeners.append(listener)

    async def connect(self, *, wait_state: bool = True) -> dict[str, Any]:
        """Open the socket; the ``meeting.state`` snapshot, or :class:`Refused`.

        With ``wait_state=False`` it returns ``{}`` once the socket is open, as a browser
        does: ``meeting.state`` (or a refusal's ``error`` event) then arrives as an event, and
        a refusal fails the pending requests with :class:`SocketClosed` (its 4xxx code)."""
        self.ws = await connect(self.url, origin=self.origin, max_size=2**22,  # type: ignore[arg-type]
                                open_timeout=self.timeout, compression=self.compression,
                                ping_interval=self.ping_interval,
                                ping_timeout=self.ping_timeout)
        first = await self._meeting_state() if wait_state else {}
        self._reader = asyncio.get_running_loop().create_task(self._read())
        logger.info("bot %s connected to %s", self.name, self.url.split("?")[0])
        return first

    async def _meeting_state(self) -> dict[str, Any]:
        """Read up to the ``meeting.state`` push (kept in :attr:`state`), or raise Refused."""
        assert self.ws is not None
        error: dict[str, Any] = {}
        try:
            while True:
                first = json.loads(await asyncio.wait_for(self.ws.recv(), self.timeout))
                if first.get("type") == "meeting.state":
                    break
                if first.get("type") == "error":
                    error = first.get("data") or {}
        except ConnectionClosed:
            code = self.ws.close_code or ABNORMAL_CLOSURE
            self.closed.set_result(code)
            raise Refused(code, str(error.get("code", "")), str(error.get("reason", ""))) from None
        self.state = first.get("data", {})
        return first

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for raw in self.ws:
                self._dispatch(json.loads(raw))
        except ConnectionClosed:
            pass
        except Exception:
            logger.exception("bot %s: reading the socket failed", self.name)
            await self.ws.close()
        finally:
            code = self.ws.close_code or ABNORMAL_CLOSURE
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(SocketClosed(code))
            self._pending.clear()
            if not self.closed.done():
                self.closed.set_result(code)
            logger.info("bot %s socket closed code=%s", self.name, code)

    def _dispatch(self, message: dict[str, Any]) -> None:
        request_id = message.get("requestId")
        if "type" not in message and request_id is not None:
            future = self._pending.pop(request_id, None)
            if future is not None and not future.done():
                future.set_result(message)
            return
        if "type" not in message:
            return
        if self.keep_events:
            self.events.append(message)
        for listener in list(self._listeners):
            try:
                listener(message["type"], message.get("data") or {})
            except Exception:
                logger.exception("bot %s: listener failed on %s", self.name, message["type"])

    async def request(self, message_type: str, data: dict[str, Any] | None = None) -> Any:
        """Send a request; its reply's ``data``. Raises :class:`SignalingError` for an error
        reply and :class:`SocketClosed` when the socket closes first."""
        if self.ws is None or self.closed.done():
            raise SocketClosed(self.closed.result() if self.closed.done() else ABNORMAL_CLOSURE)
        request_id = f"{self._prefix}-{next(self._ids)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await self.ws.send(json.dumps({"type": message_type, "requestId": request_id,
                                           "data": data or {}}))
            reply = await asyncio.wait_for(future, self.timeout)
        except ConnectionClosed:
            raise SocketClosed(self.ws.close_code or ABNORMAL_CLOSURE) from None
        finally:
            self._pending.pop(request_id, None)
            if future.done() and not future.cancelled():
                future.exception()  # the reader may fail it while the send fails: retrieved
        if "error" in reply:
            raise SignalingError(str(reply.get("code", "")), str(reply["error"]))
        return reply["data"]

    async def wait_event(self, event_type: str, timeout: float = 20,
                         **match: Any) -> dict[str, Any]:
        """The data of the first event (already received or coming) of ``event_type`` whose
        data has the ``match`` items (``keep_events`` must be on)."""
        if not self.keep_events:
            raise RuntimeError(f"bot {self.name}: wait_event needs keep_events=True")

        def fits(message: dict[str, Any]) -> bool:
            data = message.get("data") or {}
            return message["type"] == event_type and all(data.get(k) == v
                                                         for k, v in match.items())

        async with asyncio.timeout(timeout):
            seen = 0
            while True:
                for message in self.events[seen:]:
                    if fits(message):
                        return message.get("data") or {}
                seen = len(self.events)
                if self.closed.done():
                    raise SocketClosed(self.closed.result())
                await asyncio.sleep(0.02)

    async def close(self) -> None:
        """Close the socket and wait for the reader (idempotent)."""
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
        if not self.closed.done():
            self.closed.set_result(self.ws.close_code if self.ws is not None
                                   and self.ws.close_code else ABNORMAL_CLOSURE)
