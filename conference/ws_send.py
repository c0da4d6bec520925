"""Sending a WebSocket message from daphne as one frame built in one step.

Every message a consumer sends goes daphne's ``serverSend`` → autobahn's ``sendMessage``
(type assertions, compression and fragmentation choices) → ``sendFrame`` (the header built
bit by bit, masking choices, frame logging) → ``sendData`` (a send queue, a debug log whose
arguments are formatted for every call) → the transport: about 30 frames a peer in the call
set-up of bench/signaling.py, 5 % of the event loop in a burst of 200 joins with the
transport's own write excluded. :func:`install` makes daphne's ``serverSend`` write the frame
itself when nothing about the connection asks for more than the plain case: an open
connection, no compression negotiated, no automatic fragmentation, no server masking, no
frame or octet logging, no timing, nothing queued by ``sendData`` ahead of it and a payload
within the protocol's limit. The bytes written and autobahn's traffic counters are those
autobahn's own path gives (tests/conference/test_ws_send.py compares them); any other case
takes daphne's path unchanged.
"""

from __future__ import annotations

import struct
from typing import Any

__all__ = ["daphne_server_send", "frame", "install"]

_installed = False

daphne_server_send: Any = None
"""daphne's own ``serverSend`` (after :func:`install`), which every other case takes."""

_SHORT = struct.Struct("!BB")
_MEDIUM = struct.Struct("!BBH")
_LONG = struct.Struct("!BBQ")


def frame(payload: bytes, *, binary: bool) -> bytes:
    """One final, unmasked, uncompressed WebSocket frame carrying ``payload`` (RFC 6455 § 5.2)."""
    first = 0x82 if binary else 0x81
    size = len(payload)
    if size <= 125:
        return _SHORT.pack(first, size) + payload
    if size <= 0xFFFF:
        return _MEDIUM.pack(first, 126, size) + payload
    return _LONG.pack(first, 127, size) + payload


def _plain(protocol: Any, size: int) -> bool:
    """Whether autobahn would send this message as one plain frame written at once."""
    return (protocol.state == protocol.STATE_OPEN and protocol._perMessageCompress is None
            and not protocol.trackedTimings and not protocol.send_queue
            and not protocol.autoFragmentSize and not protocol.maskServerFrames
            and not protocol.logFrames and not protocol.logOctets
            and not 0 < protocol.maxMessagePayloadSize < size)


def install() -> None:
    """Patch ``daphne.ws_protocol.WebSocketProtocol.serverSend`` (idempotent)."""
    global _installed, daphne_server_send
    if _installed:
        return
    from daphne.ws_protocol import WebSocketProtocol

    server_send = daphne_server_send = WebSocketProtocol.serverSend

    def serverSend(self: Any, content: Any, binary: bool = False) -> None:  # noqa: N802
        payload = content if binary else content.encode("utf8")
        if type(payload) is not bytes or not _plain(self, len(payload)):
            server_send(self, content, binary)
            return
        data = frame(payload, binary=binary)
        stats = self.trafficStats
        stats.outgoingWebSocketMessages += 1
        stats.outgoingWebSocketFrames += 1
        stats.outgoingOctetsAppLevel += len(payload)
        stats.outgoingOctetsWebSocketLevel += len(payload)
        stats.outgoingOctetsWireLevel += len(data)
        self.transport.write(data)

    serverSend.__doc__ = "One frame written at once in the plain case, else daphne's send."
    WebSocketProtocol.serverSend = serverSend
    _installed = True
