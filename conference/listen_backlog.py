"""daphne's listening socket with a queue that holds a meeting's start: :func:`install`.

daphne listens through Twisted's endpoint strings (``-b``/``-p`` become
``tcp:port=…:interface=…``), and Twisted gives every such socket a listen queue of 50
connections. When a few hundred people open their meeting in the same second, the connections
the event loop has not accepted yet overflow that queue and the kernel drops their handshakes;
each such client's TCP stack tries again a second later (its first SYN retransmission). In a
burst of 500 users on this machine 30 sockets arrived a whole second late that way and set the
burst's wall time and its ``rtc:join`` p99 (bench/README.md, call set-up, "Session 19").
Node's servers listen with a queue of 511.

:func:`install` makes every TCP socket Twisted listens on in this process ask for at least
``settings.LISTEN_BACKLOG`` (the kernel caps it at ``net.core.somaxconn``, 4096 on current
Linux), however daphne was started; an endpoint given a larger ``backlog=`` keeps it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["install"]

_installed = False
_backlog = 0


def install(backlog: int) -> None:
    """Patch ``twisted.internet.tcp.Port.startListening`` (idempotent; the last call's
    ``backlog`` counts)."""
    global _installed, _backlog
    _backlog = backlog
    if _installed:
        return
    from twisted.internet import tcp

    original = tcp.Port.startListening

    def startListening(self: Any) -> Any:  # noqa: N802 (Twisted's name)
        self.backlog = max(self.backlog, _backlog)
        return original(self)

    tcp.Port.startListening = startListening  # type: ignore[method-assign]
    _installed = True
