"""The rtc:* request handlers, registered with the meeting consumer's registry.

Each handler is thin: rate-limit the connection, validate ``data`` into its schema
(:mod:`rtc.signaling.schemas`), call the RoomService, return the reply data (whose ``type`` is
the reply name). Failures are :class:`SignalingError`, which the consumer sends back as
``{"requestId", "error", "code"}``; anything else becomes ``internal``.

When a connection closes, its peer is detached (and kept for the reconnect grace period).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rtc import cluster
from rtc import grants as rtc_grants
from rtc.protocol import Connection, Request, registry
from rtc.recording.manager import recorder
from rtc.services import get_room_service
from rtc.services.config import limits
from rtc.signaling.errors import ErrorCode, SignalingError
from rtc.signaling.ratelimit import RateLimiter
from rtc.signaling.schemas import (
    ConnectTransportRequest,
    ConsumeRequest,
    ConsumerRequest,
    CreateTransportRequest,
    GetStatsRequest,
    HostRemovePeerRequest,
    JoinRequest,
    ProduceRequest,
    ProducerRequest,
    SetPreferredLayersRequest,
    TransportRequest,
    parse_request,
)
from rtc.turn import ice_servers_for

__all__ = ["IMPLS", "rate_limiter"]

logger = logging.getLogger(__name__)

rate_limiter = RateLimiter()
"""Request buckets of the open connections."""

registry.register_error(SignalingError)

Reply = dict[str, Any]
Impl = Callable[[Connection, Any], Awaitable[Reply]]


def service_of(conn: Connection) -> Any:
    """The RoomService serving ``conn``'s call: the process's, or the one of the cluster node
    that serves a relayed request (`rtc.cluster.relay.RemoteConnection.room_service`)."""
    return getattr(conn, "room_service", None) or get_room_service()


IMPLS: dict[str, Impl] = {}
"""Request type → its implementation (the owner node of a call runs relayed requests)."""


def rtc_request(name: str, *, call_state: bool = False) -> Callable[[Impl], Impl]:
    """Register ``impl`` for request ``name``: rate limit, validate, then call it here, or on
    the node owning the call when that is another node of the cluster (`rtc.cluster`).
    ``call_state``: it reads the live call, so even a socket outside the call is served by
    the call's owner (`rtc.cluster.route_request`)."""

    def decorator(impl: Impl) -> Impl:
        async def handler(conn: Connection, request: Request) -> Reply:
            limit = limits()
            if not rate_limiter.allow(conn.channel_name, rate=limit.requests_per_second,
                                      burst=limit.request_burst):
                raise SignalingError(ErrorCode.LIMIT, "too many requests, slow down")
            parsed = parse_request(name, request.data)
            relayed = await cluster.route_request(conn, name, request, call_state=call_state)
            if relayed is not None:
                return relayed
            return await impl(conn, parsed)

        handler.__name__ = impl.__name__
        handler.__doc__ = impl.__doc__
        IMPLS[name] = impl
        registry.register(name)(handler)
        return impl

    return decorator


@rtc_request("rtc:join")
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


@rtc_request("rtc:leave")
async def leave(conn: Connection, request: Any) -> Reply:
    """Leave the call now; the meeting socket stays open."""
    return await service_of(conn).leave(channel_name=conn.channel_name)


@rtc_request("rtc:createTransport")
async def create_transport(conn: Connection, request: CreateTransportRequest) -> Reply:
    """A send or recv WebRtcTransport."""
    return await service_of(conn).create_transport(channel_name=conn.channel_name,
                                                     request=request)


@rtc_request("rtc:connectTransport")
async def connect_transport(conn: Connection, request: ConnectTransportRequest) -> Reply:
    """The client's DTLS parameters for one of its transports."""
    return await service_of(conn).connect_transport(channel_name=conn.channel_name,
                                                      request=request)


@rtc_request("rtc:restartIce")
async def restart_ice(conn: Connection, request: TransportRequest) -> Reply:
    """New ICE parameters for one of the peer's transports."""
    return await service_of(conn).restart_ice(channel_name=conn.channel_name,
                                                transport_id=request.transport_id)


@rtc_request("rtc:closeTransport")
async def close_transport(conn: Connection, request: TransportRequest) -> Reply:
    """Close one of the peer's transports (and what it carries)."""
    return await service_of(conn).close_transport(channel_name=conn.channel_name,
                                                    transport_id=request.transport_id)


@rtc_request("rtc:produce")
async def produce(conn: Connection, request: ProduceRequest) -> Reply:
    """Send a track; the others get ``rtc:newProducer``."""
    return await service_of(conn).produce(channel_name=conn.channel_name, request=request)


