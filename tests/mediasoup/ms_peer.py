"""A pymediasoup (aiortc) peer wired to rtc.mediasoup WebRtcTransports, for media tests.

pymediasoup 1.5 works with pydantic models: dicts from the server are turned into models on
the way in, and models are dumped with ``exclude_none=True`` on the way out. Its send
transport takes the DTLS *server* role (so the worker is the DTLS client) and its receive
transport the *client* role: one peer with both exercises both worker roles.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import struct
from typing import Any

from aiortc import MediaStreamTrack
from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack
from av import AudioFrame, VideoFrame
from pymediasoup import AiortcHandler, Device
from pymediasoup.models.transport import DtlsParameters, IceCandidate, IceParameters
from pymediasoup.rtp_parameters import RtpCapabilities, RtpParameters
from pymediasoup.sctp_parameters import SctpParameters

from rtc.mediasoup.router import Router
from rtc.mediasoup.webrtc_transport import WebRtcTransport

LOOPBACK_UDP = [{"protocol": "udp", "ip": "127.0.0.1"}]


class PatternVideoTrack(VideoStreamTrack):
    """Small moving-gradient frames, so the encoder has real content to encode."""

    def __init__(self, width: int = 320, height: int = 240) -> None:
        super().__init__()
        self.width, self.height, self.count = width, height, 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=self.width, height=self.height, format="yuv420p")
        shift = (self.count * 4) % 256
        self.count += 1
        for plane in frame.planes:
            row = bytes((x + shift) % 256 for x in range(plane.line_size))
            plane.update(row * (plane.buffer_size // plane.line_size))
        frame.pts, frame.time_base = pts, time_base
        return frame


class ToneAudioTrack(AudioStreamTrack):
    """A 440 Hz tone at about -12 dBFS (not silence, so audio levels are measurable)."""

    def __init__(self) -> None:
        super().__init__()
        self.sample = 0

    async def recv(self) -> AudioFrame:
        frame = await super().recv()
        samples = frame.samples
        values = [int(8000 * math.sin(2 * math.pi * 440 * (self.sample + i) / 48000))
                  for i in range(samples)]
        self.sample += samples
        frame.planes[0].update(struct.pack(f"<{samples}h", *values))
        frame.time_base = fractions.Fraction(1, 48000)
        return frame


def _client_options(transport: WebRtcTransport) -> dict[str, Any]:
    return {
        "id": transport.id,
        "iceParameters": IceParameters(**transport.ice_parameters),
        "iceCandidates": [IceCandidate(**c) for c in transport.ice_candidates],
        "dtlsParameters": DtlsParameters(**transport.dtls_parameters),
        "sctpParameters": SctpParameters(**transport.sctp_parameters)
        if transport.sctp_parameters else None,
    }


class Peer:
    """One client: a pymediasoup Device with a send and a receive transport on the router."""

    def __init__(self, router: Router, name: str) -> None:
        self.router, self.name = router, name
        self.audio, self.video = ToneAudioTrack(), PatternVideoTrack()
        self.device = Device(handlerFactory=AiortcHandler.createFactory(
            tracks=[self.audio, self.video]))
        self.server_send: WebRtcTransport | None = None
        self.server_recv: WebRtcTransport | None = None
        self.producers: dict[str, Any] = {}
        self.counts: dict[str, int] = {"audio": 0, "video": 0}
        self._readers: list[asyncio.Task[None]] = []
        self.client_consumers: list[Any] = []

    async def join(self, *, enable_sctp: bool = False) -> None:
        await self.device.load(RtpCapabilities(**self.router.rtp_capabilities))
        self.server_send = await self.router.create_webrtc_transport(
            listen_infos=LOOPBACK_UDP, enable_sctp=enable_sctp, app_data={"peer": self.name})
        self.server_recv = await self.router.create_webrtc_transport(
            listen_infos=LOOPBACK_UDP, enable_sctp=enable_sctp, app_data={"peer": self.name})
        self.send = self.device.createSendTransport(**_client_options(self.server_send))
        self.recv = self.device.createRecvTransport(**_client_options(self.server_recv))
        server_send, server_recv = self.server_send, self.server_recv

        @self.send.on("connect")
        async def on_send_connect(dtlsParameters: DtlsParameters) -> None:
            await server_send.connect(dtls_parameters=dtlsParameters.model_dump(exclude_none=True))

        @self.send.on("produce")
        async def on_produce(kind: str, rtpParameters: RtpParameters, appData: Any) -> str:
            producer = await server_send.produce(
                kind=kind, rtp_parameters=rtpParameters.model_dump(exclude_none=True),
                app_data={"peer": self.name})
            self.producers[kind] = producer
            return producer.id

        @self.recv.on("connect")
        async def on_recv_connect(dtlsParameters: DtlsParameters) -> None:
            await server_recv.connect(dtls_parameters=dtlsParameters.model_dump(exclude_none=True))

    async def publish(self) -> None:
        await self.send.produce(track=self.audio, stopTracks=False)
        await self.send.produce(track=self.video, stopTracks=False)

    async def subscribe(self, producer: Any) -> Any:
        """Consume ``producer`` paused on the server, set it up on the client, resume."""
        assert self.server_recv is not None
        consumer = await self.server_recv.consume(
            producer_id=producer.id,
            rtp_capabilities=self.device.rtpCapabilities.model_dump(exclude_none=True),
            paused=True)
        client = await self.recv.consume(
            id=consumer.id, producerId=producer.id, kind=consumer.kind,
            rtpParameters=RtpParameters(**consumer.rtp_parameters))
        self.client_consumers.append(client)
        self._readers.append(asyncio.ensure_future(self._read(client.track, consumer.kind)))
        await consumer.resume()
        return consumer

    async def _read(self, track: MediaStreamTrack, kind: str) -> None:
        try:
            while True:
                await track.recv()
                self.counts[kind] += 1
        except Exception:  # MediaStreamError when the track ends
            return

    async def close(self) -> None:
        for reader in self._readers:
            reader.cancel()
        await self.send.close()
        await self.recv.close()
        self.audio.stop()
        self.video.stop()
