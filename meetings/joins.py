"""Meeting sockets joining, many in one transaction: :func:`participants_join`.

On the hour a few hundred sockets join within a second. Alone, each join is three statements
and a commit, and in one process most of its cost is Django building and compiling those
statements and loading the same meeting's present participants again for every joiner. A batch
of joins (those that asked while the previous batch was being written: see
`rtc.websocket.join`) is four statements and one commit whatever its size: the meetings
(locked for writing, in primary-key order, so two processes' batches cannot deadlock), every
requested user's row with everyone present in those meetings, the new rows, the changed rows
(and one more when it starts scheduled meetings, all of them).

Each request is decided in its order as if it came alone after the ones before it: its refusal
(access, ended, full) counts the joins written before it in the batch, and its ``meeting.state``
snapshot lists them; the joins after it reach it as ``meeting.participantJoined`` events (its
socket is in the meeting's group before it asks). The joining socket itself (``channel``) gets
no event for its own join: its snapshot lists it. A refusal or a lobby wait is that request's
outcome and changes nothing for the others. If the batch's transaction fails as a whole (a
participant row created meanwhile by an invitation), each request is tried again alone, so one
request's conflict never refuses another; the database unavailable, every request gets that
error at once (`meetings.batched`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from conference.errors import ApplicationError, ErrorCode
from meetings import events, selectors, signals
from meetings.batched import together_or_alone
from meetings.models import Meeting, Participant

__all__ = ["JoinOutcome", "JoinRequest", "meeting_key", "participants_join"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class JoinRequest:
    """One socket's join: may ``user`` join the meeting, and write it when ``record`` (the
    user's first presence in this process). ``gate`` is called with the meeting inside the
    transaction and may raise to hold the request back (the lobby). ``channel``: the joining
    socket's, left out of its own ``meeting.participantJoined`` (the user's other sockets
    get it)."""

    meeting_id: Any
    user: AbstractBaseUser
    record: bool
    gate: Callable[[Meeting], None] | None = None
    channel: str | None = None


JoinOutcome = tuple[selectors.JoinAccess, dict[str, Any]] | Exception
"""A request's access and ``meeting.state`` snapshot, or why it did not join (the refusal as
`ApplicationError`, or whatever its gate raised)."""

_NOT_FOUND = "Meeting not found."


@dataclass(slots=True)
class _MeetingRows:
    """What the batch knows of one meeting's participants: the requested users' rows and who
    is present (in the model's order, joins of this batch last), kept current as it decides."""

    own: dict[Any, Participant] = field(default_factory=dict)
    present: list[Participant] = field(default_factory=list)
    payloads: dict[int, dict[str, Any]] = field(default_factory=dict)

    def payload(self, participant: Participant) -> dict[str, Any]:
        """The participant's event payload, built once per batch (a snapshot's list shares
        them: nothing downstream changes a participant's dict)."""
        key = id(participant)
        cached = self.payloads.get(key)
        if cached is None:
            cached = self.payloads[key] = events.participant_payload(participant)
        return cached


@dataclass(slots=True)
class _Writes:
    """The batch's writes, made after every request is decided."""

    now: datetime
    created: list[Participant] = field(default_factory=list)
    changed: dict[int, Participant] = field(default_factory=dict)
    started: dict[Any, Meeting] = field(default_factory=dict)
    joined: list[tuple[Participant, str | None]] = field(default_factory=list)
    """Each join written, with the joining socket's channel."""


def participants_join(requests: Sequence[JoinRequest]) -> list[JoinOutcome]:
    """Every request's outcome, in order (see the module docstring); the writes of those
    that join are committed together."""
    return together_or_alone(_join_together, requests, what="joins")


def meeting_key(meeting_id: Any) -> str | None:
    """The meeting id as a batch keys it (joins', leaves'); None for one that cannot be a
    meeting's."""
    try:
        return str(uuid.UUID(str(meeting_id)))
    except ValueError:
        return None


def _join_together(requests: Sequence[JoinRequest]) -> list[JoinOutcome]:
    with transaction.atomic():
        keys = [meeting_key(r.meeting_id) for r in requests]
        meetings = _meetings({k for k in keys if k is not None},
                             lock=any(r.record for r in requests))
        rows = _participants(meetings, {r.user.pk for r in requests})
        writes = _Writes(now=timezone.now())
        outcomes: list[JoinOutcome] = []
        for request, key in zip(requests, keys, strict=True):
            meeting = meetings.get(key) if key is not None else None
            try:
                if meeting is None:
                    raise ApplicationError(_NOT_FOUND, code=ErrorCode.NOT_FOUND)
                outcomes.append(_decide(request, meeting, rows[key], writes))
            except Exception as error:  # a refusal, or the gate holding it back
                outcomes.append(error)
        _write(writes)
    return outcomes


def _meetings(keys: set[str], *, lock: bool) -> dict[str, Meeting]:
    query = Meeting.objects.select_related("host").filter(pk__in=sorted(keys)).order_by("pk")
    if lock:
        # Only the meetings' rows: FOR UPDATE of the hosts' user rows too would make every
        # join of every meeting of one host wait for the others.
        query = query.select_for_update(of=("self",))
    return {str(meeting.pk): meeting for meeting in query}


def _participants(meetings: dict[str, Meeting], user_ids: set[Any]) -> dict[str, _MeetingRows]:
    """The requested users' rows and everyone present, per meeting, in one query."""
    rows = {key: _MeetingRows() for key in meetings}
    if not meetings:
        return rows
    found = Participant.objects.filter(
        Q(user_id__in=user_ids) | Q(joined_at__isnull=False, left_at__isnull=True),
        meeting_id__in=[m.pk for m in meetings.values()],
    ).select_related("user")
    for row in found:  # in the model's order
        held = rows[str(row.meeting_id)]
        if row.user_id in user_ids:
            held.own[row.user_id] = row
        if row.is_present:
            held.present.append(row)
    return rows


def _decide(request: JoinRequest, meeting: Meeting, rows: _MeetingRows,
            writes: _Writes) -> tuple[selectors.JoinAccess, dict[str, Any]]:
    """One request against the rows as the batch has them so far: refused (raises), held
    back by its gate (raises), or joined (its writes noted, its snapshot taken)."""
    user = request.user
    if request.gate is not None:
        request.gate(meeting)
    participant = rows.own.get(user.pk)
    refusal = selectors.join_refusal_given(meeting=meeting, user=user, participant=participant,
                                           present_count=len(rows.present))
    if refusal is not None:
        raise refusal
    if request.record:
        participant = _note_join(meeting, user, participant, rows, writes)
        writes.joined.append((participant, request.channel))
    access = selectors.join_access(meeting=meeting, user=user, participant=participant)
    snapshot = {
        "type": "meeting.state",
        "meeting": events.meeting_payload(meeting),
        "participants": [rows.payload(p) for p in rows.present],
    }
    return access, snapshot


def _note_join(meeting: Meeting, user: AbstractBaseUser, participant: Participant | None,
               rows: _MeetingRows, writes: _Writes) -> Participant:
    """Mark an allowed user joined in the batch's rows (the writes come later): a new row for
    a user without one, a scheduled meeting started."""
    now = writes.now
    if participant is None:
        participant = Participant(meeting=meeting, user=user, role=Participant.Role.MEMBER,
                                  joined_at=now, created_at=now)
        rows.own[user.pk] = participant
        writes.created.append(participant)
    else:
        participant.user = user
        participant.joined_at = now
        participant.left_at = None
        if participant.pk is not None:  # else it is still to be created with these values
            writes.changed[id(participant)] = participant
        rows.present = [p for p in rows.present if p is not participant]
    rows.payloads.pop(id(participant), None)
    rows.present.append(participant)
    if meeting.status == Meeting.Status.SCHEDULED:
        meeting.status = Meeting.Status.LIVE
        meeting.started_at = now
        writes.started[meeting.pk] = meeting
    return participant


def _write(writes: _Writes) -> None:
    """The batch's writes, then its signals and (after the commit) its broadcasts, in the
    order the joins were decided."""
    now = writes.now
    if writes.created:
        Participant.objects.bulk_create(writes.created)
    if writes.changed:
        # Every changed row gets the same values (the batch's time, not left): one plain
        # UPDATE, where bulk_update's CASE per row cost Django 0.8 ms a row to build.
        Participant.objects.filter(pk__in=[p.pk for p in writes.changed.values()]).update(
            joined_at=now, left_at=None)
    if writes.started:
        # Likewise the meetings this batch starts: one UPDATE (the rows are locked).
        Meeting.objects.filter(pk__in=list(writes.started)).update(
            status=Meeting.Status.LIVE, started_at=now, updated_at=now)
    if writes.joined:
        signals.attendance_writing.send(sender=Meeting, meeting_ids=list(
            {participant.meeting_id: None for participant, _ in writes.joined}))
    for meeting in writes.started.values():
        meeting.updated_at = now
        events.broadcast_on_commit(meeting.id, events.MEETING_UPDATED,
                                   events.meeting_payload(meeting))
        signals.meeting_started.send(sender=Meeting, meeting=meeting)
    for participant, channel in writes.joined:
        logger.info("meeting=%s user=%s joined", participant.meeting_id, participant.user_id)
        signals.participant_joined.send(sender=Meeting, participant=participant)
        events.broadcast_on_commit(participant.meeting_id, events.PARTICIPANT_JOINED,
                                   events.participant_payload(participant), exclude=channel)
