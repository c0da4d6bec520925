"""The rtc:* requests: each declared once, with its schema, grant and service call.

Each call is thin: the route (`rtc.signaling.routes`) has rate-limited the socket, validated
``data`` into its model (:mod:`rtc.signaling.schemas`) and checked the peer's grants
(`rtc.policy.grants`); the call asks the RoomService and returns the reply data (whose ``type`` is
the reply name). Failures are :class:`SignalingError`, which the consumer sends back as
``{"requestId", "error", "code"}``; anything else becomes ``internal``.

When a connection closes, its peer is detached (and kept for the reconnect grace period).
"""

from __future__ import annotations

import logging
from typing import Any

from rtc import cluster
from rtc.policy import grants as rtc_grants
from rtc.policy.turn import ice_servers_for
from rtc.recording.manager import recorder
from rtc.services import get_room_service
from rtc.signaling import replies
from rtc.signaling.errors import ErrorCode, SignalingError
from rtc.signaling.routes import route
from rtc.signaling.schemas import (
    ConnectTransportRequest,
    ConsumeRequest,
    ConsumerRequest,
    CreateTransportRequest,
    GetStatsRequest,
    HostRemovePeerRequest,
    JoinRequest,
    LeaveRequest,
    ProduceRequest,
    ProducerRequest,
    SetPreferredLayersRequest,
    TransportRequest,
)
from rtc.websocket.envelope import Connection, registry

__all__ = ["service_of"]

logger = logging.getLogger(__name__)

Reply = dict[str, Any]


def service_of(conn: Connection) -> Any:
    """The RoomService serving ``conn``'s call: the process's, or the one of the cluster node
    that serves a relayed request (`rtc.cluster.relay.RemoteConnection.room_service`)."""
    return getattr(conn, "room_service", None) or get_room_service()


@route("rtc:join", schema=JoinRequest,
       grant=rtc_grants.allowed, reply=replies.JoinedReply, events=("rtc:peerJoined",))
async def join(conn: Connection, request: JoinRequest) -> Reply:
    """Enter the meeting's call, or resume a peer whose socket dropped.

    The reply also carries the ``iceServers`` (TURN with fresh credentials) the client gives
    its transports.
    """
    reply = await service_of(conn).join(channel_name=conn.channel_name,
                                          meeting_id=conn.meeting_id, user=conn.user,
                                          request=request,
                                          grants=rtc_grants.connection_grants(conn),
                                          access=getattr(conn, "join_access", None))
    return {**reply, "iceServers": ice_servers_for(conn.user.pk),
            "recording": recorder.state(conn.meeting_id)}


@route("rtc:leave", schema=LeaveRequest,
       grant=rtc_grants.allowed, reply=replies.LeftReply, events=("rtc:peerLeft",))
async def leave(conn: Connection, request: LeaveRequest) -> Reply:
    """Leave the call now; the meeting socket stays open."""
    return await service_of(conn).leave(channel_name=conn.channel_name)


@route("rtc:createTransport", schema=CreateTransportRequest,
       grant=rtc_grants.create_transport, reply=replies.TransportCreatedReply)
async def create_transport(conn: Connection, request: CreateTransportRequest) -> Reply:
    """A send or recv WebRtcTransport."""
    return await service_of(conn).create_transport(channel_name=conn.channel_name,
                                                     request=request)


@route("rtc:connectTransport", schema=ConnectTransportRequest,
       grant=rtc_grants.allowed, reply=replies.TransportConnectedReply)
async def connect_transport(conn: Connection, request: ConnectTransportRequest) -> Reply:
    """The client's DTLS parameters for one of its transports."""
    return await service_of(conn).connect_transport(channel_name=conn.channel_name,
                                                      request=request)


@route("rtc:restartIce", schema=TransportRequest,
       grant=rtc_grants.allowed, reply=replies.IceRestartedReply)
async def restart_ice(conn: Connection, request: TransportRequest) -> Reply:
    """New ICE parameters for one of the peer's transports."""
    return await service_of(conn).restart_ice(channel_name=conn.channel_name,
                                                transport_id=request.transport_id)


@route("rtc:closeTransport", schema=TransportRequest,
       grant=rtc_grants.allowed, reply=replies.TransportClosedReply,
       events=("rtc:producerClosed", "rtc:consumerClosed"))
async def close_transport(conn: Connection, request: TransportRequest) -> Reply:
    """Close one of the peer's transports (and what it carries)."""
    return await service_of(conn).close_transport(channel_name=conn.channel_name,
                                                    transport_id=request.transport_id)


@route("rtc:produce", schema=ProduceRequest,
       grant=rtc_grants.produce, reply=replies.ProducedReply, events=("rtc:newProducer",))
async def produce(conn: Connection, request: ProduceRequest) -> Reply:
    """Send a track; the others get ``rtc:newProducer``."""
    return await service_of(conn).produce(channel_name=conn.channel_name, request=request)


@route("rtc:pauseProducer", schema=ProducerRequest,
       grant=rtc_grants.allowed, reply=replies.ProducerPausedReply, events=("rtc:producerPaused",))
async def pause_producer(conn: Connection, request: ProducerRequest) -> Reply:
    """Pause one of the peer's producers; the others get ``rtc:producerPaused``."""
    return await service_of(conn).set_producer_paused(
        channel_name=conn.channel_name, producer_id=request.producer_id, paused=True)


