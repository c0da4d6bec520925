"""The pymediasoup side of a bot: a Device, its send and receive transports, what it receives.

It knows nothing of signaling. The server's transport parameters come in as mediasoup's JSON
dicts, and the two things a transport asks of the server (connect it with these DTLS
parameters; create a producer with these RTP parameters) are coroutines the caller passes in.
So one class serves the rtc:* protocol over a WebSocket (:mod:`bots.peer`), a Channels test
communicator, and mediasoup_ctl transports driven directly from a test.

pymediasoup 1.5 works with pydantic models: dicts become models on the way in, models are
dumped with ``exclude_none=True`` on the way out. Its send transport takes the DTLS *server*
role and its receive transport the *client* role.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiortc import MediaStreamTrack, RTCIceServer
from aiortc.mediastreams import MediaStreamError
from av import VideoFrame
from pymediasoup import AiortcHandler, Device
from pymediasoup.models.transport import DtlsParameters, IceCandidate, IceParameters
from pymediasoup.rtp_parameters import RtpCapabilities, RtpParameters
from pymediasoup.sctp_parameters import SctpParameters

from bots.media import PatternVideoTrack, ToneAudioTrack

__all__ = ["Connect", "FrameCounts", "MediaDevice", "Produce", "ice_servers",
           "transport_options"]

logger = logging.getLogger(__name__)

Connect = Callable[[str, dict[str, Any]], Awaitable[None]]
"""``(transport id, DTLS parameters)``: connect the server side of a transport."""
Produce = Callable[[str, str, dict[str, Any], dict[str, Any]], Awaitable[str]]
"""``(transport id, kind, RTP parameters, appData)``: create the producer; its id."""

SOURCES = {"audio": "mic", "video": "webcam"}
"""The ``appData.source`` a bot's tone and pattern are announced with."""


def ice_servers(servers: Iterable[Mapping[str, Any]] | None) -> list[RTCIceServer]:
    """aiortc's form of the server's ``iceServers`` (TURN with short-lived credentials).

    Always a list: aiortc adds a public STUN server only when it gets None.
    """
    return [RTCIceServer(urls=s["urls"], username=s.get("username"),
                         credential=s.get("credential")) for s in servers or ()]


def transport_options(created: Mapping[str, Any],
                      servers: Iterable[Mapping[str, Any]] | None = None) -> dict[str, Any]:
    """``Device.create*Transport`` keyword arguments from a server transport's parameters."""
    sctp = created.get("sctpParameters")
    return {
        "id": created["id"],
        "iceParameters": IceParameters(**created["iceParameters"]),
        "iceCandidates": [IceCandidate(**c) for c in created["iceCandidates"]],
        "dtlsParameters": DtlsParameters(**created["dtlsParameters"]),
        "sctpParameters": SctpParameters(**sctp) if sctp else None,
        "iceServers": ice_servers(servers),
    }


class FrameCounts:
    """Decoded frames per (remote peer id, kind); kept across reconnects by its owner."""

    def __init__(self) -> None:
        self.frames: defaultdict[tuple[str, str], int] = defaultdict(int)
        self.video_sizes: set[tuple[int, int]] = set()
        """Every (width, height) decoded."""

    def add(self, peer_id: str, kind: str, frame: Any) -> None:
        """Count one decoded frame."""
        self.frames[(peer_id, kind)] += 1
        if isinstance(frame, VideoFrame):
            self.video_sizes.add((frame.width, frame.height))

    def of_kind(self, kind: str) -> int:
        """Frames of ``kind`` from everyone."""
        return sum(n for (_, k), n in self.frames.items() if k == kind)

    async def wait(self, peer_id: str, *, audio: int = 20, video: int = 10,
                   timeout: float = 30) -> None:
        """Until ``audio`` and ``video`` more frames of ``peer_id`` are decoded from now on."""
        start = (self.frames[(peer_id, "audio")], self.frames[(peer_id, "video")])
        async with asyncio.timeout(timeout):
            while (self.frames[(peer_id, "audio")] - start[0] < audio
                   or self.frames[(peer_id, "video")] - start[1] < video):
                await asyncio.sleep(0.05)


@dataclass
class Received:
    """A consumer this device has, and who sends it."""

    consumer: Any
    """pymediasoup's Consumer (its ``track`` gives decoded frames)."""
    peer_id: str
    producer_id: str
    kind: str
    reader: asyncio.Task[None] | None = field(default=None, repr=False)
    """The task counting its frames, when counted."""


