"""Webhook events: what happened in an integration's meetings, stored for delivery.

`emit(meeting_id, type, data)` writes a :class:`WebhookDelivery` in the caller's transaction
(an outbox: the event exists exactly when the change committed) and wakes the dispatcher after
the commit. It does nothing (one query) when the meeting belongs to no integration, or the
integration is revoked or has no webhook URL.

Sources, connected by :func:`connect_receivers` at start-up:
* `meetings.signals` (inside the service's transaction): ``meeting.started``,
  ``meeting.ended``, ``participant.joined``, ``participant.left``;
* `rtc.signals` (on the event loop, so recorded by a background task, never awaited by the
  request): ``track.published``, ``track.unpublished``;
* `collab.signals` (inside the chat service's transaction): ``chat.message``, sent only to
  integrations that subscribed to it (`Integration.webhook_chat_messages`): chat is the
  people's words, not call telemetry, so it is off unless asked for;
* `recordings.signals` (inside the recording service's transaction): ``recording.started``,
  ``recording.ready``, ``recording.failed``.

Body: ``{"id": <uuid>, "type": <type>, "created": <unix seconds>, "data": {...}}``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from channels.db import database_sync_to_async
from django.db import transaction
from django.db.models.signals import post_save
from django.utils import timezone

from integrations.config import integration_settings
from integrations.dispatcher import dispatcher, retry_on_lock
from integrations.identity import identity_of_user
from integrations.models import IntegrationMeeting, WebhookDelivery

__all__ = [
    "EVENT_TYPES",
    "CHAT_MESSAGE",
    "MEETING_ENDED",
    "MEETING_STARTED",
    "PARTICIPANT_JOINED",
    "PARTICIPANT_LEFT",
    "RECORDING_FAILED",
    "RECORDING_READY",
    "RECORDING_STARTED",
    "TRACK_PUBLISHED",
    "TRACK_UNPUBLISHED",
    "build_event",
    "connect_receivers",
    "emit",
    "emit_soon",
    "pending_emits",
]

logger = logging.getLogger(__name__)

MEETING_STARTED = "meeting.started"
MEETING_ENDED = "meeting.ended"
PARTICIPANT_JOINED = "participant.joined"
PARTICIPANT_LEFT = "participant.left"
TRACK_PUBLISHED = "track.published"
TRACK_UNPUBLISHED = "track.unpublished"
RECORDING_STARTED = "recording.started"
RECORDING_READY = "recording.ready"
RECORDING_FAILED = "recording.failed"
CHAT_MESSAGE = "chat.message"
EVENT_TYPES = (MEETING_STARTED, MEETING_ENDED, PARTICIPANT_JOINED, PARTICIPANT_LEFT,
               TRACK_PUBLISHED, TRACK_UNPUBLISHED, RECORDING_STARTED, RECORDING_READY,
               RECORDING_FAILED, CHAT_MESSAGE)
OPT_IN_EVENTS = {CHAT_MESSAGE: "webhook_chat_messages"}
"""Event types sent only when the integration's flag of that name is on."""

Data = dict[str, Any] | Callable[[], dict[str, Any]]


def build_event(event_type: str, data: dict[str, Any], *, event_id: uuid.UUID | None = None,
                created: int | None = None) -> dict[str, Any]:
    """The JSON body of an event."""
    return {
        "id": str(event_id or uuid.uuid4()),
        "type": event_type,
        "created": int(time.time()) if created is None else created,
        "data": data,
    }


def emit(meeting_id: Any, event_type: str, data: Data) -> WebhookDelivery | None:
    """Store `event_type` for the integration owning the meeting, if it wants webhooks.

    `data` may be a callable, evaluated only when a delivery is stored (it may query).
    Call inside the transaction of the change; delivery starts after it commits.
    """
    integration = _webhook_integration(meeting_id)
    if integration is None:
        return None
    flag = OPT_IN_EVENTS.get(event_type)
    if flag is not None and not getattr(integration, flag):
        return None
    event_id = uuid.uuid4()
    payload = build_event(event_type, data() if callable(data) else data, event_id=event_id)
    delivery = WebhookDelivery.objects.create(
        event_id=event_id, integration=integration, event_type=event_type,
        meeting_id=meeting_id, payload=payload, next_attempt_at=timezone.now())
    logger.info("webhook=%s event=%s meeting=%s integration=%s stored", delivery.pk,
                event_type, meeting_id, integration.pk)
    transaction.on_commit(dispatcher.wake)
    return delivery


