"""The events the server pushes on the meeting socket, declared once.

Why a table: the events were named in ``PROTOCOL.md`` and in the clients only; now the
documents (``PROTOCOL.md``'s event tables, the AsyncAPI document) are generated from
:data:`EVENTS`, and a test checks that every event a client listens for is declared here.
Routes name the events their call may cause (`rtc.signaling.routes.Route.events`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EVENTS", "Event"]


@dataclass(frozen=True, slots=True)
class Event:
    """One pushed event: ``{"type": name, "data": {...}}``."""

    name: str
    to: str
    """Which sockets get it."""
    data: str
    """Its data, in words."""


EVENTS: dict[str, Event] = {event.name: event for event in (
    Event("rtc:peerJoined", "others", "`peerId`, `displayName`, `role`"),
    Event("rtc:peerLeft", "others (after a host removal: everyone but the removed peer)",
          "`peerId`, `reason` (`left`, `disconnected`, `removed`, `media_unavailable`, "
          "`server_shutdown`)"),
    Event("rtc:newProducer", "others", "`peerId`, `producerId`, `kind`, `appData`, `paused`"),
    Event("rtc:producerPaused", "others (owner included after a host mute)",
          "`peerId`, `producerId`, `byHost` (host/staff mute only)"),
    Event("rtc:producerResumed", "others", "`peerId`, `producerId`"),
    Event("rtc:producerClosed", "others", "`peerId`, `producerId`"),
    Event("rtc:consumerClosed", "the consumer's owner", "`consumerId`, `producerId`"),
    Event("rtc:transportClosed", "the transport's owner",
          "`transportId`, `reason` (`connect_timeout`, `dtls_failed`, `dtls_closed`)"),
    Event("rtc:activeSpeaker", "everyone", "`peerId`"),
    Event("rtc:producerLayers", "the owner of a simulcast video producer",
          "`producerId`, `maxSpatialLayer` (the highest spatial layer any of its consumers "
          "prefers; 0 when nobody consumes it), `spatialLayers` (its encodings): encode "
          "layers `0..maxSpatialLayer`, pause the others (dynacast)"),
    Event("rtc:removed", "the removed peer", "`reason` (`host` or `staff`)"),
    Event("rtc:reconnect", "each peer of a moved or closing room",
          "`reason` (`media_server_restarted`, `media_unavailable`, `server_shutdown`, "
          "`node_draining`, `node_lost`)"),
    Event("rtc:recordingStarted", "everyone (the starter included)",
          "`recordingId`, `startedAt`, `startedBy` (display name)"),
    Event("rtc:recordingStopped", "everyone",
          "`recordingId`, `reason` (`stopped`, `call_ended`, `max_duration`, "
          "`server_shutdown`, `node_draining`, `disk_full`)"),
    Event("chat:message", "public: every socket of the meeting, the sender's included, once; "
          "private: the addressee's socket and the sender's", "the message"),
    Event("chat:deleted", "everyone", "`id`"),
    Event("hand:raised", "everyone", "`peerId`, `userId`, `displayName`, `raisedAt`"),
    Event("hand:lowered", "everyone", "`peerId`, `by` (`self` or `host`)"),
    Event("reaction:shown", "everyone", "`peerId`, `emoji`, `displayName`"),
    Event("whiteboard:op", "everyone but the sender",
          "`seq`, `op` (`add` with `element` and `userId`; `erase` with `ids`; `clear`), "
          "`peerId`"),
    Event("whiteboard:pointer", "everyone but the sender",
          "`peerId`, `userId`, `displayName`, `x`, `y`"),
    Event("lobby:waiting", "the waiting socket (instead of `meeting.state`)", "`displayName`"),
    Event("lobby:admitted", "the waiting socket (then `meeting.state`)", "—"),
    Event("lobby:denied", "the waiting socket (then close 4403)", "—"),
    Event("lobby:knock", "the host's sockets", "`userId`, `displayName`, `since`"),
    Event("lobby:left", "the host's sockets", "`userId`"),
    Event("lobby:decided", "the host's sockets", "`userId`, `admitted`"),
    Event("events:missed", "one socket that fell so far behind that events for it were "
          "dropped", "`count`: fetch the state again (`chat:history`, `whiteboard:state`, "
          "`hand:list`, `lobby:list`), as after a reconnection"),
    Event("error", "a socket refused on connect (then closed)",
          "`code` (`too_many_sockets`, `server_busy`, `unavailable`, ...), `reason`, "
          "`retryAfter` (seconds, `server_busy`)"),
)}
"""Every event type → its declaration."""
