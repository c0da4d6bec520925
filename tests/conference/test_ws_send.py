"""`conference.ws_send`: daphne's send writes the same bytes, and counts the same traffic,
as autobahn's own path in the plain case, and leaves every other case to it."""

from __future__ import annotations

from collections import deque
from typing import Any

import pytest
from autobahn.websocket.protocol import TrafficStats
from daphne.ws_protocol import WebSocketProtocol

from conference import ws_send


class _Transport:
    def __init__(self) -> None:
        self.written: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.written.append(data)


class _Factory:
    isServer = True


def _protocol() -> Any:
    """A daphne WebSocket protocol in the open state, as a connection has it after the
    handshake with daphne's options (no compression, no fragmentation, no logging)."""
    protocol = WebSocketProtocol.__new__(WebSocketProtocol)
    protocol.state = WebSocketProtocol.STATE_OPEN
    protocol.factory = _Factory()
    protocol.transport = _Transport()
    protocol.trafficStats = TrafficStats()
    protocol._perMessageCompress = None
    protocol.trackedTimings = None
    protocol.send_queue = deque()
    protocol.autoFragmentSize = 0
    protocol.maskServerFrames = False
    protocol.logFrames = False
    protocol.logOctets = False
    protocol.maxMessagePayloadSize = 0
    protocol.peer = "tcp:127.0.0.1:1"
    protocol.client_addr = ["127.0.0.1", 1]
    return protocol


def _stats(protocol: Any) -> dict[str, int]:
    stats = protocol.trafficStats
    return {name: getattr(stats, name) for name in (
        "outgoingWebSocketMessages", "outgoingWebSocketFrames", "outgoingOctetsAppLevel",
        "outgoingOctetsWebSocketLevel", "outgoingOctetsWireLevel")}


PAYLOADS = [("", False), ("a", False), ("é" * 62, False), ("x" * 125, False),
            ("x" * 126, False), ("y" * 65535, False), ("z" * 65536, False),
            (b"\x00\x01" * 70, True), (b"b" * 70000, True)]


@pytest.fixture(scope="module", autouse=True)
def _installed() -> None:
    ws_send.install()
    ws_send.install()  # idempotent


@pytest.mark.parametrize(("content", "binary"), PAYLOADS)
def test_the_plain_case_writes_autobahns_bytes_and_counts(content: Any, binary: bool):
    """Every payload size class (7-bit, 16-bit and 64-bit lengths, at their edges), text with
    multi-byte characters and binary: one write of exactly the bytes autobahn's path
    writes, and the same traffic counters."""
    ours, theirs = _protocol(), _protocol()
    ours.serverSend(content, binary)
    ws_send.daphne_server_send(theirs, content, binary)
    assert ours.transport.written == theirs.transport.written
    assert len(ours.transport.written) == 1
    assert _stats(ours) == _stats(theirs)


def test_a_connection_that_asks_for_more_takes_daphnes_path():
    """With a message already in autobahn's send queue the new one queues behind it (not
    written ahead of it); with octet logging on, autobahn logs it; both as daphne would."""
    queued = _protocol()
    queued.send_queue.append((b"earlier", False))
    triggered: list[bool] = []
    queued._trigger = lambda: triggered.append(True)
    queued.serverSend("later", False)
    assert queued.transport.written == []
    assert [data for data, _ in queued.send_queue] == [b"earlier", ws_send.frame(b"later",
                                                                               binary=False)]
    assert triggered

    logged = _protocol()
    logged.logOctets = True
    seen: list[bytes] = []
    logged.logTxOctets = lambda data, sync: seen.append(data)
    logged.serverSend("hello", False)
    assert seen == logged.transport.written == [ws_send.frame(b"hello", binary=False)]


def test_a_connection_still_connecting_is_accepted_first_by_daphne():
    """daphne accepts a socket that sends before it was accepted: that case is left to it."""
    protocol = _protocol()
    protocol.state = WebSocketProtocol.STATE_CONNECTING
    accepted: list[bool] = []

    def accept(subprotocol: Any = None) -> None:
        accepted.append(True)
        protocol.state = WebSocketProtocol.STATE_OPEN

    protocol.serverAccept = accept
    protocol.serverSend("hi", False)
    assert accepted and protocol.transport.written == [ws_send.frame(b"hi", binary=False)]


def test_a_payload_over_the_limit_is_refused_as_autobahn_refuses_it():
    """Beyond ``maxMessagePayloadSize`` autobahn raises; so does the patched send."""
    protocol = _protocol()
    protocol.maxMessagePayloadSize = 10
    protocol.log = type("Log", (), {"warn": staticmethod(lambda *a, **k: None)})()
    with pytest.raises(Exception, match="exceeding payload limit"):
        protocol.serverSend("x" * 11, False)
    assert protocol.transport.written == []