class MediaDevice:
    """A pymediasoup Device with at most one send and one receive transport.

    ``send_media`` gives it the tone and the pattern to publish; a recorder has none.
    """

    def __init__(self, name: str, *, send_media: bool = True,
                 counts: FrameCounts | None = None) -> None:
        self.name = name
        self.audio: MediaStreamTrack | None = ToneAudioTrack() if send_media else None
        self.video: MediaStreamTrack | None = PatternVideoTrack() if send_media else None
        tracks = [t for t in (self.audio, self.video) if t is not None]
        self.device = Device(handlerFactory=AiortcHandler.createFactory(tracks=tracks))
        self.send: Any = None
        self.recv: Any = None
        self.counts = counts if counts is not None else FrameCounts()
        self.producers: dict[str, Any] = {}
        """kind → pymediasoup Producer."""
        self.received: dict[str, Received] = {}
        """consumer id → what it receives."""
        self._consuming = asyncio.Lock()
        """One local consume at a time: pymediasoup's aiortc handler is not reentrant (two
        consumes at once on a receive transport not yet set up both negotiate its first SDP;
        one fails with "no active media section found", as CI saw); mediasoup-client queues
        a transport's operations the same way."""
        self.closed = False

    async def load(self, router_rtp_capabilities: Mapping[str, Any]) -> None:
        """Load the router's capabilities (before any transport)."""
        await self.device.load(RtpCapabilities(**router_rtp_capabilities))

    @property
    def rtp_capabilities(self) -> dict[str, Any]:
        """The device's receive capabilities, as ``rtc:consume`` wants them."""
        return self.device.rtpCapabilities.model_dump(exclude_none=True)

    def open_send(self, created: Mapping[str, Any], *, connect: Connect, produce: Produce,
                  servers: Iterable[Mapping[str, Any]] | None = None) -> Any:
        """The send transport for the server transport ``created``."""
        self.send = self.device.createSendTransport(**transport_options(created, servers))
        self._on_connect(self.send, connect)
        transport_id = created["id"]

        @self.send.on("produce")
        async def on_produce(kind: str, rtpParameters: RtpParameters, appData: Any) -> str:
            return await produce(transport_id, kind, rtpParameters.model_dump(exclude_none=True),
                                 dict(appData or {}))

        return self.send

    def open_recv(self, created: Mapping[str, Any], *, connect: Connect,
                  servers: Iterable[Mapping[str, Any]] | None = None) -> Any:
        """The receive transport for the server transport ``created``."""
        self.recv = self.device.createRecvTransport(**transport_options(created, servers))
        self._on_connect(self.recv, connect)
        return self.recv

    @staticmethod
    def _on_connect(transport: Any, connect: Connect) -> None:
        transport_id = transport.id

        @transport.on("connect")
        async def on_connect(dtlsParameters: DtlsParameters) -> None:
            await connect(transport_id, dtlsParameters.model_dump(exclude_none=True))

    async def publish(self, kinds: Iterable[str] = ("audio", "video")) -> dict[str, str]:
        """Send the tone and/or the pattern; kind → producer id."""
        if self.send is None:
            raise RuntimeError(f"{self.name}: no send transport")
        for kind in kinds:
            track = self.audio if kind == "audio" else self.video
            if track is None:
                raise RuntimeError(f"{self.name}: nothing to send as {kind}")
            self.producers[kind] = await self.send.produce(
                track=track, stopTracks=False, appData={"source": SOURCES[kind]})
        return {kind: producer.id for kind, producer in self.producers.items()}

    async def consume(self, *, consumer_id: str, producer_id: str, kind: str,
                      rtp_parameters: Mapping[str, Any], peer_id: str = "",
                      count: bool = True) -> Received:
        """Set up the local consumer of a server consumer; count its frames if ``count``."""
        if self.recv is None:
            raise RuntimeError(f"{self.name}: no receive transport")
        async with self._consuming:
            consumer = await self.recv.consume(id=consumer_id, producerId=producer_id,
                                               kind=kind,
                                               rtpParameters=RtpParameters(**rtp_parameters))
        received = Received(consumer, peer_id, producer_id, kind)
        if count:
            received.reader = asyncio.ensure_future(self._count(consumer.track, peer_id, kind))
        self.received[consumer_id] = received
        return received

    async def _count(self, track: MediaStreamTrack, peer_id: str, kind: str) -> None:
        try:
            while True:
                self.counts.add(peer_id, kind, await track.recv())
        except MediaStreamError:
            return  # the track ended

    async def drop(self, consumer_id: str) -> Received | None:
        """Forget a local consumer whose server side is gone, and stop reading it.

        It is not closed here: that renegotiates the receive transport, after which pymediasoup
        1.5 on aiortc fails every later consume ("Media sections in answer do not match
        offer"). Its track gets no more media; closing the transport ends it.
        """
        received = self.received.pop(consumer_id, None)
        if received is not None and received.reader is not None:
            received.reader.cancel()
            await asyncio.gather(received.reader, return_exceptions=True)
        return received

    async def close(self) -> None:
        """Stop reading and sending, close both transports (idempotent)."""
        if self.closed:
            return
        self.closed = True
        readers = [r.reader for r in self.received.values() if r.reader is not None]
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        self.received.clear()
        for transport in (self.send, self.recv):
            if transport is not None and not transport.closed:
                await transport.close()
        for track in (self.audio, self.video):
            if track is not None:
                track.stop()
        logger.debug("media device %s closed", self.name)
