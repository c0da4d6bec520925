"""The remote half of a cascaded call: media objects this node holds for a call owned elsewhere.

A call whose owner ran out of its per-node budget (``RTC_PEERS_PER_NODE``) puts its overflow
peers' transports on a router of another node (:mod:`rtc.cluster.cascade`, the owner's half).
The owner keeps the call's state and signaling; this node only holds the real mediasoup
objects, in a registry per meeting keyed by object id, and runs what the owner asks through
the node-to-node operations of :mod:`rtc.cluster.ops`:

* ``cascade.open``: a router for the meeting on this node's least loaded worker (once);
* ``cascade.call``: one whitelisted method of one registered object (create a transport,
  connect, produce, consume, pause, stats, close...); an object it returns is registered and
  described (its id and the attributes the owner's proxy mirrors);
* ``cascade.close``: the meeting's router closed (everything on it with it).

The registered objects' events (DTLS state, closes, a consumer's producer paused or closed,
scores and layers) go back to the owner as ``cascade.event`` operations, sent without waiting
for an answer. ICE candidates and the pipe transports listen on this node's own addresses, so
media reaches this node directly. When the owner's lease runs out (it died: the call is placed
again elsewhere), :func:`watch_owners` closes what this node held for it: nothing leaks. When
this node drains, :func:`hand_back` gives its cascaded routers back at once.
"""

from __future__ import annotations

import logging
import uuid
import weakref
from dataclasses import dataclass, field
from typing import Any

from rtc.cluster.ops import operation
from rtc.signaling.errors import ErrorCode, SignalingError

__all__ = ["Hosted", "hand_back", "hosted_counts", "hosted_of", "own_listen_info",
           "watch_owners"]

logger = logging.getLogger(__name__)

METHODS = frozenset({
    "create_webrtc_transport", "create_pipe_transport", "connect", "produce", "consume",
    "pause", "resume", "close", "set_max_incoming_bitrate", "restart_ice", "get_stats",
    "set_preferred_layers", "set_priority", "request_key_frame", "dump",
})
"""What the owner may call on a registered object."""

EVENTS = ("dtlsstatechange", "transportclose", "producerclose", "producerpause",
          "producerresume", "score", "layerschange", "routerclose", "workerclose")
"""Events of registered objects that the owner's proxies mirror (when the object has them)."""

ATTRIBUTES = ("kind", "type", "paused", "producer_paused", "producer_id", "rtp_parameters",
              "consumable_rtp_parameters", "app_data", "preferred_layers", "current_layers",
              "score", "priority", "ice_parameters", "ice_candidates", "dtls_parameters",
              "dtls_state", "sctp_parameters", "tuple", "srtp_parameters")
"""Attributes copied into an object's description (those it has)."""


@dataclass(eq=False)
class Hosted:
    """What this node holds for one meeting owned by another node."""

    service: Any
    meeting_id: str
    owner: str
    router: Any
    worker: Any
    objects: dict[str, Any] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        """Open transports (pipe ones apart) and other objects, for the node's record."""
        transports = [o for o in self.objects.values() if hasattr(o, "router_id")]
        pipes = [t for t in transports if getattr(t, "type", "") == "pipe"]
        return {"transports": len(transports) - len(pipes), "pipes": len(pipes),
                "objects": len(self.objects)}


_HOSTED: weakref.WeakKeyDictionary[Any, dict[str, Hosted]] = weakref.WeakKeyDictionary()


def hosted_of(service: Any) -> dict[str, Hosted]:
    """meeting id → what this node (its RoomService ``service``) holds for it."""
    return _HOSTED.setdefault(service, {})


def _node(service: Any) -> Any:
    from rtc.cluster import node_of

    return node_of(service)


def _describe(hosted: Hosted, obj: Any) -> Any:
    """Register a mediasoup object and describe it for the owner's proxy; other values pass."""
    if not hasattr(obj, "observer") or not hasattr(obj, "id"):
        return obj
    object_id: str = obj.id
    hosted.objects[object_id] = obj
    for event in EVENTS:
        obj.on(event, _forwarder(hosted, object_id, event))

    def forget() -> None:
        if hosted.objects.get(object_id) is obj:
            del hosted.objects[object_id]
        _send_event(hosted, object_id, "@close", [])

    obj.observer.on("close", forget)
    data = {name: getattr(obj, name) for name in ATTRIBUTES if hasattr(obj, name)}
    if "type" in data and not isinstance(data["type"], str):
        data["type"] = str(data["type"])
    return {"@object": type(obj).__name__, "id": obj.id, **data}


def _forwarder(hosted: Hosted, object_id: str, event: str) -> Any:
    def forward(*args: Any) -> None:
        _send_event(hosted, object_id, event, list(args))

    return forward


def _send_event(hosted: Hosted, object_id: str, event: str, args: list[Any]) -> None:
    """Tell the owner about an event, without waiting (its reply, if any, is dropped)."""
    node = _node(hosted.service)
    if node is None:
        return
    channel = node.channel_of(hosted.owner)
    if channel is None:
        return
    message = {"type": "cluster.request", "id": uuid.uuid4().hex, "reply_to": node.channel,
               "op": "operation", "name": "cascade.event",
               "args": {"meeting_id": hosted.meeting_id, "node_id": node.id,
                        "object_id": object_id, "event": event, "args": args}}
    node.service._start_task(node.layer.send(channel, message))


