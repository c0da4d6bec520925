"""A pymediasoup (aiortc) client that signals over a meeting socket, so a call carries real media.

The tests in this folder need figures that only real RTP produces (bytes, packets, scores).
``CallPeer`` drives an :class:`tests.rtc.conftest.RtcClient` (a WebsocketCommunicator on the real
ASGI app) through ``rtc:join``, ``rtc:createTransport``/``connectTransport``, ``rtc:produce``,
``rtc:consume`` and ``rtc:resumeConsumer``, with a pymediasoup Device sending a tone and moving
frames (the tracks of ``tests/mediasoup/ms_peer.py``) and decoding what it receives.
Requests go one at a time: RtcClient reads the socket while it waits for a reply.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiortc import MediaStreamTrack
from pymediasoup import AiortcHandler, Device
from pymediasoup.models.transport import DtlsParameters, IceCandidate, IceParameters
from pymediasoup.rtp_parameters import RtpCapabilities, RtpParameters

from tests.mediasoup.ms_peer import PatternVideoTrack, ToneAudioTrack
from tests.rtc.conftest import RtcClient


def _options(created: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": created["id"],
        "iceParameters": IceParameters(**created["iceParameters"]),
        "iceCandidates": [IceCandidate(**c) for c in created["iceCandidates"]],
        "dtlsParameters": DtlsParameters(**created["dtlsParameters"]),
        "sctpParameters": None,
    }


class CallPeer:
    """One participant with a send and a receive transport, sending audio and video."""

    def __init__(self, client: RtcClient, name: str) -> None:
        self.client, self.name = client, name
        self.audio, self.video = ToneAudioTrack(), PatternVideoTrack()
        self.device = Device(handlerFactory=AiortcHandler.createFactory(
            tracks=[self.audio, self.video]))
        self.peer_id = ""
        self.producer_ids: dict[str, str] = {}
        self.frames: dict[str, int] = {"audio": 0, "video": 0}
        self._readers: list[asyncio.Task[None]] = []

    async def join(self) -> None:
        """Join the call and open both transports (they connect on first use)."""
        joined = await self.client.join(self.name)
        self.peer_id = joined["peerId"]
        await self.device.load(RtpCapabilities(**joined["routerRtpCapabilities"]))
        send = await self.client.ok("rtc:createTransport", {"direction": "send"})
        recv = await self.client.ok("rtc:createTransport", {"direction": "recv"})
        self.send = self.device.createSendTransport(**_options(send))
        self.recv = self.device.createRecvTransport(**_options(recv))
        client = self.client

        @self.send.on("connect")
        async def on_send_connect(dtlsParameters: DtlsParameters) -> None:
            await client.ok("rtc:connectTransport", {
                "transportId": send["id"],
                "dtlsParameters": dtlsParameters.model_dump(exclude_none=True)})

        @self.send.on("produce")
        async def on_produce(kind: str, rtpParameters: RtpParameters, appData: Any) -> str:
            reply = await client.ok("rtc:produce", {
                "transportId": send["id"], "kind": kind,
                "rtpParameters": rtpParameters.model_dump(exclude_none=True),
                "appData": {"source": "mic" if kind == "audio" else "webcam"}})
            self.producer_ids[kind] = reply["id"]
            return reply["id"]

        @self.recv.on("connect")
        async def on_recv_connect(dtlsParameters: DtlsParameters) -> None:
            await client.ok("rtc:connectTransport", {
                "transportId": recv["id"],
                "dtlsParameters": dtlsParameters.model_dump(exclude_none=True)})

        self.recv_id = recv["id"]

    async def publish(self) -> None:
        """Send the tone and the frames."""
        await self.send.produce(track=self.audio, stopTracks=False)
        await self.send.produce(track=self.video, stopTracks=False)

    async def subscribe(self, producer_id: str) -> str:
        """Receive another peer's producer, decode it; the consumer id."""
        consumed = await self.client.ok("rtc:consume", {
            "transportId": self.recv_id, "producerId": producer_id,
            "rtpCapabilities": self.device.rtpCapabilities.model_dump(exclude_none=True)})
        consumer = await self.recv.consume(
            id=consumed["id"], producerId=producer_id, kind=consumed["kind"],
            rtpParameters=RtpParameters(**consumed["rtpParameters"]))
        self._readers.append(asyncio.ensure_future(self._read(consumer.track, consumed["kind"])))
        await self.client.ok("rtc:resumeConsumer", {"consumerId": consumed["id"]})
        return consumed["id"]

    async def _read(self, track: MediaStreamTrack, kind: str) -> None:
        try:
            while True:
                await track.recv()
                self.frames[kind] += 1
        except Exception:  # MediaStreamError when the track ends
            return

    async def close(self) -> None:
        """Stop reading and sending; close the client transports (the server side stays)."""
        for reader in self._readers:
            reader.cancel()
        await asyncio.gather(*self._readers, return_exceptions=True)
        await self.send.close()
        await self.recv.close()
        self.audio.stop()
        self.video.stop()
