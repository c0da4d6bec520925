"""The success replies' ``data`` of the rtc:* requests and of the built-in ones, one model each.

Each route names its model (`rtc.signaling.routes.route`'s ``reply``, kept as
``Route.reply_schema``); the built-in requests (``ping``, ``meeting:state``,
`rtc.websocket.builtin_requests`) are not routes and name theirs in :data:`BUILTIN_REPLIES`.
A reply's ``type`` (when the route has one) is a ``Literal`` of the model, from which the
route's ``reply`` name is read, so the two cannot disagree.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from rtc.signaling.payloads import MeetingInfo, ParticipantInfo, Payload, PeerInfo, ProducerInfo
from rtc.signaling.payloads import RecordingInfo as RecordingInfo

__all__ = ["BUILTIN_REPLIES"]


class IceServer(Payload):
    """One ``RTCIceServer`` for the client's transports (`rtc.policy.turn.ice_servers_for`)."""

    urls: list[str]
    username: str | None = None
    credential: str | None = None


class OwnTransport(Payload):
    """One of a resuming peer's transports."""

    id: str
    direction: Literal["send", "recv"]


class OwnConsumer(Payload):
    """One of a resuming peer's consumers."""

    id: str
    producer_id: str
    paused: bool


class JoinedReply(Payload):
    """``rtc:join``: the peer, the router's capabilities, the others and what to connect with;
    when resumed also the peer's own surviving objects."""

    type: Literal["rtc:joined"]
    peer_id: str
    resume_token: str
    role: Literal["host", "member"]
    router_rtp_capabilities: dict[str, Any]
    peers: list[PeerInfo]
    active_speaker: str | None = Field(description="The peer speaking now, if any.")
    resumed: bool
    ice_servers: list[IceServer] = Field(description="TURN servers with short-lived "
                                         "credentials ([] when none are configured).")
    recording: RecordingInfo | None = Field(description="While the call is recorded.")
    transports: list[OwnTransport] | None = Field(default=None, description="Resumed only.")
    producers: list[ProducerInfo] | None = Field(default=None, description="Resumed only.")
    consumers: list[OwnConsumer] | None = Field(default=None, description="Resumed only.")


class LeftReply(Payload):
    """``rtc:leave``: out of the call; the socket stays open."""

    type: Literal["rtc:left"]


class TransportCreatedReply(Payload):
    """``rtc:createTransport``: what the client's transport needs (mediasoup's shapes)."""

    type: Literal["rtc:transportCreated"]
    id: str
    ice_parameters: dict[str, Any]
    ice_candidates: list[dict[str, Any]]
    dtls_parameters: dict[str, Any]
    sctp_parameters: dict[str, Any] | None


class TransportConnectedReply(Payload):
    """``rtc:connectTransport``: DTLS parameters taken."""

    type: Literal["rtc:transportConnected"]


class IceRestartedReply(Payload):
    """``rtc:restartIce``: the transport's new ICE parameters."""

    type: Literal["rtc:iceRestarted"]
    ice_parameters: dict[str, Any]


class TransportClosedReply(Payload):
    """``rtc:closeTransport``: closed, with what it carried."""

    type: Literal["rtc:transportClosed"]
    transport_id: str


class ProducedReply(Payload):
    """``rtc:produce``: the new producer's id."""

    type: Literal["rtc:produced"]
    id: str


class ProducerPausedReply(Payload):
    """``rtc:pauseProducer``."""

    type: Literal["rtc:producerPaused"]
    producer_id: str


class ProducerResumedReply(Payload):
    """``rtc:resumeProducer``."""

    type: Literal["rtc:producerResumed"]
    producer_id: str


class ProducerClosedReply(Payload):
    """``rtc:closeProducer``."""

    type: Literal["rtc:producerClosed"]
    producer_id: str


class HostMutedReply(Payload):
    """``rtc:hostMuteProducer``."""

    type: Literal["rtc:hostMuted"]
    producer_id: str


class ConsumedReply(Payload):
    """``rtc:consume``: the consumer to create on the client's recv transport."""

    type: Literal["rtc:consumed"]
    id: str
    producer_id: str
    peer_id: str
    kind: Literal["audio", "video"]
    rtp_parameters: dict[str, Any]
    consumer_type: Literal["simple", "simulcast", "svc", "pipe"]
    app_data: dict[str, Any]
    paused: bool
    producer_paused: bool


class ConsumerPausedReply(Payload):
    """``rtc:pauseConsumer``."""

    type: Literal["rtc:consumerPaused"]
    consumer_id: str


class ConsumerResumedReply(Payload):
    """``rtc:resumeConsumer``."""

    type: Literal["rtc:consumerResumed"]
    consumer_id: str


class ConsumerClosedReply(Payload):
    """``rtc:closeConsumer``."""

    type: Literal["rtc:consumerClosed"]
    consumer_id: str


class Layers(Payload):
    """Simulcast/SVC layers of a consumer."""

    spatial_layer: int
    temporal_layer: int | None = None


class PreferredLayersSetReply(Payload):
    """``rtc:setPreferredLayers``: the consumer's preferred layers now."""

    type: Literal["rtc:preferredLayersSet"]
    consumer_id: str
    preferred_layers: Layers | None


class StatsReply(Payload):
    """``rtc:getStats``: the named object's id and mediasoup's stats list."""

    type: Literal["rtc:stats"]
    transport_id: str | None = None
    producer_id: str | None = None
    consumer_id: str | None = None
    stats: list[dict[str, Any]]


class HostRemovedReply(Payload):
    """``rtc:hostRemovePeer``."""

    type: Literal["rtc:hostRemoved"]
    peer_id: str


class ServerStatsReply(Payload):
    """``rtc:serverStats`` (staff): counts of this process and its workers' dumps."""

    type: Literal["rtc:serverStats"]
    rooms: int
    peers: int
    transports: int
    producers: int
    consumers: int
    workers: int
    worker_dumps: list[dict[str, Any]] = Field(description="Per worker `pid`, `routerIds` and "
                                               "`routers` serving calls as the worker dumps "
                                               "them, `spareRouters` (idle, ready for new "
                                               "calls).")


class RecordingStartedReply(Payload):
    """``rtc:startRecording``."""

    type: Literal["rtc:recordingStarted"]
    recording_id: str
    status: str


class RecordingStoppedReply(Payload):
    """``rtc:stopRecording``: composed in the background."""

    type: Literal["rtc:recordingStopped"]
    recording_id: str
    status: str


class PongReply(Payload):
    """``ping``: alive."""

    type: Literal["pong"]


class MeetingStateReply(Payload):
    """``meeting:state``: the meeting and who is present now."""

    type: Literal["meeting.state"]
    meeting: MeetingInfo
    participants: list[ParticipantInfo]


BUILTIN_REPLIES: dict[str, type[Payload]] = {"ping": PongReply,
                                             "meeting:state": MeetingStateReply}
"""The built-in requests (not routes, `rtc.websocket.builtin_requests`) → their reply model."""