class _Unlinked:
    """Meetings known to belong to no integration, for ``UNLINKED_CACHE_SECONDS``.

    Nearly every meeting belongs to none, and the lookup ran on every join (inside its
    transaction) and for every produced or closed track (a trip to the database thread each):
    in a burst of 200 joins, a fifth of the database threads' time. A meeting is linked when
    it is created (`integrations.services.meeting_create_for_integration`), before anybody
    joins; linking an existing one (the admin, `link_meeting`) forgets the meeting here at
    once in this process (a saved link, and again when its transaction commits), and another
    process notices within the cache's lifetime. Only the absence of a link is remembered:
    a linked meeting's integration (revoked, webhook URL changed) is read every time.
    """

    LIMIT = 10_000

    def __init__(self) -> None:
        self.until: dict[str, float] = {}
        self.generation = 0

    def known(self, meeting_id: Any) -> bool:
        """Whether the meeting was found unlinked within the cache's lifetime."""
        until = self.until.get(str(meeting_id))
        return until is not None and until > time.monotonic()

    def remember(self, meeting_id: Any, generation: int) -> None:
        """The meeting had no link at a lookup that began at ``generation`` (nothing is
        remembered if a link was saved since: the lookup may predate it)."""
        seconds = integration_settings().unlinked_cache_seconds
        if seconds <= 0 or generation != self.generation:
            return
        if len(self.until) >= self.LIMIT:
            self.until.clear()
        self.until[str(meeting_id)] = time.monotonic() + seconds

    def forget(self, meeting_id: Any) -> None:
        self.generation += 1
        self.until.pop(str(meeting_id), None)

    def clear(self) -> None:
        self.generation += 1
        self.until.clear()


unlinked = _Unlinked()
"""This process's meetings known to belong to no integration (see `_Unlinked`)."""


def _on_link_saved(sender: Any, instance: Any, **kwargs: Any) -> None:
    meeting_id = instance.meeting_id
    unlinked.forget(meeting_id)
    # A lookup on another thread may read the database before this transaction commits.
    transaction.on_commit(lambda: unlinked.forget(meeting_id))


def _webhook_integration(meeting_id: Any) -> Any:
    """The active integration owning the meeting, if it has a webhook URL (one query, none
    for a meeting found unlinked moments ago: `_Unlinked`)."""
    if unlinked.known(meeting_id):
        return None
    generation = unlinked.generation
    link = (IntegrationMeeting.objects.select_related("integration")
            .filter(meeting_id=meeting_id).first())
    if link is None:
        unlinked.remember(meeting_id, generation)
        return None
    integration = link.integration
    if not integration.is_active or not integration.webhook_url:
        return None
    return integration


def _on_attendance_writing(sender: Any, meeting_ids: list[Any], **kwargs: Any) -> None:
    """A batch of joins or leaves is about to emit for its meetings: find which of them belong
    to no integration in one query, where each would otherwise take its own (a burst at the top
    of the hour starts dozens of meetings in one batch, their lookups a quarter of its time)."""
    ids = [meeting_id for meeting_id in meeting_ids if not unlinked.known(meeting_id)]
    if len(ids) < 2:  # one lookup costs the same either way
        return
    generation = unlinked.generation
    linked = {str(meeting_id) for meeting_id in IntegrationMeeting.objects.filter(
        meeting_id__in=ids).values_list("meeting_id", flat=True)}
    for meeting_id in ids:
        if str(meeting_id) not in linked:
            unlinked.remember(meeting_id, generation)


# --- events from the call layer (event loop) ---------------------------------------------------

_pending: set[asyncio.Task[Any]] = set()


def _emit_in_transaction(meeting_id: Any, event_type: str, data: Data) -> None:
    # Most meetings belong to no integration: find out without a transaction (a BEGIN and
    # COMMIT on the database thread for every track of every call, for nothing).
    if _webhook_integration(meeting_id) is None:
        return
    with transaction.atomic():
        emit(meeting_id, event_type, data)


@database_sync_to_async
def _emit_committed(meeting_id: Any, event_type: str, data: Data) -> None:
    retry_on_lock(_emit_in_transaction, meeting_id, event_type, data)


async def _record(meeting_id: Any, event_type: str, data: Data) -> None:
    try:
        await _emit_committed(meeting_id, event_type, data)
    except Exception:
        logger.exception("event=%s meeting=%s could not be stored", event_type, meeting_id)


def emit_soon(meeting_id: Any, event_type: str, data: Data) -> None:
    """`emit` from the event loop without waiting for it (a background task, in order);
    nothing at all for a meeting known to belong to no integration (no database trip)."""
    if unlinked.known(meeting_id):
        return
    task = asyncio.get_running_loop().create_task(_record(meeting_id, event_type, data))
    _pending.add(task)
    task.add_done_callback(_pending.discard)


async def pending_emits() -> None:
    """Wait until the events handed to `emit_soon` are stored (tests, shutdown)."""
    while _pending:
        await asyncio.gather(*list(_pending), return_exceptions=True)


# --- payloads ----------------------------------------------------------------------------------


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _meeting(meeting: Any) -> dict[str, Any]:
    return {"id": str(meeting.id), "title": meeting.title, "status": meeting.status,
            "startedAt": _iso(meeting.started_at), "endedAt": _iso(meeting.ended_at)}


