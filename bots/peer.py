"""A participant in a call: the rtc:* flow a browser runs, over any request function.

:class:`CallPeer` joins, creates its transports, publishes a tone and a test pattern, consumes
the other peers' producers (those listed in ``rtc:joined`` and each ``rtc:newProducer``),
resumes them, and on ``rtc:reconnect`` drops its media, resumes its peer and sets everything
up again. It sends requests through ``request(type, data) -> reply data``, so the same flow runs
over a real WebSocket (:class:`Bot`, with :class:`bots.signaling.SignalingClient`) and over a
Channels test communicator. Events reach it through :meth:`CallPeer.handle_event`.

Subclasses hear about each consumer through :meth:`CallPeer.consumer_added` and
:meth:`CallPeer.consumer_removed` (the recorder writes files there).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any

from bots.device import FrameCounts, MediaDevice, Received
from bots.signaling import SignalingClient, SignalingError, SocketClosed

__all__ = ["MEETING_ENDED_CLOSE", "Bot", "CallPeer", "Request"]

logger = logging.getLogger(__name__)

MEETING_ENDED_CLOSE = 4410
"""The close code of the meeting socket when the meeting ended."""

Request = Callable[[str, dict[str, Any]], Awaitable[Any]]
"""``request(type, data)``: the reply's data; raises on an error reply."""


