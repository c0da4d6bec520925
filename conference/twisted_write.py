"""Twisted TCP connections (daphne's sockets) that send a frame at once when nothing is queued.

Twisted's ``FileDescriptor.write`` only ever buffers: it registers the socket for writability
(``epoll_ctl``), the reactor's next turn finds it writable, sends, and unregisters it again
(another ``epoll_ctl``). For every WebSocket frame daphne sends (about 37 per peer in the
call set-up of bench/signaling.py) that is two system calls, one more turn of the event loop
and Twisted's logging context around the ``doWrite``: the largest single cost of the event
loop in a burst of 200 joins (bench/README.md, call set-up). asyncio's own transports, and
Node's sockets, try the ``send`` first and buffer only what the kernel did not take;
:func:`install` makes Twisted's plain TCP connections do the same.

The shortcut is taken only when the write could not change what the buffered path does: a
plain (not TLS) connection that is connected, not closing, with nothing buffered. A partial
send buffers the rest through Twisted's own ``write`` (so ordering, producers and
``loseConnection`` work as before); a failed send (the peer gone) hands the whole frame to
that path too, whose ``doWrite`` then finds the error and closes the connection the usual way.
"""

from __future__ import annotations

from typing import Any

__all__ = ["install"]

_installed = False


def install() -> None:
    """Patch ``twisted.internet.tcp.Connection.write`` (idempotent)."""
    global _installed
    if _installed:
        return
    from twisted.internet import tcp

    buffered = tcp.Connection.write

    def write(self: Any, data: bytes) -> None:
        if (self.TLS or not self.connected or self.disconnecting or self._writeDisconnected
                or self._tempDataBuffer or self.offset < len(self.dataBuffer)
                or type(data) is not bytes or not data):
            buffered(self, data)
            return
        sent = self.writeSomeData(data)
        if isinstance(sent, Exception) or sent <= 0:
            buffered(self, data)
        elif sent < len(data):
            buffered(self, data[sent:])

    write.__doc__ = "Send at once when nothing is buffered, else Twisted's buffered write."
    tcp.Connection.write = write
    _installed = True
