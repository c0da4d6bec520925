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
from bots.protocol_codes import CloseCode
from bots.signaling import SignalingClient, SignalingError, SocketClosed

__all__ = ["MEETING_ENDED_CLOSE", "Bot", "CallPeer", "Request"]

logger = logging.getLogger(__name__)

MEETING_ENDED_CLOSE = CloseCode.MEETING_ENDED
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
        await self._set_up(await self.request("rtc:join", self._join_data(resume=resume)))
        return self.joined

    def _join_data(self, *, resume: bool) -> dict[str, Any]:
        data: dict[str, Any] = {"displayName": self.name, "device": {"flag": "pymediasoup"}}
        if resume:
            data["resume"] = {"peerId": self.joined["peerId"],
                              "token": self.joined["resumeToken"]}
        return data

    async def _set_up(self, joined: dict[str, Any]) -> None:
        """A new media session from an ``rtc:joined`` reply."""
        self.joined = joined
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

    async def resume_after_drop(self) -> str:
        """On a new socket after the old one was lost: ``rtc:join`` with ``resume`` (PROTOCOL.md,
        Reconnecting), then the cheapest way back; which one it took:

        * ``kept``: the server kept this peer and its transports (the drop was shorter than the
          reconnect grace), so the media goes on over them: ICE itself recovers once packets
          flow again (the worker is ICE-lite and answers the client's next check). What changed
          while the socket was away is caught up: producers consumed, gone consumers dropped.
        * ``rebuilt``: the peer is kept but its transports are not: what is left of them on
          the server is closed, new transports are made, the tracks produced again.
        * ``rejoined``: the peer is gone (the grace ran out): joined afresh as a new peer.
        """
        try:
            joined = await self.request("rtc:join", self._join_data(resume=True))
        except SignalingError as error:
            if error.code != "not_found":
                raise
            await self._replace_media()
            await self.join()
            if self.published:
                await self.publish()
            return "rejoined"
        on_server = {t["id"] for t in joined.get("transports", [])}
        local = {t.id for t in (self.media.send, self.media.recv)
                 if t is not None and not t.closed}
        if joined.get("resumed") and local and local <= on_server:
            self.joined = joined
            self.names.update({p["peerId"]: p["displayName"] for p in joined["peers"]})
            alive = {c["id"] for c in joined.get("consumers", [])}
            for consumer_id in [c for c in self.media.received if c not in alive]:
                await self._remove(consumer_id)
            if self.auto_consume:
                for peer in joined["peers"]:
                    for producer in peer["producers"]:
                        try:
                            await self.consume(peer["peerId"], producer["id"])
                        except SignalingError as error:
                            logger.info("bot %s: producer %s not consumed: %s", self.name,
                                        producer["id"], error)
            logger.info("bot %s resumed peer %s, media kept", self.name, self.peer_id)
            return "kept"
        for transport_id in on_server:
            try:
                await self.request("rtc:closeTransport", {"transportId": transport_id})
            except SignalingError as error:
                logger.info("bot %s: stale transport %s: %s", self.name, transport_id, error)
        await self._replace_media()
        await self._set_up(joined)
        if self.published:
            await self.publish()
        return "rebuilt"

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
        await self._replace_media()
        try:
            await self.join(resume=True)
        except SignalingError as error:
            if error.code != "not_found":
                raise
            await self.join()  # the resume was refused: join afresh
        if self.published:
            await self.publish()

    # -- the end ----------------------------------------------------------------------------

    async def _replace_media(self) -> None:
        """Close the media side and start a fresh one (same frame counts)."""
        await self._close_media()
        self.media = MediaDevice(self.name, send_media=self.send_media, counts=self.counts)

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
    """A :class:`CallPeer` on its own meeting socket; ``await connect()`` first.

    ``socket`` options go to each :class:`bots.signaling.SignalingClient` it opens
    (``ping_interval``, ``ping_timeout``, ``timeout``...). After :meth:`keep_connected` a socket
    that is lost (its network dropped, the server restarted) is opened again with backoff and
    the peer resumed (:meth:`CallPeer.resume_after_drop`), as the call page does.
    """

    def __init__(self, url: str, origin: str | None = None, name: str = "bot", *,
                 socket: dict[str, Any] | None = None, **options: Any) -> None:
        self.url = url
        self.origin = origin
        self.socket_options = dict(socket or {})
        self.signaling = SignalingClient(url, origin=origin, name=name, **self.socket_options)
        super().__init__(self._request, name, **options)
        self.signaling.on_event(self.handle_event)
        self.socket_reconnects = 0
        """Sockets opened again after one was lost (:meth:`keep_connected`)."""
        self.resumes: list[str] = []
        """How each of those came back: ``kept``, ``rebuilt`` or ``rejoined``."""
        self._watch: asyncio.Task[None] | None = None
        self._stopping = False

    async def _request(self, message_type: str, data: dict[str, Any] | None = None) -> Any:
        return await self.signaling.request(message_type, data)

    def keep_connected(self, *, max_backoff: float = 5.0) -> None:
        """From now on, open the socket again whenever it closes without :meth:`close` (and
        without a final 44xx code: meeting ended, removed...), with backoff up to
        ``max_backoff`` seconds, and resume the peer on it."""
        if self._watch is None:
            self._watch = asyncio.get_running_loop().create_task(
                self._keep_connected(max_backoff))

    async def _keep_connected(self, max_backoff: float) -> None:
        while not self._stopping:
            code = await asyncio.shield(self.signaling.closed)
            if self._stopping or 4400 <= code < 4500:
                return
            logger.info("bot %s: socket lost (%s), reconnecting", self.name, code)
            delay = 0.5
            while not self._stopping:
                try:
                    await self._reopen()
                    break
                except Exception as error:  # the server or the network may still be away
                    logger.info("bot %s: reconnect failed: %r", self.name, error)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, max_backoff)

    async def _reopen(self) -> None:
        if self.signaling.closed.done():
            signaling = SignalingClient(self.url, origin=self.origin, name=self.name,
                                        **self.socket_options)
            await signaling.connect()
            old, self.signaling = self.signaling, signaling
            await old.close()
            signaling.on_event(self.handle_event)
            self.socket_reconnects += 1
        outcome = await self.resume_after_drop()
        self.resumes.append(outcome)
        logger.info("bot %s: back on a new socket (%s)", self.name, outcome)

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
        """Stop reconnecting, stop the media and close the socket."""
        self._stopping = True
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
        await super().close()
        await self.signaling.close()
