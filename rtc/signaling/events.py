"""The events the server pushes on the meeting socket, declared once with their payload models.

Why a table: the events were named in ``PROTOCOL.md`` and in the clients only; now the
documents (``PROTOCOL.md``'s event tables, the JSON Schema and the AsyncAPI document) are
generated from :data:`EVENTS`, a test checks that every event a client listens for is declared
here, and with ``SIGNALING_CHECK_OUTGOING`` on (the tests) every event a socket sends is
validated against its model (`rtc.signaling.outgoing`). Routes name the events their call may
cause (`rtc.signaling.routes.Route.events`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

from rtc.signaling.payloads import (
    ChatMessage,
    Hand,
    LobbyEntry,
    MeetingInfo,
    ParticipantInfo,
    Payload,
    RecordingInfo,
)

__all__ = ["EVENTS", "Event"]


@dataclass(frozen=True, slots=True)
class Event:
    """One pushed event: ``{"type": name, "data": {...}}``."""

    name: str
    to: str
    """Which sockets get it."""
    data: str
    """Its data, in words."""
    model: type[Payload]
    """The pydantic model of its ``data``."""


# --- the call ----------------------------------------------------------------------------------


class PeerJoined(Payload):
    peer_id: str
    display_name: str
    role: Literal["host", "member"]


class PeerLeft(Payload):
    peer_id: str
    reason: Literal["left", "disconnected", "removed", "media_unavailable", "server_shutdown",
                    "node_draining", "node_lost"]


class NewProducer(Payload):
    peer_id: str
    producer_id: str
    kind: Literal["audio", "video"]
    app_data: dict[str, Any]
    paused: bool


class ProducerPaused(Payload):
    peer_id: str
    producer_id: str
    by_host: bool | None = Field(default=None, description="A host's or staff's mute only.")


class ProducerChanged(Payload):
    peer_id: str
    producer_id: str


class ConsumerClosed(Payload):
    consumer_id: str
    producer_id: str


class TransportClosed(Payload):
    transport_id: str
    reason: Literal["connect_timeout", "dtls_failed", "dtls_closed"]


class ActiveSpeaker(Payload):
    peer_id: str


class ProducerLayers(Payload):
    producer_id: str
    max_spatial_layer: int
    spatial_layers: int


class Removed(Payload):
    reason: Literal["host", "staff", "meeting_ended"]


class Reconnect(Payload):
    reason: Literal["media_server_restarted", "media_unavailable", "server_shutdown",
                    "node_draining", "node_lost"]


class GrantsInfo(Payload):
    """A peer's grants (`rtc.policy.grants.Grants.as_dict`)."""

    publish: list[str]
    subscribe: bool
    hidden: bool
    host: bool
    record: bool
    chat: bool
    whiteboard: bool


class GrantsUpdated(Payload):
    grants: GrantsInfo
    closed_producers: list[str]
    closed_consumers: list[str]


class RecordingStarted(RecordingInfo):
    started_by: str


class RecordingStopped(Payload):
    recording_id: str
    reason: str = Field(description="`stopped`, `call_ended`, `max_duration`, "
                        "`server_shutdown`, `node_draining`, `disk_full`, ...")


# --- collaboration -----------------------------------------------------------------------------


class ChatDeleted(Payload):
    id: int


class HandLowered(Payload):
    peer_id: str
    by: Literal["self", "host"]


class ReactionShown(Payload):
    peer_id: str
    emoji: str
    display_name: str


class WhiteboardOp(Payload):
    seq: int
    op: Literal["add", "erase", "clear"]
    element: dict[str, Any] | None = Field(default=None, description="`add` only.")
    user_id: int | None = Field(default=None, description="`add` only: the author.")
    ids: list[str] | None = Field(default=None, description="`erase` only.")
    peer_id: str | None


class WhiteboardPointer(Payload):
    peer_id: str | None
    user_id: int
    display_name: str
    x: float
    y: float


class LobbyWaiting(Payload):
    display_name: str


class Nothing(Payload):
    """No data."""


class LobbyLeft(Payload):
    user_id: int


class LobbyDecided(Payload):
    user_id: int
    admitted: bool


# --- the socket and the meeting ------------------------------------------------------------------


class EventsMissed(Payload):
    count: int


class SocketError(Payload):
    code: str
    reason: str
    retry_after: float | None = Field(default=None, description="Seconds (`server_busy`).")