def _participant(participant: Any) -> dict[str, Any]:
    return {**identity_of_user(participant.user_id), "joinedAt": _iso(participant.joined_at),
            "leftAt": _iso(participant.left_at)}


def _track_data(meeting_id: str, peer_id: str, user_id: Any, producer_id: str, kind: str,
                source: str) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        return {"meeting": {"id": meeting_id},
                "participant": {**identity_of_user(user_id), "peerId": peer_id},
                "track": {"id": producer_id, "kind": kind, "source": source}}

    return build


# --- receivers ---------------------------------------------------------------------------------


def _on_meeting_started(sender: Any, meeting: Any, **kwargs: Any) -> None:
    emit(meeting.id, MEETING_STARTED, lambda: {"meeting": _meeting(meeting)})


def _on_meeting_ended(sender: Any, meeting: Any, **kwargs: Any) -> None:
    from rtc.policy.grants import grant_store

    meeting_id = meeting.id
    emit(meeting_id, MEETING_ENDED, lambda: {"meeting": _meeting(meeting)})
    transaction.on_commit(lambda: grant_store.clear_meeting(meeting_id))


def _on_participant_joined(sender: Any, participant: Any, **kwargs: Any) -> None:
    emit(participant.meeting_id, PARTICIPANT_JOINED,
         lambda: {"meeting": {"id": str(participant.meeting_id)},
                  "participant": _participant(participant)})


def _on_participant_left(sender: Any, participant: Any, **kwargs: Any) -> None:
    emit(participant.meeting_id, PARTICIPANT_LEFT,
         lambda: {"meeting": {"id": str(participant.meeting_id)},
                  "participant": _participant(participant)})


def _on_track(event_type: str) -> Callable[..., None]:
    def receiver(sender: Any, meeting_id: str, peer_id: str, user_id: Any, producer_id: str,
                 kind: str, source: str = "", **kwargs: Any) -> None:
        emit_soon(meeting_id, event_type,
                  _track_data(str(meeting_id), peer_id, user_id, producer_id, kind, source))

    receiver.__name__ = f"on_{event_type.replace('.', '_')}"
    return receiver


def _recording(recording: Any) -> dict[str, Any]:
    return {"id": str(recording.pk), "status": recording.status,
            "startedAt": _iso(recording.started_at), "endedAt": _iso(recording.ended_at),
            "duration": recording.duration, "size": recording.size,
            "failureReason": recording.failure_reason or None}


def _on_recording(event_type: str) -> Callable[..., None]:
    def receiver(sender: Any, recording: Any, **kwargs: Any) -> None:
        emit(recording.meeting_id, event_type,
             lambda: {"meeting": {"id": str(recording.meeting_id)},
                      "recording": _recording(recording)})

    receiver.__name__ = f"on_{event_type.replace('.', '_')}"
    return receiver


_on_recording_started = _on_recording(RECORDING_STARTED)
_on_recording_ready = _on_recording(RECORDING_READY)
_on_recording_failed = _on_recording(RECORDING_FAILED)
_on_track_published = _on_track(TRACK_PUBLISHED)
_on_track_unpublished = _on_track(TRACK_UNPUBLISHED)


def _on_chat_message(sender: Any, message: Any, **kwargs: Any) -> None:
    def build() -> dict[str, Any]:
        data = {"meeting": {"id": str(message.meeting_id)},
                "message": {"id": message.pk, "text": message.text,
                            "sentAt": _iso(message.sent_at),
                            "private": message.recipient_id is not None},
                "author": identity_of_user(message.author_id)}
        if message.recipient_id is not None:
            data["recipient"] = identity_of_user(message.recipient_id)
        return data

    emit(message.meeting_id, CHAT_MESSAGE, build)


def connect_receivers() -> None:
    """Connect every receiver (idempotent: fixed dispatch uids)."""
    from collab import signals as collab_signals
    from meetings import signals as meeting_signals
    from recordings import signals as recording_signals
    from rtc import signals as rtc_signals

    pairs = [
        (meeting_signals.attendance_writing, _on_attendance_writing),
        (meeting_signals.meeting_started, _on_meeting_started),
        (meeting_signals.meeting_ended, _on_meeting_ended),
        (meeting_signals.participant_joined, _on_participant_joined),
        (meeting_signals.participant_left, _on_participant_left),
        (rtc_signals.track_published, _on_track_published),
        (rtc_signals.track_unpublished, _on_track_unpublished),
        (recording_signals.recording_started, _on_recording_started),
        (recording_signals.recording_ready, _on_recording_ready),
        (recording_signals.recording_failed, _on_recording_failed),
        (collab_signals.chat_message_sent, _on_chat_message),
    ]
    for signal, receiver in pairs:
        signal.connect(receiver, dispatch_uid=f"integrations.{receiver.__name__}")
    post_save.connect(_on_link_saved, sender=IntegrationMeeting,
                      dispatch_uid="integrations.unlinked_cache")
