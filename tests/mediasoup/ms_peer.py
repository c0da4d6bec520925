"""A pymediasoup (aiortc) peer wired to mediasoup_ctl WebRtcTransports, for media tests.

No signaling: the peer's :class:`bots.device.MediaDevice` (the bots package's pymediasoup side)
gets its transports' parameters straight from the server objects, and its connect and produce
requests become calls on them. Its send transport takes the DTLS *server* role (so the worker
is the DTLS client) and its receive transport the *client* role: one peer with both exercises
both worker roles.
"""

from __future__ import annotations

from typing import Any

from mediasoup_ctl.router import Router
from mediasoup_ctl.webrtc_transport import WebRtcTransport

from bots.device import MediaDevice
from bots.media import PatternVideoTrack, ToneAudioTrack

__all__ = ["LOOPBACK_UDP", "PatternVideoTrack", "Peer", "ToneAudioTrack"]

LOOPBACK_UDP = [{"protocol": "udp", "ip": "127.0.0.1"}]


def _parameters(transport: WebRtcTransport) -> dict[str, Any]:
    return {"id": transport.id, "iceParameters": transport.ice_parameters,
            "iceCandidates": transport.ice_candidates,
            "dtlsParameters": transport.dtls_parameters,
            "sctpParameters": transport.sctp_parameters}


class Peer:
    """One client: a pymediasoup Device with a send and a receive transport on the router."""

    def __init__(self, router: Router, name: str) -> None:
        self.router, self.name = router, name
        self.media = MediaDevice(name)
        self.server_send: WebRtcTransport | None = None
        self.server_recv: WebRtcTransport | None = None
        self.producers: dict[str, Any] = {}
        """kind → the server's Producer."""

    @property
    def counts(self) -> dict[str, int]:
        """Decoded frames per kind."""
        return {kind: self.media.counts.of_kind(kind) for kind in ("audio", "video")}

    @property
    def client_consumers(self) -> list[Any]:
        """pymediasoup's consumers of this peer."""
        return [received.consumer for received in self.media.received.values()]

    async def join(self, *, enable_sctp: bool = False) -> None:
        """Load the router's capabilities, create both transports on the server and here."""
        await self.media.load(self.router.rtp_capabilities)
        self.server_send = await self.router.create_webrtc_transport(
            listen_infos=LOOPBACK_UDP, enable_sctp=enable_sctp, app_data={"peer": self.name})
        self.server_recv = await self.router.create_webrtc_transport(
            listen_infos=LOOPBACK_UDP, enable_sctp=enable_sctp, app_data={"peer": self.name})
        transports = {t.id: t for t in (self.server_send, self.server_recv)}

        async def connect(transport_id: str, dtls_parameters: dict[str, Any]) -> None:
            await transports[transport_id].connect(dtls_parameters=dtls_parameters)

        async def produce(transport_id: str, kind: str, rtp_parameters: dict[str, Any],
                          app_data: dict[str, Any]) -> str:
            producer = await transports[transport_id].produce(
                kind=kind, rtp_parameters=rtp_parameters, app_data={"peer": self.name})
            self.producers[kind] = producer
            return producer.id

        self.media.open_send(_parameters(self.server_send), connect=connect, produce=produce)
        self.media.open_recv(_parameters(self.server_recv), connect=connect)

    async def publish(self) -> None:
        """Send the tone and the pattern."""
        await self.media.publish()

    async def subscribe(self, producer: Any) -> Any:
        """Consume ``producer`` paused on the server, set it up on the client, resume."""
        assert self.server_recv is not None
        consumer = await self.server_recv.consume(
            producer_id=producer.id, rtp_capabilities=self.media.rtp_capabilities, paused=True)
        await self.media.consume(consumer_id=consumer.id, producer_id=producer.id,
                                 kind=consumer.kind, rtp_parameters=consumer.rtp_parameters)
        await consumer.resume()
        return consumer

    async def close(self) -> None:
        """Stop reading and sending, close the client transports."""
        await self.media.close()