class MeetingState(Payload):
    meeting: MeetingInfo
    participants: list[ParticipantInfo]


EVENTS: dict[str, Event] = {event.name: event for event in (
    Event("rtc:peerJoined", "the others in the call", "not to a socket whose `rtc:joined` "
          "lists the peer", PeerJoined),
    Event("rtc:peerLeft", "others (after a host removal: everyone but the removed peer)",
          "", PeerLeft),
    Event("rtc:newProducer", "the others in the call", "not to a socket whose `rtc:joined` "
          "lists the producer", NewProducer),
    Event("rtc:producerPaused", "others (owner included after a host mute)",
          "`byHost`: a host's or staff's mute only", ProducerPaused),
    Event("rtc:producerResumed", "others", "", ProducerChanged),
    Event("rtc:producerClosed", "others", "", ProducerChanged),
    Event("rtc:consumerClosed", "the consumer's owner", "", ConsumerClosed),
    Event("rtc:transportClosed", "the transport's owner", "", TransportClosed),
    Event("rtc:activeSpeaker", "everyone", "", ActiveSpeaker),
    Event("rtc:producerLayers", "the owner of a simulcast video producer",
          "`maxSpatialLayer`: the highest spatial layer any of its consumers prefers (0 when "
          "nobody consumes it), `spatialLayers`: its encodings; encode layers "
          "`0..maxSpatialLayer`, pause the others (dynacast)", ProducerLayers),
    Event("rtc:removed", "the removed peer", "", Removed),
    Event("rtc:reconnect", "each peer of a moved or closing room", "", Reconnect),
    Event("rtc:grantsUpdated", "the peer whose join-token grants changed",
          "its grants now; its producers and consumers the change closed", GrantsUpdated),
    Event("rtc:recordingStarted", "everyone (the starter included)",
          "`startedBy`: the starter's display name", RecordingStarted),
    Event("rtc:recordingStopped", "everyone", "", RecordingStopped),
    Event("chat:message", "public: every socket of the meeting, the sender's included, once; "
          "private: the addressee's socket and the sender's", "`to`: private only",
          ChatMessage),
    Event("chat:deleted", "everyone", "", ChatDeleted),
    Event("hand:raised", "everyone", "", Hand),
    Event("hand:lowered", "everyone", "", HandLowered),
    Event("reaction:shown", "everyone", "", ReactionShown),
    Event("whiteboard:op", "everyone but the sender",
          "`add` with `element` and `userId`; `erase` with `ids`; `clear`", WhiteboardOp),
    Event("whiteboard:pointer", "everyone but the sender", "", WhiteboardPointer),
    Event("lobby:waiting", "the waiting socket (instead of `meeting.state`)", "",
          LobbyWaiting),
    Event("lobby:admitted", "the waiting socket (then `meeting.state`)", "", Nothing),
    Event("lobby:denied", "the waiting socket (then close 4403)", "", Nothing),
    Event("lobby:knock", "the host's sockets", "", LobbyEntry),
    Event("lobby:left", "the host's sockets", "", LobbyLeft),
    Event("lobby:decided", "the host's sockets", "", LobbyDecided),
    Event("events:missed", "one socket that fell so far behind that events for it were "
          "dropped", "fetch the state again (`chat:history`, `whiteboard:state`, "
          "`hand:list`, `lobby:list`), as after a reconnection", EventsMissed),
    Event("error", "a socket refused on connect (then closed)",
          "`code`: `too_many_sockets`, `server_busy`, `unavailable`, a join token's refusal, "
          "...", SocketError),
    Event("meeting.state", "a socket that entered the meeting (once, first)",
          "the meeting and who is present", MeetingState),
    Event("meeting.participantJoined", "everyone but the joining socket (its `meeting.state` "
          "lists it)", "not to a socket whose `meeting.state` lists that join", ParticipantInfo),
    Event("meeting.participantLeft", "everyone", "", ParticipantInfo),
    Event("meeting.participantRemoved", "everyone (the removed user's sockets then close "
          "4403)", "", ParticipantInfo),
    Event("meeting.updated", "everyone", "not to a socket whose `meeting.state` already gave "
          "this very meeting (its start, for a socket that joined as it started)", MeetingInfo),
    Event("meeting.ended", "everyone (then close 4410)", "", MeetingInfo),
)}
"""Every event type → its declaration."""