class CallPeer:
    """One participant; ``await join()``, ``await publish()``, ``await leave()``.

    ``send_media`` off: no send transport and nothing to publish (a recorder, or a hidden
    peer that may not publish). ``auto_consume`` off: nothing is consumed unless asked
    (:meth:`consume`). ``count`` off: received tracks are not read here (a subclass reads them).
    """

    def __init__(self, request: Request, name: str, *, send_media: bool = True,
                 auto_consume: bool = True, count: bool = True) -> None:
        self.request = request
        self.name = name
        self.send_media = send_media
        self.auto_consume = auto_consume
        self.count = count
        self.counts = FrameCounts()
        self.media = MediaDevice(name, send_media=send_media, counts=self.counts)
        self.joined: dict[str, Any] = {}
        """The last ``rtc:joined`` reply."""
        self.names: dict[str, str] = {}
        """peer id → display name of the others (as announced)."""
        self.producer_ids: dict[str, str] = {}
        """kind → id of this peer's producers."""
        self.reconnects = 0
        self.published = False
        self._consumed: dict[str, str] = {}
        self._announced: dict[str, str] = {}
        """producer id → peer id of producers announced before the receive transport was up
        (between the join reply and the transport): consumed once it is."""
        self._lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()

    # -- state ------------------------------------------------------------------------------

    @property
    def peer_id(self) -> str:
        """This peer's id in the call ('' before joining)."""
        return str(self.joined.get("peerId", ""))

    @property
    def frames(self) -> dict[tuple[str, str], int]:
        """(remote peer id, kind) → decoded frames, across reconnects."""
        return self.counts.frames

    @property
    def video_sizes(self) -> set[tuple[int, int]]:
        """Every decoded video size."""
        return self.counts.video_sizes

    @property
    def receiving(self) -> bool:
        """Whether it has an open receive transport (joined, not left)."""
        return self.media.recv is not None and not self.media.closed

    async def wait_frames(self, peer_id: str, *, audio: int = 20, video: int = 10,
                          timeout: float = 30) -> None:
        """Until ``audio``/``video`` more frames of ``peer_id`` were decoded from now on."""
        await self.counts.wait(peer_id, audio=audio, video=video, timeout=timeout)

    # -- the call ---------------------------------------------------------------------------

    async def join(self, *, resume: bool = False) -> dict[str, Any]:
        """Join (or resume), load the device, create the transports, consume the others."""
        data: dict[str, Any] = {"displayName": self.name, "device": {"flag": "pymediasoup"}}
        if resume:
            data["resume"] = {"peerId": self.joined["peerId"],
                              "token": self.joined["resumeToken"]}
        self.joined = await self.request("rtc:join", data)
        self.names.update({p["peerId"]: p["displayName"] for p in self.joined["peers"]})
        await self.media.load(self.joined["routerRtpCapabilities"])
        await self.open_transports()
        if self.auto_consume:
            listed = {p["id"]: peer["peerId"] for peer in self.joined["peers"]
                      for p in peer["producers"]}
            announced, self._announced = self._announced, {}
            for producer_id, peer_id in {**listed, **announced}.items():
                try:
                    await self.consume(peer_id, producer_id)
                except SignalingError as error:  # announced, then gone before we got to it
                    logger.info("bot %s: producer %s not consumed: %s", self.name,
                                producer_id, error)
        logger.info("bot %s joined as peer %s (resumed: %s)", self.name, self.peer_id,
                    self.joined.get("resumed"))
        return self.joined

    async def open_transports(self) -> None:
        """A send transport (when sending media) and a receive transport."""
        servers = self.joined.get("iceServers")
        if self.send_media:
            send = await self.request("rtc:createTransport", {"direction": "send"})
            self.media.open_send(send, connect=self._connect, produce=self._produce,
                                 servers=servers)
        recv = await self.request("rtc:createTransport", {"direction": "recv"})
        self.media.open_recv(recv, connect=self._connect, servers=servers)

    async def _connect(self, transport_id: str, dtls_parameters: dict[str, Any]) -> None:
        await self.request("rtc:connectTransport", {"transportId": transport_id,
                                                    "dtlsParameters": dtls_parameters})

    async def _produce(self, transport_id: str, kind: str, rtp_parameters: dict[str, Any],
                       app_data: dict[str, Any]) -> str:
        reply = await self.request("rtc:produce", {
            "transportId": transport_id, "kind": kind, "rtpParameters": rtp_parameters,
            "appData": app_data})
        self.producer_ids[kind] = reply["id"]
        return str(reply["id"])

    async def publish(self, kinds: Iterable[str] = ("audio", "video")) -> dict[str, str]:
        """Send the tone and the pattern; kind → producer id."""
        self.published = True
        return await self.media.publish(kinds)

    async def consume(self, peer_id: str, producer_id: str) -> str | None:
        """Consume a remote producer (once), set it up locally, resume it; the consumer id."""
        async with self._lock:
            if producer_id in self._consumed or not self.receiving:
                return self._consumed.get(producer_id)
            consumed = await self.request("rtc:consume", {
                "transportId": self.media.recv.id, "producerId": producer_id,
                "rtpCapabilities": self.media.rtp_capabilities})
            self._consumed[producer_id] = consumed["id"]
            received = await self.media.consume(
                consumer_id=consumed["id"], producer_id=producer_id, kind=consumed["kind"],
                rtp_parameters=consumed["rtpParameters"], peer_id=peer_id, count=self.count)
            await self.consumer_added(received, consumed)
            await self.request("rtc:resumeConsumer", {"consumerId": consumed["id"]})
            return str(consumed["id"])

    async def subscribe(self, producer_id: str) -> str | None:
        """:meth:`consume` when the producer's peer does not matter."""
        return await self.consume("", producer_id)

    async def consumer_added(self, received: Received, consumed: dict[str, Any]) -> None:
        """Hook: a consumer is set up (still paused on the server)."""

    async def consumer_removed(self, received: Received) -> None:
        """Hook: a consumer is closed (its producer went, or this peer left)."""

    async def _remove(self, consumer_id: str) -> None:
        received = await self.media.drop(consumer_id)
        if received is not None:
            self._consumed.pop(received.producer_id, None)
            await self.consumer_removed(received)

    # -- events -----------------------------------------------------------------------------

    def handle_event(self, event: str, data: dict[str, Any]) -> None:
        """React to a pushed event (a listener of the socket)."""
        if event == "rtc:peerJoined":
            self.names[data["peerId"]] = data.get("displayName", "")
        elif event == "rtc:newProducer" and self.auto_consume:
            if self.receiving:
                self.spawn(self.consume(data["peerId"], data["producerId"]))
            else:
                self._announced[data["producerId"]] = data["peerId"]
        elif event == "rtc:producerClosed":
            self._announced.pop(data.get("producerId", ""), None)
        elif event == "rtc:consumerClosed":
            self.spawn(self._remove(data["consumerId"]))  # forgotten, not closed (drop)
        elif event == "rtc:reconnect" and data.get("reason") != "server_shutdown":
            self.spawn(self.reconnect())  # on a shutdown the socket closes next

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Run ``coro`` as a task of this peer (cancelled by :meth:`close`)."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("bot %s: task failed", self.name, exc_info=task.exception())

    async def reconnect(self) -> None:
        """After ``rtc:reconnect``: new transports on the new router, same peer, media again."""
        self.reconnects += 1
        await self._close_media()
        self.media = MediaDevice(self.name, send_media=self.send_media, counts=self.counts)
        try:
            await self.join(resume=True)
        except SignalingError as error:
            if error.code != "not_found":
                raise
            await self.join()  # the resume was refused: join afresh
        if self.published:
            await self.publish()

    # -- the end ----------------------------------------------------------------------------

    async def _close_media(self) -> None:
        for consumer_id in list(self.media.received):
            await self._remove(consumer_id)
        await self.media.close()
        self._consumed.clear()

    async def leave(self) -> None:
        """``rtc:leave``, then close the media side (the socket stays open)."""
        await self.request("rtc:leave", {})
        await self._close_media()

    async def close(self) -> None:
        """Stop everything local; the server side stays until ``leave`` or the socket closes."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._close_media()


class Bot(CallPeer):
    """A :class:`CallPeer` on its own meeting socket; ``await connect()`` first."""

    def __init__(self, url: str, origin: str | None = None, name: str = "bot",
                 **options: Any) -> None:
        self.signaling = SignalingClient(url, origin=origin, name=name)
        super().__init__(self.signaling.request, name, **options)
        self.signaling.on_event(self.handle_event)

    @property
    def events(self) -> list[dict[str, Any]]:
        """Every event received on the socket."""
        return self.signaling.events

    async def connect(self) -> dict[str, Any]:
        """Open the socket; the ``meeting.state`` push (:class:`bots.signaling.Refused`)."""
        return await self.signaling.connect()

    async def stay(self, stop: asyncio.Event, duration: float | None = None) -> str:
        """Stay in the call until ``stop`` is set, ``duration`` seconds passed or the socket
        closed; why: ``stopped``, ``time_up``, ``meeting_ended`` or ``socket_closed``."""
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait([stopped, self.signaling.closed], timeout=duration,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
        if self.signaling.closed.done():
            ended = (self.signaling.closed.result() == MEETING_ENDED_CLOSE
                     or any(e["type"] == "meeting.ended" for e in self.events))
            return "meeting_ended" if ended else "socket_closed"
        return "stopped" if stop.is_set() else "time_up"

    async def leave_quietly(self) -> None:
        """``rtc:leave`` if the socket still allows it; a failure is only logged."""
        try:
            await self.leave()
        except (SignalingError, SocketClosed, TimeoutError) as error:
            logger.info("bot %s: leave failed: %r", self.name, error)

    async def close(self) -> None:
        """Stop the media and close the socket."""
        await super().close()
        await self.signaling.close()