@rtc_request("rtc:pauseProducer")
async def pause_producer(conn: Connection, request: ProducerRequest) -> Reply:
    """Pause one of the peer's producers; the others get ``rtc:producerPaused``."""
    return await service_of(conn).set_producer_paused(
        channel_name=conn.channel_name, producer_id=request.producer_id, paused=True)


@rtc_request("rtc:resumeProducer")
async def resume_producer(conn: Connection, request: ProducerRequest) -> Reply:
    """Resume one of the peer's producers; the others get ``rtc:producerResumed``."""
    return await service_of(conn).set_producer_paused(
        channel_name=conn.channel_name, producer_id=request.producer_id, paused=False)


@rtc_request("rtc:closeProducer")
async def close_producer(conn: Connection, request: ProducerRequest) -> Reply:
    """Stop one of the peer's producers; the others get ``rtc:producerClosed``."""
    return await service_of(conn).close_producer(channel_name=conn.channel_name,
                                                   producer_id=request.producer_id)


@rtc_request("rtc:consume")
async def consume(conn: Connection, request: ConsumeRequest) -> Reply:
    """Receive another peer's producer (paused until ``rtc:resumeConsumer``)."""
    return await service_of(conn).consume(channel_name=conn.channel_name, request=request)


@rtc_request("rtc:resumeConsumer")
async def resume_consumer(conn: Connection, request: ConsumerRequest) -> Reply:
    """Start the media of one of the peer's consumers."""
    return await service_of(conn).set_consumer_paused(
        channel_name=conn.channel_name, consumer_id=request.consumer_id, paused=False)


@rtc_request("rtc:pauseConsumer")
async def pause_consumer(conn: Connection, request: ConsumerRequest) -> Reply:
    """Stop the media of one of the peer's consumers for now."""
    return await service_of(conn).set_consumer_paused(
        channel_name=conn.channel_name, consumer_id=request.consumer_id, paused=True)


@rtc_request("rtc:closeConsumer")
async def close_consumer(conn: Connection, request: ConsumerRequest) -> Reply:
    """Stop receiving one track for good."""
    return await service_of(conn).close_consumer(channel_name=conn.channel_name,
                                                   consumer_id=request.consumer_id)


@rtc_request("rtc:setPreferredLayers")
async def set_preferred_layers(conn: Connection, request: SetPreferredLayersRequest) -> Reply:
    """Choose the simulcast/SVC layers of one of the peer's consumers."""
    return await service_of(conn).set_preferred_layers(channel_name=conn.channel_name,
                                                         request=request)


@rtc_request("rtc:getStats")
async def get_stats(conn: Connection, request: GetStatsRequest) -> Reply:
    """Stats of one of the peer's transports, producers or consumers."""
    return await service_of(conn).get_stats(channel_name=conn.channel_name, request=request)


@rtc_request("rtc:hostMuteProducer")
async def host_mute_producer(conn: Connection, request: ProducerRequest) -> Reply:
    """Host only: pause any producer of the call; everyone else gets ``rtc:producerPaused``."""
    return await service_of(conn).set_producer_paused(
        channel_name=conn.channel_name, producer_id=request.producer_id, paused=True,
        by_host=True)


@rtc_request("rtc:hostRemovePeer")
async def host_remove_peer(conn: Connection, request: HostRemovePeerRequest) -> Reply:
    """Host only: remove a peer from the call (it may not join this call again)."""
    return await service_of(conn).remove_peer_by_host(channel_name=conn.channel_name,
                                                        peer_id=request.peer_id)


@rtc_request("rtc:serverStats")
async def server_stats(conn: Connection, request: Any) -> Reply:
    """Staff only: how many rooms, peers, transports, producers, consumers and workers."""
    if not getattr(conn.user, "is_staff", False):
        raise SignalingError(ErrorCode.FORBIDDEN, "staff only")
    service = service_of(conn)
    return {"type": "rtc:serverStats", **service.counts(),
            "workerDumps": await service.worker_dumps() if service.mediasoup.started else []}


@registry.on_disconnect
async def detach_peer(conn: Connection) -> None:
    """The socket closed: forget its rate bucket, keep its peer for the grace period."""
    rate_limiter.forget(conn.channel_name)
    if await cluster.detach_route(conn):
        return  # the call runs on another node: that node detached it
    await service_of(conn).detach(channel_name=conn.channel_name,
                                    grace=not getattr(conn, "flooded", False))
