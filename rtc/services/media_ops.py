"""The media half of RoomService: transports, producers, consumers, and their events.

:class:`MediaOperations` is one object the RoomService holds (and forwards the media requests
to); it is given what it needs, the worker pool, the call's routers (:class:`RouterSpread`),
the lookup of a connection's peer and the way to run background tasks, and keeps no state of
its own: the call model is :mod:`rtc.services.rooms`. Media objects are used by duck typing
(the library's classes only type them), so stand-ins for another node's objects work too.

Every method resolves the caller's peer from its connection and the ids it names through the
peer's own maps (:mod:`rtc.services.rooms`), checks the limits, then calls the control layer
inside :func:`rtc.services.errors.media_errors`. After each await it re-checks that the peer is
still in the call: a peer removed meanwhile must not gain an object nobody would close.

Events: ``rtc:newProducer``, ``rtc:producerPaused/Resumed/Closed`` (group, without the sender),
``rtc:consumerClosed`` and ``rtc:transportClosed`` (to the owner), ``rtc:activeSpeaker``
(group, everyone), ``rtc:producerLayers`` (to a simulcast producer's owner, see
:mod:`rtc.services.dynacast`).

Bandwidth: the worker's estimate is shared among a transport's video consumers by priority
(audio is never part of it: the worker always forwards audio), so a shared screen
(``SCREEN_PRIORITY``) gets its layers before cameras when a receiver's downlink is thin.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from conference import clock
from rtc import signals
from rtc.services import notify
from rtc.services.config import limits, transport_options
from rtc.services.errors import media_errors
from rtc.services.rooms import Peer, Room
from rtc.services.spread import RouterSpread, StartTask
from rtc.signaling.errors import ErrorCode, SignalingError
from rtc.signaling.schemas import (
    ConnectTransportRequest,
    ConsumeRequest,
    CreateTransportRequest,
    GetStatsRequest,
    ProduceRequest,
    SetPreferredLayersRequest,
)

if TYPE_CHECKING:
    from mediasoup_ctl import Consumer, Producer, Router, Transport
    from mediasoup_ctl.types import RtpCapabilities

    from rtc.policy.grants import Grants
    from rtc.services.mediasoup_service import MediasoupService

__all__ = ["MediaOperations"]

logger = logging.getLogger(__name__)

SCREEN_PRIORITY = 3
"""Bandwidth priority of a shared screen's consumers (cameras keep the worker's default, 1)."""


class MediaOperations:
    """The media requests of every call of one RoomService."""

    def __init__(self, mediasoup: MediasoupService, spread: RouterSpread, *,
                 peer_of: Callable[[str], tuple[Room, Peer]], start_task: StartTask) -> None:
        self.mediasoup = mediasoup
        self.spread = spread
        self.peer_of = peer_of
        """The room and peer attached to a connection (``invalid`` when it has not joined)."""
        self._start_task = start_task

    @staticmethod
    def _check_alive(room: Room, peer: Peer, obj: Any, router: Router | None = None) -> None:
        """After an await: the peer left or the room moved meanwhile (the router the object
        was made on, by default the peer's, is gone); undo and refuse."""
        router = router or peer.router or room.router
        if peer.closed or room.closed or router.closed:
            obj.close()
            raise SignalingError(ErrorCode.INVALID, "you left the call")

    # -- transports ---------------------------------------------------------------------------

    async def create_transport(self, *, channel_name: str,
                               request: CreateTransportRequest) -> dict[str, Any]:
        """``rtc:createTransport``: a WebRtcTransport for sending or receiving."""
        room, peer = self.peer_of(channel_name)
        limit = limits()
        if len(peer.transports) >= limit.max_transports_per_peer:
            raise SignalingError(ErrorCode.LIMIT, "too many transports")
        options = transport_options()
        router = await self.spread.router_for(room, peer)
        server = self.mediasoup.webrtc_server_of(room.workers.get(router.id, room.worker))
        kwargs: dict[str, Any] = {
            # On the worker's shared WebRtcServer port when one is configured.
            **({"webrtc_server": server} if server is not None
               else {"listen_infos": options.listen_infos}),
            "enable_udp": True,
            "enable_tcp": options.enable_tcp,
            "prefer_udp": True,
            "initial_available_outgoing_bitrate": options.initial_available_outgoing_bitrate,
            "app_data": {"peerId": peer.id, "direction": request.direction},
        }
        if request.sctp_capabilities is not None:
            kwargs["enable_sctp"] = True
            kwargs["num_sctp_streams"] = request.sctp_capabilities["numStreams"]
        with media_errors("createTransport"):
            transport = await router.create_webrtc_transport(**kwargs)
        self._check_alive(room, peer, transport, router)
        if request.direction == "send" and options.max_incoming_bitrate:
            try:
                await transport.set_max_incoming_bitrate(int(options.max_incoming_bitrate))
            except Exception as exc:  # the transport still works without the cap
                logger.warning("set_max_incoming_bitrate failed [transport:%s]: %s",
                               transport.id, exc)
        self._check_alive(room, peer, transport, router)
        peer.add_transport(transport)
        self._watch_transport(room, peer, transport, limit.transport_connect_timeout_seconds)
        logger.info("transport created [meeting:%s, peer:%s, transport:%s, direction:%s]",
                    room.meeting_id, peer.id, transport.id, request.direction)
        return {
            "type": "rtc:transportCreated",
            "id": transport.id,
            "iceParameters": transport.ice_parameters,
            "iceCandidates": transport.ice_candidates,
            "dtlsParameters": transport.dtls_parameters,
            "sctpParameters": transport.sctp_parameters,
        }

    def _watch_transport(self, room: Room, peer: Peer, transport: Transport,
                         timeout: float) -> None:
        """Close the transport when DTLS fails, or is not connected within ``timeout``."""

        def on_dtls(state: str) -> None:
            if state == "connected":
                peer.connected(transport.id)
            elif state in ("failed", "closed"):
                self._start_task(self._drop_transport(room, peer, transport.id,
                                                      reason=f"dtls_{state}"))

        transport.on("dtlsstatechange", on_dtls)
        if timeout > 0:
            peer.set_connect_timer(transport.id, clock.current().call_later(
                timeout, lambda: self._start_task(
                    self._drop_transport(room, peer, transport.id, reason="connect_timeout"))))

    async def _drop_transport(self, room: Room, peer: Peer, transport_id: str, *,
                              reason: str) -> None:
        """Close one transport of the peer, tell it why, tell the others about its producers."""
        transport = peer.transports.get(transport_id)
        if transport is None or peer.closed:
            return
        closed_producers = peer.drop_transport(transport_id)
        logger.info("transport closed [meeting:%s, peer:%s, transport:%s, reason:%s]",
                    room.meeting_id, peer.id, transport_id, reason)
        await notify.send_to(peer.channel_name, "rtc:transportClosed",
                             {"transportId": transport_id, "reason": reason})
        await self._producers_closed(room, peer, closed_producers)

    @staticmethod
    async def _producers_closed(room: Room, peer: Peer, producer_ids: list[str]) -> None:
        """Tell the others (not the peer's own socket) that these producers of it closed."""
        for producer_id in producer_ids:
            await notify.broadcast(room.meeting_id, "rtc:producerClosed",
                                   {"peerId": peer.id, "producerId": producer_id},
                                   exclude=peer.channel_name)

    async def connect_transport(self, *, channel_name: str,
                                request: ConnectTransportRequest) -> dict[str, Any]:
        """``rtc:connectTransport``: the client's DTLS parameters."""
        _, peer = self.peer_of(channel_name)
        transport = peer.transport(request.transport_id)
        with media_errors("connectTransport"):
            await transport.connect(dtls_parameters=request.dtls_parameters)
        return {"type": "rtc:transportConnected"}

    async def close_transport(self, *, channel_name: str, transport_id: str) -> dict[str, Any]:
        """``rtc:closeTransport``: the client gives up a transport (e.g. after ICE failed)."""
        room, peer = self.peer_of(channel_name)
        peer.transport(transport_id)
        await self._producers_closed(room, peer, peer.drop_transport(transport_id))
        return {"type": "rtc:transportClosed", "transportId": transport_id}

    async def restart_ice(self, *, channel_name: str, transport_id: str) -> dict[str, Any]:
        """``rtc:restartIce``: new ICE credentials (after a network change or a resume)."""
        _, peer = self.peer_of(channel_name)
        transport = peer.transport(transport_id)
        with media_errors("restartIce"):
            ice_parameters = await transport.restart_ice()
        return {"type": "rtc:iceRestarted", "iceParameters": ice_parameters}

    # -- producers ----------------------------------------------------------------------------

    async def produce(self, *, channel_name: str, request: ProduceRequest) -> dict[str, Any]:
        """``rtc:produce``: start receiving one track from the peer, announce it."""
        room, peer = self.peer_of(channel_name)
        transport = peer.transport(request.transport_id, "send")
        limit = limits()
        if len(peer.producers) >= limit.max_producers_per_peer:
            raise SignalingError(ErrorCode.LIMIT, "too many producers")
        if len(room.producer_owner) >= limit.max_producers_per_meeting:
            raise SignalingError(ErrorCode.LIMIT, "too many producers in this call")
        with media_errors("produce"):
            producer = await transport.produce(
                kind=request.kind, rtp_parameters=request.rtp_parameters,
                paused=request.paused, app_data=dict(request.app_data))
        self._check_alive(room, peer, producer)
        if transport.closed:
            producer.close()
            raise SignalingError(ErrorCode.NOT_FOUND, "transport closed")
        room.add_producer(peer, producer)
        router = peer.router or room.router
        producer.on("transportclose", lambda: self._producer_lost(room, peer, producer, router))
        self._announce_track(room, peer, producer)
        if producer.kind == "audio":
            await self.spread.observe_audio(room, producer)
        logger.info("producer created [meeting:%s, peer:%s, producer:%s, kind:%s]",
                    room.meeting_id, peer.id, producer.id, producer.kind)
        await notify.broadcast(room.meeting_id, "rtc:newProducer", {
            "peerId": peer.id, "producerId": producer.id, "kind": producer.kind,
            "appData": dict(producer.app_data), "paused": producer.paused,
        }, exclude=channel_name)
        return {"type": "rtc:produced", "id": producer.id}

    @staticmethod
    def _announce_track(room: Room, peer: Peer, producer: Producer) -> None:
        """``rtc.signals.track_published`` now, ``track_unpublished`` whenever it closes (the
        producer's observer sees every way it can close)."""
        details = {"meeting_id": room.meeting_id, "peer_id": peer.id, "user_id": peer.user_id,
                   "producer_id": producer.id, "kind": producer.kind,
                   "source": str((producer.app_data or {}).get("source", ""))}
        producer.observer.on("close", lambda: signals.send_safely(
            signals.track_unpublished, sender=Room, **details))
        signals.send_safely(signals.track_published, sender=Room, **details)

    @staticmethod
    def _producer_lost(room: Room, peer: Peer, producer: Producer, router: Router) -> None:
        """Its transport closed under it: noted when that was its router dying (the others
        are told by :meth:`RouterSpread.routers_lost`); not when the peer's own media was
        released (it left, or its media is being rebuilt), which tells them itself."""
        if not peer.closed and peer.transports and router.closed:
            room.lost_producers.append((peer, producer.id))

    async def set_producer_paused(self, *, channel_name: str, producer_id: str, paused: bool,
                                  by_host: bool = False) -> dict[str, Any]:
        """``rtc:pauseProducer``/``resumeProducer``, and ``rtc:hostMuteProducer``."""
        room, peer = self.peer_of(channel_name)
        if by_host and not peer.is_host:
            raise SignalingError(ErrorCode.FORBIDDEN, "only the host may mute others")
        if by_host:
            await self.mute_producer(room, producer_id, exclude=channel_name)
            logger.info("host muted producer [meeting:%s, host:%s, producer:%s]",
                        room.meeting_id, peer.id, producer_id)
            return {"type": "rtc:hostMuted", "producerId": producer_id}
        _, producer = room.producer(producer_id, owner=peer)
        with media_errors("pauseProducer" if paused else "resumeProducer"):
            await (producer.pause() if paused else producer.resume())
        event = "rtc:producerPaused" if paused else "rtc:producerResumed"
        await notify.broadcast(room.meeting_id, event,
                               {"peerId": peer.id, "producerId": producer_id},
                               exclude=channel_name)
        return {"type": event, "producerId": producer_id}

    @staticmethod
    async def mute_producer(room: Room, producer_id: str, *,
                            exclude: str | None = None) -> Peer:
        """Pause any producer of the call for its owner (the host's or staff's mute); the call
        (but ``exclude``, the host's own socket) gets ``rtc:producerPaused`` with ``byHost``
        (the client treats staff like the host). Returns the producer's peer."""
        owner, producer = room.producer(producer_id)
        with media_errors("pauseProducer"):
            await producer.pause()
        await notify.broadcast(room.meeting_id, "rtc:producerPaused",
                               {"peerId": owner.id, "producerId": producer_id, "byHost": True},
                               exclude=exclude)
        return owner

    async def close_producer(self, *, channel_name: str, producer_id: str) -> dict[str, Any]:
        """``rtc:closeProducer``: stop a track; its consumers close, the others are told."""
        room, peer = self.peer_of(channel_name)
        _, producer = room.producer(producer_id, owner=peer)
        producer.close()
        await self._producers_closed(room, peer, [producer_id])
        return {"type": "rtc:producerClosed", "producerId": producer_id}

    async def apply_grants(self, room: Room, peer: Peer,
                           grants: Grants) -> tuple[list[str], list[str]]:
        """Give ``peer`` changed `rtc.policy.grants.Grants` now: its producers of a source no longer
        allowed close (the others are told), its consumers close when subscribing is revoked
        (it is told each), and it gets ``rtc:grantsUpdated``. The ids of the closed producers
        and consumers. The caller holds the room lock."""
        peer.grants = grants
        peer.is_host = grants.host
        closed_producers = [pid for pid, producer in peer.producers.items()
                            if not grants.may_publish((producer.app_data or {}).get("source"))]
        for producer_id in closed_producers:
            peer.producers[producer_id].close()
            await self._producers_closed(room, peer, [producer_id])
        consumers = [] if grants.subscribe else peer.close_consumers()
        for consumer in consumers:
            await notify.send_to(peer.channel_name, "rtc:consumerClosed",
                                 {"consumerId": consumer.id, "producerId": consumer.producer_id})
        closed_consumers = [consumer.id for consumer in consumers]
        await notify.send_to(peer.channel_name, "rtc:grantsUpdated", {
            "grants": grants.as_dict(), "closedProducers": closed_producers,
            "closedConsumers": closed_consumers})
        return closed_producers, closed_consumers

    # -- consumers ----------------------------------------------------------------------------

    async def consume(self, *, channel_name: str, request: ConsumeRequest) -> dict[str, Any]:
        """``rtc:consume``: send another peer's producer to this peer (paused by default)."""
        room, peer = self.peer_of(channel_name)
        transport = peer.transport(request.transport_id, "recv")
        owner, producer = room.producer(request.producer_id)
        if owner is peer:
            raise SignalingError(ErrorCode.INVALID, "cannot consume your own producer")
        if len(peer.consumers) >= limits().max_consumers_per_peer:
            raise SignalingError(ErrorCode.LIMIT, "too many consumers")
        if not room.router_of(producer.id).can_consume(
                producer_id=producer.id,
                rtp_capabilities=cast("RtpCapabilities", request.rtp_capabilities)):
            raise SignalingError(ErrorCode.INVALID,
                                 "cannot consume this producer with these rtpCapabilities")
        try:
            with media_errors("consume"):
                # From another router of the call: piped into this one first (once).
                await self.spread.pipe_to(room, producer.id, peer.router or room.router)
                consumer = await transport.consume(
                    producer_id=producer.id, rtp_capabilities=request.rtp_capabilities,
                    paused=request.paused, app_data={"peerId": owner.id})
        except SignalingError:
            if producer.closed or room.owner_of(producer.id) is not owner:
                raise SignalingError(ErrorCode.NOT_FOUND, "producer closed") from None
            raise
        if consumer.kind == "video" and (producer.app_data or {}).get("source") == "screen":
            try:
                await consumer.set_priority(SCREEN_PRIORITY)
            except Exception as exc:  # the consumer works at the default priority
                logger.warning("set_priority failed [consumer:%s]: %s", consumer.id, exc)
        self._check_alive(room, peer, consumer)
        if consumer.closed or transport.closed:
            consumer.close()
            raise SignalingError(ErrorCode.NOT_FOUND, "producer or transport closed")
        consumer.on("producerclose", lambda: self._on_producer_gone(peer, consumer))
        return {
            "type": "rtc:consumed",
            "id": consumer.id,
            "producerId": producer.id,
            "peerId": owner.id,
            "kind": consumer.kind,
            "rtpParameters": consumer.rtp_parameters,
            "consumerType": consumer.type,
            "appData": dict(producer.app_data),
            "paused": consumer.paused,
            "producerPaused": consumer.producer_paused,
        }

    def _on_producer_gone(self, peer: Peer, consumer: Consumer) -> None:
        """The worker closed the consumer because its producer closed: tell its peer."""
        if peer.closed:
            return
        self._start_task(notify.send_to(peer.channel_name, "rtc:consumerClosed", {
            "consumerId": consumer.id, "producerId": consumer.producer_id}))

    async def set_consumer_paused(self, *, channel_name: str, consumer_id: str,
                                  paused: bool) -> dict[str, Any]:
        """``rtc:resumeConsumer`` (start the media) and ``rtc:pauseConsumer``."""
        _, peer = self.peer_of(channel_name)
        consumer = peer.consumer(consumer_id)
        with media_errors("pauseConsumer" if paused else "resumeConsumer"):
            await (consumer.pause() if paused else consumer.resume())
        return {"type": "rtc:consumerPaused" if paused else "rtc:consumerResumed",
                "consumerId": consumer_id}

    async def close_consumer(self, *, channel_name: str, consumer_id: str) -> dict[str, Any]:
        """``rtc:closeConsumer``: stop receiving one track."""
        _, peer = self.peer_of(channel_name)
        consumer = peer.consumer(consumer_id)
        consumer.close()
        return {"type": "rtc:consumerClosed", "consumerId": consumer_id}

    async def set_preferred_layers(self, *, channel_name: str,
                                   request: SetPreferredLayersRequest) -> dict[str, Any]:
        """``rtc:setPreferredLayers``: choose simulcast/SVC layers of a consumer."""
        room, peer = self.peer_of(channel_name)
        consumer = peer.consumer(request.consumer_id)
        with media_errors("setPreferredLayers"):
            await consumer.set_preferred_layers(spatial_layer=request.spatial_layer,
                                                temporal_layer=request.temporal_layer)
        if room.dynacast is not None:
            room.dynacast.changed(consumer)
        return {"type": "rtc:preferredLayersSet", "consumerId": request.consumer_id,
                "preferredLayers": consumer.preferred_layers}

    # -- stats --------------------------------------------------------------------------------

    async def get_stats(self, *, channel_name: str, request: GetStatsRequest) -> dict[str, Any]:
        """``rtc:getStats``: the worker's stats of one of the peer's own objects."""
        room, peer = self.peer_of(channel_name)
        target: Transport | Consumer | Producer
        if request.target == "transport":
            target = peer.transport(request.object_id)
        elif request.target == "consumer":
            target = peer.consumer(request.object_id)
        else:
            target = room.producer(request.object_id, owner=peer)[1]
        with media_errors("getStats"):
            stats = await target.get_stats()
        return {"type": "rtc:stats", request.target + "Id": request.object_id, "stats": stats}
