"""A pymediasoup (aiortc) peer that signals over a Channels test socket, so a call carries real
media.

The tests in this folder need figures that only real RTP produces (bytes, packets, scores).
``CallPeer`` is the bots package's call flow (:class:`bots.peer.CallPeer`) sending its requests
through an :class:`tests.rtc.conftest.RtcClient` (a WebsocketCommunicator on the real ASGI
app): it consumes only what it is asked to (``subscribe``) and counts frames per kind.
"""

from __future__ import annotations

from bots.peer import CallPeer as _CallPeer
from tests.rtc.conftest import RtcClient

__all__ = ["CallPeer"]


class CallPeer(_CallPeer):
    """One participant with a send and a receive transport, sending audio and video."""

    def __init__(self, client: RtcClient, name: str) -> None:
        super().__init__(client.ok, name, auto_consume=False)
        self.client = client

    @property
    def frames(self) -> dict[str, int]:  # type: ignore[override]
        """Decoded frames per kind, from every peer."""
        return {kind: self.counts.of_kind(kind) for kind in ("audio", "video")}
