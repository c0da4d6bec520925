"""The base of the socket's outgoing payload models, and the shapes several of them share.

Why models for what the server sends: the requests were declared once (`rtc.signaling.schemas`)
but replies and events only by name, so their fields lived in the services' dict literals, in
``PROTOCOL.md`` prose and in the clients, and nothing noticed when one changed. Each reply
(`rtc.signaling.routes.route`'s ``reply``, `rtc.signaling.replies`) and each event
(`rtc.signaling.events.EVENTS`) now names a pydantic model; the documents are generated from
them, and with ``SIGNALING_CHECK_OUTGOING`` on (the tests) every frame the socket sends is
validated against its model (`rtc.signaling.outgoing`).

The models describe the wire as it is: camelCase keys, JSON types, unknown keys refused (a
field the server adds without declaring it fails the check). Deep mediasoup shapes (RTP
parameters and capabilities, ICE and DTLS parameters, stats) are free JSON objects here, as
mediasoup defines them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

__all__ = ["ChatMessage", "Hand", "LobbyEntry", "MeetingInfo", "ParticipantInfo", "Payload",
           "PeerInfo", "ProducerInfo", "RecordingInfo"]


class Payload(BaseModel):
    """Base of every reply and event model: camelCase on the wire, strict JSON types,
    unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True,
                              alias_generator=to_camel, populate_by_name=True)


class ProducerInfo(Payload):
    """A producer as other peers see it (`rtc.services.rooms.producer_info`)."""

    id: str
    kind: Literal["audio", "video"]
    app_data: dict[str, Any]
    paused: bool


class PeerInfo(Payload):
    """Another peer of the call (``rtc:joined`` ``peers``)."""

    peer_id: str
    display_name: str
    role: Literal["host", "member"]
    producers: list[ProducerInfo]


class RecordingInfo(Payload):
    """The call's running recording."""

    recording_id: str
    started_at: str = Field(description="ISO 8601, UTC (`Z`).")


class MeetingInfo(Payload):
    """The meeting as events show it (`meetings.events.meeting_payload`)."""

    id: str
    title: str
    host: str = Field(description="The host's username.")
    host_id: int
    status: str
    access: str
    capacity: int | None
    scheduled_start: str | None
    scheduled_end: str | None
    started_at: str | None
    ended_at: str | None


class ParticipantInfo(Payload):
    """A participant as events show it (`meetings.events.participant_payload`)."""

    meeting_id: str
    user_id: int
    username: str
    role: str
    joined_at: str | None
    left_at: str | None


class ChatRecipient(Payload):
    """The addressee of a private message."""

    user_id: int | None
    display_name: str
    peer_id: str | None


class ChatMessage(Payload):
    """A chat message (`collab.chat.message_payload`): ``chat:message``, ``chat:history``."""

    id: int
    text: str
    display_name: str
    user_id: int | None
    sent_at: str
    private: bool
    peer_id: str | None = Field(description="The sender's peer when it was in the call.")
    to: ChatRecipient | None = Field(default=None, description="Private messages only.")


class Hand(Payload):
    """A raised hand (`collab.hands.RaisedHand.payload`)."""

    peer_id: str
    user_id: int
    display_name: str
    raised_at: str


class LobbyEntry(Payload):
    """Someone waiting in the lobby (`collab.lobby.entry_payload`)."""

    user_id: int
    display_name: str
    since: str
