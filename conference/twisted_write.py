"""Twisted TCP connections (daphne's sockets) that send a frame at once when nothing is queued,
and send the frames that follow it in the same turn of the event loop together.

Twisted's ``FileDescriptor.write`` only ever buffers: it registers the socket for writability
(``epoll_ctl``), the reactor's next turn finds it writable, sends, and unregisters it again
(another ``epoll_ctl``). For every WebSocket frame daphne sends (about 37 per peer in the
call set-up of bench/signaling.py) that is two system calls, one more turn of the event loop
and Twisted's logging context around the ``doWrite``: the largest single cost of the event
loop in a burst of 200 joins (bench/README.md, call set-up). asyncio's own transports, and
Node's sockets, try the ``send`` first and buffer only what the kernel did not take;
:func:`install` makes Twisted's plain TCP connections do the same.

Then a ``send`` per frame was the loop's largest cost (11 % of it in a burst of 200 joins on
PostgreSQL + Redis, about 20 us a call here): a socket often gets several frames in one turn
(a batch of joins committed: its meeting's ``meeting.participantJoined`` one after the other;
a reply and the events its request sent). So the first frame of a turn goes at once (a reply
waits for nothing), and the frames written to the same connection in the rest of that turn
wait in Twisted's own buffer, without registering for writability, until a callback at the end
of the turn sends them in one ``send`` (in the burst: 7,800 sends became about 4,000). Anything
Twisted does meanwhile (``loseConnection``, ``writeSequence``, a write it buffers) finds them
in its buffer, in order, and sends them itself. A reply waits for nothing: a write made
:func:`urgently` (the meeting socket's replies) sends what the turn queued with it at once;
in a burst the end of a turn can be tens of milliseconds away, and the client's next request
waits for the reply.

The shortcut is taken only when the write could not change what the buffered path does: a
plain (not TLS) connection that is connected, not closing, with nothing buffered. A partial
send buffers the rest through Twisted's own ``write`` (so ordering, producers and
``loseConnection`` work as before); a failed send (the peer gone) hands the whole frame to
that path too, whose ``doWrite`` then finds the error and closes the connection the usual way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["install", "urgently"]

_installed = False
_urgent: ContextVar[bool] = ContextVar("urgent_write", default=False)


@contextmanager
def urgently() -> Iterator[None]:
    """The writes made inside go out at once (with the frames their turn queued before them
    on the same connection), not at the end of the turn."""
    token = _urgent.set(True)
    try:
        yield
    finally:
        _urgent.reset(token)


def install() -> None:
    """Patch ``twisted.internet.tcp.Connection.write`` (idempotent)."""
    global _installed
    if _installed:
        return
    from twisted.internet import tcp

    buffered = tcp.Connection.write

    def send_now(self: Any, data: bytes) -> bool:
        """Send ``data``; what the kernel did not take goes to Twisted's buffered path.
        True when all of it went."""
        sent = self.writeSomeData(data)
        if isinstance(sent, Exception) or sent <= 0:
            buffered(self, data)
            return False
        if sent < len(data):
            buffered(self, data[sent:])
            return False
        return True

    def flush(self: Any) -> None:
        """The end of the turn: send what the turn's later writes left in the buffer."""
        self._coalescing = False
        send_pending(self)

    def send_pending(self: Any) -> None:
        pending = self._tempDataBuffer
        if not pending or not self.connected:
            return
        if (self.disconnecting or self._writeDisconnected or self._writeDisconnecting
                or self.offset < len(self.dataBuffer)):
            self.startWriting()  # Twisted's own path sends it (already registered: no-op)
            return
        self._tempDataBuffer = []
        self._tempDataLen = 0
        send_now(self, pending[0] if len(pending) == 1 else b"".join(pending))

    def write(self: Any, data: bytes) -> None:
        if self._coalescing and type(data) is bytes and self.connected:
            if data and not self._writeDisconnected:
                self._tempDataBuffer.append(data)
                self._tempDataLen += len(data)
                if _urgent.get():
                    send_pending(self)
            return
        if (self.TLS or not self.connected or self.disconnecting or self._writeDisconnected
                or self._tempDataBuffer or self.offset < len(self.dataBuffer)
                or type(data) is not bytes or not data):
            buffered(self, data)
            return
        if not send_now(self, data):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # a reactor that is not asyncio's: no turn to wait for
            return
        self._coalescing = True
        loop.call_soon(flush, self)

    write.__doc__ = ("Send at once when nothing is buffered; later writes of the same turn "
                     "together at its end; else Twisted's buffered write.")
    tcp.Connection._coalescing = False
    tcp.Connection.write = write
    _installed = True
