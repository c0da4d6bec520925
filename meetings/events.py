"""Meeting events sent to the meeting's Channels group, only once the change is committed.

Services call `broadcast_on_commit`; a rolled-back change never reaches a client. The group
message is `{"type": "meeting.event", "event": <name>, "data": {...}}`, which
`rtc.websocket.consumer.MeetingConsumer.meeting_event` relays to each connection as
`{"type": <name>, "data": {...}}`.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
import uuid
import weakref
from datetime import datetime
from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from conference.db_threads import calling_loop

if TYPE_CHECKING:
    from meetings.models import Meeting, Participant

logger = logging.getLogger(__name__)

__all__ = [
    "MEETING_ENDED",
    "MEETING_UPDATED",
    "PARTICIPANT_JOINED",
    "PARTICIPANT_LEFT",
    "PARTICIPANT_REMOVED",
    "broadcast_on_commit",
    "group_message",
    "meeting_group_name",
    "meeting_payload",
    "participant_payload",
]

PARTICIPANT_JOINED = "meeting.participantJoined"
PARTICIPANT_LEFT = "meeting.participantLeft"
PARTICIPANT_REMOVED = "meeting.participantRemoved"
MEETING_UPDATED = "meeting.updated"
MEETING_ENDED = "meeting.ended"

# The Channels handler (consumer method `meeting_event`) for group messages.
GROUP_MESSAGE_TYPE = "meeting.event"


def meeting_payload(meeting: Meeting) -> dict[str, Any]:
    """The meeting as events show it (camelCase, JSON-ready)."""
    return {
        "id": str(meeting.id),
        "title": meeting.title,
        "host": meeting.host.get_username(),
        "hostId": meeting.host_id,
        "status": meeting.status,
        "access": meeting.access,
        "capacity": meeting.capacity,
        "scheduledStart": _iso(meeting.scheduled_start),
        "scheduledEnd": _iso(meeting.scheduled_end),
        "startedAt": _iso(meeting.started_at),
        "endedAt": _iso(meeting.ended_at),
    }


def participant_payload(participant: Participant) -> dict[str, Any]:
    """The participant as events show it (camelCase, JSON-ready)."""
    return {
        "meetingId": str(participant.meeting_id),
        "userId": participant.user_id,
        "username": participant.user.get_username(),
        "role": participant.role,
        "joinedAt": _iso(participant.joined_at),
        "leftAt": _iso(participant.left_at),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def meeting_group_name(meeting_id: uuid.UUID | str) -> str:
    """The group of a meeting's connections (Channels allows only `[A-Za-z0-9._-]`)."""
    return f"meeting.{meeting_id}"


def group_message(
    event: str, data: dict[str, Any], *, exclude: str | None = None
) -> dict[str, Any]:
    """A group message carrying `event`; `exclude` is a channel name that should not relay it."""
    message: dict[str, Any] = {"type": GROUP_MESSAGE_TYPE, "event": event, "data": data}
    if exclude:
        message["exclude"] = exclude
    return message


class _LoopSends:
    """The broadcasts database threads handed to one event loop, sent there in the order the
    database committed them by one task at a time: a batch of a hundred joins commits a
    hundred ``meeting.participantJoined`` at once, which cost one wake-up of the loop and one
    task, not a task each chained to the one before it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.pending: collections.deque[tuple[Any, str, dict[str, Any]]] = collections.deque()
        self.draining = False
        self.task: asyncio.Task[None] | None = None

    def add(self, meeting_id: uuid.UUID | str, group: str, message: dict[str, Any]) -> None:
        """From any thread: queue one broadcast; the loop is woken for the first of a run."""
        with _sends_lock:
            self.pending.append((meeting_id, group, message))
            if self.draining:
                return
            self.draining = True
        try:
            self.loop.call_soon_threadsafe(self._start)
        except RuntimeError:  # the loop closed meanwhile: nobody is left to tell
            with _sends_lock:
                self.draining = False
                self.pending.clear()

    def _start(self) -> None:
        self.task = self.loop.create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while True:
                with _sends_lock:
                    if not self.pending:
                        self.draining = False
                        return
                    items = list(self.pending)
                    self.pending.clear()
                for meeting_id, group, message in items:
                    await _deliver(meeting_id, group, message)
        finally:
            with _sends_lock:
                self.draining = False


async def _deliver(meeting_id: uuid.UUID | str, group: str, message: dict[str, Any]) -> None:
    """One broadcast on a serving loop: this process's members at once, the others' (Redis)
    right after in order (``group_send_soon``), so no broadcast waits for Redis; a failure is
    logged."""
    layer = get_channel_layer()
    if layer is None:
        return
    send = getattr(layer, "group_send_soon", None) or layer.group_send
    try:
        await send(group, message)
    except Exception:
        logger.exception("meeting=%s broadcast of %s failed", meeting_id, message.get("event"))


_loop_sends: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopSends] = (
    weakref.WeakKeyDictionary())
_sends_lock = threading.Lock()


def _send(meeting_id: uuid.UUID | str, message: dict[str, Any]) -> None:
    """Send to the meeting's group; a failure is logged, never raised.

    Called from a consumer's database thread, the send is handed to that consumer's event loop
    (`_LoopSends`) and the thread goes on at once: waiting for a busy loop to deliver it would
    hold a thread that other sockets' database work queues on.
    """
    layer = get_channel_layer()
    if layer is None:
        return
    group = meeting_group_name(meeting_id)
    loop = calling_loop()
    if loop is not None:
        with _sends_lock:
            sends = _loop_sends.get(loop)
            if sends is None:
                sends = _loop_sends[loop] = _LoopSends(loop)
        sends.add(meeting_id, group, message)
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception:
        # The database change stands; a lost notification must not turn it into an error.
        logger.exception("meeting=%s broadcast of %s failed", meeting_id, message.get("event"))


def broadcast_on_commit(meeting_id: uuid.UUID | str, event: str, data: dict[str, Any], *,
                        exclude: str | None = None) -> None:
    """Send `event` to the meeting's group (but the channel ``exclude``) after the current
    transaction commits."""
    message = group_message(event, data, exclude=exclude)
    transaction.on_commit(lambda: _send(meeting_id, message))
