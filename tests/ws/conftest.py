"""Fixtures of the meeting-socket tests.

Every test here starts and ends with no meeting socket counted against the per-user and
per-address limits (`rtc.websocket.limits.open_sockets`): whatever way a test's sockets ended,
each gave its slot back. The shutdown flag is turned off again after a test that shut down.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator

from rtc.lifecycle import shutdown
from rtc.websocket.limits import open_sockets

WS_TIMEOUT = 5

Opener = Callable[..., Awaitable[tuple[WebsocketCommunicator, dict[str, Any]]]]


@pytest.fixture(autouse=True)
def _socket_counts_back_to_zero() -> Iterator[None]:
    """No socket counted before the test; none left counted after it (the communicators made
    by ``ws_communicator`` are disconnected first: that fixture is torn down before this one)."""
    before = open_sockets.counts()
    assert before.total == 0, f"an earlier test left sockets counted: {dict(before.per_user)}"
    yield
    shutdown._state["shutting_down"] = False
    shutdown._connections.clear()
    after = open_sockets.counts()
    assert (after.total, dict(after.per_user), dict(after.per_address)) == (0, {}, {}), after


@pytest.fixture
def ws_open(ws_communicator: Callable[..., Awaitable[WebsocketCommunicator]]) -> Opener:
    """`await ws_open(meeting_id, user, address="203.0.113.7")`: connect a meeting socket from
    a client address (the ASGI scope's ``client``; None leaves it out) and return it with its
    first output: the ``meeting.state`` event of a joined socket, or the ``error`` event or
    ``websocket.close`` of a refused one."""

    async def open_(meeting_id: Any, user: Any, *, address: str | None = "203.0.113.7",
                    ) -> tuple[WebsocketCommunicator, dict[str, Any]]:
        communicator = await ws_communicator(meeting_id, user=user)
        if address is not None:
            communicator.scope["client"] = (address, 50000)
        connected, _ = await communicator.connect(timeout=WS_TIMEOUT)
        assert connected, "every meeting socket is accepted before it may be closed"
        first = await communicator.receive_output(timeout=WS_TIMEOUT)
        if first["type"] == "websocket.send":
            first = json.loads(first["text"])
        return communicator, first

    return open_