@route("rtc:resumeProducer", schema=ProducerRequest,
       grant=rtc_grants.resume_producer, reply=replies.ProducerResumedReply,
       events=("rtc:producerResumed",))
async def resume_producer(conn: Connection, request: ProducerRequest) -> Reply:
    """Resume one of the peer's producers; the others get ``rtc:producerResumed``."""
    return await service_of(conn).set_producer_paused(
        channel_name=conn.channel_name, producer_id=request.producer_id, paused=False)


@route("rtc:closeProducer", schema=ProducerRequest,
       grant=rtc_grants.allowed, reply=replies.ProducerClosedReply, events=("rtc:producerClosed",))
async def close_producer(conn: Connection, request: ProducerRequest) -> Reply:
    """Stop one of the peer's producers; the others get ``rtc:producerClosed``."""
    return await service_of(conn).close_producer(channel_name=conn.channel_name,
                                                   producer_id=request.producer_id)


@route("rtc:consume", schema=ConsumeRequest, grant=rtc_grants.subscribe,
       reply=replies.ConsumedReply)
async def consume(conn: Connection, request: ConsumeRequest) -> Reply:
    """Receive another peer's producer (paused until ``rtc:resumeConsumer``)."""
    return await service_of(conn).consume(channel_name=conn.channel_name, request=request)


@route("rtc:resumeConsumer", schema=ConsumerRequest,
       grant=rtc_grants.subscribe, reply=replies.ConsumerResumedReply)
async def resume_consumer(conn: Connection, request: ConsumerRequest) -> Reply:
    """Start the media of one of the peer's consumers."""
    return await service_of(conn).set_consumer_paused(
        channel_name=conn.channel_name, consumer_id=request.consumer_id, paused=False)


@route("rtc:pauseConsumer", schema=ConsumerRequest,
       grant=rtc_grants.allowed, reply=replies.ConsumerPausedReply)
async def pause_consumer(conn: Connection, request: ConsumerRequest) -> Reply:
    """Stop the media of one of the peer's consumers for now."""
    return await service_of(conn).set_consumer_paused(
        channel_name=conn.channel_name, consumer_id=request.consumer_id, paused=True)


@route("rtc:closeConsumer", schema=ConsumerRequest,
       grant=rtc_grants.allowed, reply=replies.ConsumerClosedReply)
async def close_consumer(conn: Connection, request: ConsumerRequest) -> Reply:
    """Stop receiving one track for good."""
    return await service_of(conn).close_consumer(channel_name=conn.channel_name,
                                                   consumer_id=request.consumer_id)


@route("rtc:setPreferredLayers", schema=SetPreferredLayersRequest,
       grant=rtc_grants.subscribe, reply=replies.PreferredLayersSetReply,
       events=("rtc:producerLayers",))
async def set_preferred_layers(conn: Connection, request: SetPreferredLayersRequest) -> Reply:
    """Choose the simulcast/SVC layers of one of the peer's consumers."""
    return await service_of(conn).set_preferred_layers(channel_name=conn.channel_name,
                                                         request=request)


@route("rtc:getStats", schema=GetStatsRequest, grant=rtc_grants.allowed, reply=replies.StatsReply)
async def get_stats(conn: Connection, request: GetStatsRequest) -> Reply:
    """Stats of one of the peer's transports, producers or consumers."""
    return await service_of(conn).get_stats(channel_name=conn.channel_name, request=request)


@route("rtc:hostMuteProducer", schema=ProducerRequest,
       grant=rtc_grants.host, reply=replies.HostMutedReply, events=("rtc:producerPaused",))
async def host_mute_producer(conn: Connection, request: ProducerRequest) -> Reply:
    """Host only: pause any producer of the call; everyone else gets ``rtc:producerPaused``."""
    return await service_of(conn).set_producer_paused(
        channel_name=conn.channel_name, producer_id=request.producer_id, paused=True,
        by_host=True)


@route("rtc:hostRemovePeer", schema=HostRemovePeerRequest,
       grant=rtc_grants.host, reply=replies.HostRemovedReply,
       events=("rtc:removed", "rtc:peerLeft"))
async def host_remove_peer(conn: Connection, request: HostRemovePeerRequest) -> Reply:
    """Host only: remove a peer from the call (it may not join this call again)."""
    return await service_of(conn).remove_peer_by_host(channel_name=conn.channel_name,
                                                        peer_id=request.peer_id)


@route("rtc:serverStats", schema=LeaveRequest, grant=rtc_grants.allowed,
       reply=replies.ServerStatsReply)
async def server_stats(conn: Connection, request: LeaveRequest) -> Reply:
    """Staff only: how many rooms, peers, transports, producers, consumers and workers."""
    if not getattr(conn.user, "is_staff", False):
        raise SignalingError(ErrorCode.FORBIDDEN, "staff only")
    service = service_of(conn)
    return {"type": "rtc:serverStats", **service.counts(),
            "workerDumps": await service.worker_dumps() if service.mediasoup.started else []}


@registry.on_disconnect
async def detach_peer(conn: Connection) -> None:
    """The socket closed: keep its peer for the grace period (none when cut off for
    flooding)."""
    if await cluster.detach_route(conn):
        return  # the call runs on another node: that node detached it
    await service_of(conn).detach(channel_name=conn.channel_name,
                                    grace=not getattr(conn, "flooded", False))
