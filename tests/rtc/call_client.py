"""A real network client of the call protocol: WebSocket signaling plus a pymediasoup device.

It does what a browser client does: joins, creates a send and a recv transport, publishes a
synthetic microphone (a tone) and camera (a moving pattern), consumes every producer of the
other peers (those listed in ``rtc:joined`` and each ``rtc:newProducer``), resumes them, and
counts the frames it decodes per remote peer and kind. On ``rtc:reconnect`` it drops its
transports and resumes its peer with the ``resumeToken``, then publishes and consumes again.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections import defaultdict
from typing import Any

from aiortc.mediastreams import MediaStreamError
from pymediasoup import AiortcHandler, Device
from pymediasoup.models.transport import DtlsParameters, IceCandidate, IceParameters
from pymediasoup.rtp_parameters import RtpCapabilities, RtpParameters
from websockets.asyncio.client import ClientConnection, connect

from tests.mediasoup.ms_peer import PatternVideoTrack, ToneAudioTrack

logger = logging.getLogger(__name__)


class CallError(Exception):
    """An error reply: ``code`` and the server's message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


def _transport_options(created: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": created["id"],
        "iceParameters": IceParameters(**created["iceParameters"]),
        "iceCandidates": [IceCandidate(**c) for c in created["iceCandidates"]],
        "dtlsParameters": DtlsParameters(**created["dtlsParameters"]),
        "sctpParameters": None,
    }