def own_listen_info() -> dict[str, Any]:
    from rtc.services.config import mediasoup_settings

    ms = mediasoup_settings()
    info: dict[str, Any] = {"protocol": "udp", "ip": ms["LISTEN_IP"]}
    if ms.get("ANNOUNCED_IP"):
        info["announcedAddress"] = ms["ANNOUNCED_IP"]
    return info


def _hosted(service: Any, meeting_id: str) -> Hosted:
    hosted = hosted_of(service).get(meeting_id)
    if hosted is None or hosted.router.closed:
        raise SignalingError(ErrorCode.NOT_FOUND, "no cascaded router for this meeting here")
    return hosted


@operation("cascade.open")
async def open_router(*, service: Any, meeting_id: str, owner: str) -> dict[str, Any]:
    """A router for the meeting on this node (the one it has, when asked again), if the
    owner's claim on this node for it stands (``ClusterStore.claim_cascade``): an open that
    ran after the owner stopped waiting leaves nothing behind."""
    calls = hosted_of(service)
    hosted = calls.get(meeting_id)
    if hosted is not None and not hosted.router.closed and hosted.owner == owner:
        return {"routerId": hosted.router.id, "rtpCapabilities": hosted.router.rtp_capabilities}
    if hosted is not None:
        _close(service, hosted)
    worker, router = await service.mediasoup.create_router(
        app_data={"meetingId": meeting_id, "cascadeOwner": owner})
    hosted = Hosted(service=service, meeting_id=meeting_id, owner=owner, router=router,
                    worker=worker)
    calls[meeting_id] = hosted
    hosted.objects[router.id] = router
    router.on("workerclose", _forwarder(hosted, router.id, "workerclose"))

    def forget() -> None:
        if calls.get(meeting_id) is hosted:
            del calls[meeting_id]

    router.observer.on("close", forget)
    node = _node(service)
    if node is not None and (await node.store.cascades(meeting_id)).get(node.id) != owner:
        # Opened too late: the owner gave up waiting and released its claim on this node.
        router.close()
        raise SignalingError(ErrorCode.NOT_FOUND, "this node is not claimed for the meeting")
    logger.info("cascaded router opened [meeting:%s, owner:%s, router:%s, worker:%s]",
                meeting_id, owner, router.id, worker.pid)
    return {"routerId": router.id, "rtpCapabilities": router.rtp_capabilities}


@operation("cascade.call")
async def call(*, service: Any, meeting_id: str, object_id: str, method: str,
               kwargs: dict[str, Any]) -> Any:
    """Run ``method`` of a registered object with ``kwargs``; its (described) result."""
    if method not in METHODS:
        raise SignalingError(ErrorCode.INVALID, "not a cascaded method")
    hosted = _hosted(service, meeting_id)
    target = hosted.objects.get(object_id)
    if target is None or getattr(target, "closed", False):
        if method == "close":
            return None
        raise SignalingError(ErrorCode.NOT_FOUND, "cascaded object closed")
    kwargs = dict(kwargs)
    if method == "create_webrtc_transport":
        # This node's own addresses (or WebRtcServer port), never the owner's.
        from rtc.services.config import transport_options

        kwargs.pop("listen_infos", None)
        server = service.mediasoup.webrtc_server_of(hosted.worker)
        if server is not None:
            kwargs["webrtc_server"] = server
        else:
            kwargs["listen_infos"] = transport_options().listen_infos
    elif method == "create_pipe_transport":
        kwargs["listen_info"] = own_listen_info()
    result = getattr(target, method)(**kwargs)
    if hasattr(result, "__await__"):
        result = await result
    return _describe(hosted, result)


@operation("cascade.close")
async def close_router(*, service: Any, meeting_id: str, owner: str) -> bool:
    """The owner is done with this node for the meeting: close its router (and all on it)."""
    hosted = hosted_of(service).get(meeting_id)
    if hosted is None or hosted.owner != owner:
        return False
    _close(service, hosted)
    return True


def _close(service: Any, hosted: Hosted) -> None:
    calls = hosted_of(service)
    if calls.get(hosted.meeting_id) is hosted:
        del calls[hosted.meeting_id]
    if not hosted.router.closed:
        hosted.router.close()
    hosted.objects.clear()
    logger.info("cascaded router closed [meeting:%s, owner:%s, router:%s]", hosted.meeting_id,
                hosted.owner, hosted.router.id)


def hand_back(node: Any) -> int:
    """This node drains: give back every cascaded router it holds; each owner hears it as a
    lost router (its peers rebuild elsewhere at once, not when this node is gone); how many."""
    calls = list(hosted_of(node.service).values())
    for hosted in calls:
        _send_event(hosted, hosted.router.id, "workerclose", [])
        _close(node.service, hosted)
    if calls:
        logger.info("draining: cascaded routers given back [node:%s, meetings:%s]", node.id,
                    len(calls))
    return len(calls)


def watch_owners(node: Any) -> int:
    """Close what this node holds for owners that left the cluster; how many meetings."""
    closed = 0
    for hosted in list(hosted_of(node.service).values()):
        if hosted.owner not in node.records:
            logger.warning("owner of a cascaded call left; its media here closed "
                           "[meeting:%s, owner:%s]", hosted.meeting_id, hosted.owner)
            _close(node.service, hosted)
            closed += 1
    return closed


def hosted_counts(service: Any) -> dict[str, int]:
    """This node's cascaded routers and transports (for its record: tests, operators)."""
    calls = list(hosted_of(service).values())
    counts = [h.counts() for h in calls]
    return {"cascade_routers": len(calls),
            "cascade_transports": sum(c["transports"] for c in counts),
            "cascade_pipes": sum(c["pipes"] for c in counts)}