class CallClient:
    """One participant's client; ``await connect()``, ``await join()``, ``await publish()``."""

    _ids = itertools.count(1)

    def __init__(self, url: str, origin: str, name: str) -> None:
        self.url, self.origin, self.name = url, origin, name
        self.ws: ClientConnection | None = None
        self.joined: dict[str, Any] = {}
        self.events: list[dict[str, Any]] = []
        self.frames: dict[tuple[str, str], int] = defaultdict(int)
        """(remote peer id, kind) → decoded frames."""
        self.video_sizes: set[tuple[int, int]] = set()
        self.reconnects = 0
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._readers: list[asyncio.Task[None]] = []
        self._consumed: set[str] = set()
        self._media_lock = asyncio.Lock()
        self._reset_media()

    def _reset_media(self) -> None:
        self.audio, self.video = ToneAudioTrack(), PatternVideoTrack()
        self.device = Device(handlerFactory=AiortcHandler.createFactory(
            tracks=[self.audio, self.video]))
        self.send: Any = None
        self.recv: Any = None
        self.producers: dict[str, str] = {}
        self._consumed = set()

    # -- signaling ----------------------------------------------------------------------------

    async def connect(self) -> dict[str, Any]:
        """Open the meeting socket; return the first push (``meeting.state``)."""
        self.ws = await connect(self.url, origin=self.origin, max_size=2**20)
        first = json.loads(await self.ws.recv())
        self._spawn(self._read())
        return first

    async def _read(self) -> None:
        assert self.ws is not None
        async for raw in self.ws:
            message = json.loads(raw)
            request_id = message.get("requestId")
            if request_id in self._pending:
                self._pending.pop(request_id).set_result(message)
            elif "type" in message:
                self.events.append(message)
                self._on_event(message["type"], message.get("data", {}))

    async def request(self, message_type: str, data: dict[str, Any] | None = None) -> Any:
        """Send a request; its reply's data, or :class:`CallError`."""
        assert self.ws is not None
        request_id = f"{self.name}-{next(self._ids)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        await self.ws.send(json.dumps({"type": message_type, "requestId": request_id,
                                       "data": data or {}}))
        reply = await asyncio.wait_for(future, 20)
        if "error" in reply:
            raise CallError(reply["code"], reply["error"])
        return reply["data"]

    def _on_event(self, event: str, data: dict[str, Any]) -> None:
        if event == "rtc:newProducer" and self.recv is not None:
            self._spawn(self.consume(data["peerId"], data["producerId"]))
        elif event == "rtc:reconnect":
            self._spawn(self.reconnect())

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("%s: task failed", self.name, exc_info=task.exception())

    # -- the call -----------------------------------------------------------------------------

    async def join(self, *, resume: bool = False) -> dict[str, Any]:
        """Join (or resume), load the device, create both transports, consume the others."""
        data: dict[str, Any] = {"displayName": self.name, "device": {"flag": "pymediasoup"}}
        if resume:
            data["resume"] = {"peerId": self.joined["peerId"],
                              "token": self.joined["resumeToken"]}
        self.joined = await self.request("rtc:join", data)
        await self.device.load(RtpCapabilities(**self.joined["routerRtpCapabilities"]))
        await self._create_transports()
        for peer in self.joined["peers"]:
            for producer in peer["producers"]:
                await self.consume(peer["peerId"], producer["id"])
        return self.joined

    async def _create_transports(self) -> None:
        send = await self.request("rtc:createTransport", {"direction": "send"})
        recv = await self.request("rtc:createTransport", {"direction": "recv"})
        self.send = self.device.createSendTransport(**_transport_options(send))
        self.recv = self.device.createRecvTransport(**_transport_options(recv))
        for transport in (self.send, self.recv):
            self._wire_connect(transport)

        @self.send.on("produce")
        async def on_produce(kind: str, rtpParameters: RtpParameters, appData: Any) -> str:
            reply = await self.request("rtc:produce", {
                "transportId": send["id"], "kind": kind,
                "rtpParameters": rtpParameters.model_dump(exclude_none=True),
                "appData": dict(appData or {})})
            return reply["id"]

    def _wire_connect(self, transport: Any) -> None:
        @transport.on("connect")
        async def on_connect(dtlsParameters: DtlsParameters) -> None:
            await self.request("rtc:connectTransport", {
                "transportId": transport.id,
                "dtlsParameters": dtlsParameters.model_dump(exclude_none=True)})

    async def publish(self) -> None:
        """Send the tone and the pattern."""
        audio = await self.send.produce(track=self.audio, stopTracks=False,
                                        appData={"source": "mic"})
        video = await self.send.produce(track=self.video, stopTracks=False,
                                        appData={"source": "webcam"})
        self.producers = {"audio": audio.id, "video": video.id}

    async def consume(self, peer_id: str, producer_id: str) -> None:
        """Consume a remote producer, read and count its decoded frames, resume it."""
        async with self._media_lock:
            if producer_id in self._consumed or self.recv is None:
                return
            self._consumed.add(producer_id)
            consumed = await self.request("rtc:consume", {
                "transportId": self.recv.id, "producerId": producer_id,
                "rtpCapabilities": self.device.rtpCapabilities.model_dump(exclude_none=True)})
            consumer = await self.recv.consume(
                id=consumed["id"], producerId=producer_id, kind=consumed["kind"],
                rtpParameters=RtpParameters(**consumed["rtpParameters"]))
            self._readers.append(asyncio.ensure_future(
                self._count(consumer.track, peer_id, consumed["kind"])))
            await self.request("rtc:resumeConsumer", {"consumerId": consumed["id"]})

    async def _count(self, track: Any, peer_id: str, kind: str) -> None:
        try:
            while True:
                frame = await track.recv()
                self.frames[(peer_id, kind)] += 1
                if kind == "video":
                    self.video_sizes.add((frame.width, frame.height))
        except MediaStreamError:
            return

    async def wait_frames(self, peer_id: str, *, audio: int = 20, video: int = 10,
                          timeout: float = 30) -> None:
        """Until ``audio``/``video`` more frames of ``peer_id`` were decoded from now on."""
        start = (self.frames[(peer_id, "audio")], self.frames[(peer_id, "video")])
        async with asyncio.timeout(timeout):
            while (self.frames[(peer_id, "audio")] - start[0] < audio
                   or self.frames[(peer_id, "video")] - start[1] < video):
                await asyncio.sleep(0.05)

    async def reconnect(self) -> None:
        """After ``rtc:reconnect``: new transports on the new router, same peer, media again."""
        self.reconnects += 1
        await self._close_media()
        self._reset_media()
        await self.join(resume=True)
        await self.publish()

    async def _close_media(self) -> None:
        for reader in self._readers:
            reader.cancel()
        self._readers = []
        for transport in (self.send, self.recv):
            if transport is not None:
                await transport.close()
        self.audio.stop()
        self.video.stop()

    async def leave(self) -> None:
        """``rtc:leave``, then close the media side."""
        await self.request("rtc:leave")
        await self._close_media()
        self.send = self.recv = None

    async def close(self) -> None:
        """Close the socket and stop everything."""
        for task in list(self._tasks):
            task.cancel()
        if self.send is not None or self.recv is not None:
            await self._close_media()
        if self.ws is not None:
            await self.ws.close()
