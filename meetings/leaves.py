"""Participants leaving, many in one transaction: :func:`participants_leave`.

When a meeting ends on the hour its few hundred sockets close within a second. Alone, each
leave is a trip to a database thread with three statements and a commit (the user, the
participant row locked, its update), and most of its cost is Django building those statements
again for every leaver. A batch of leaves (those that asked while the previous batch was being
written: see `rtc.policy.attendance`) is two statements and one commit whatever its size: the
present rows of the requested users in the requested meetings, locked in primary-key order (so
two batches cannot deadlock), and one UPDATE giving them all the batch's time.

Each request's outcome is the row it marked left, or None when the user was not present there
(never joined, already left, the meeting deleted meanwhile). If the batch's transaction fails
as a whole for any other reason than the database being unavailable, each request is tried
again alone, so one row's trouble never loses another's leave; the database unavailable, every
request gets that error (its caller keeps the leave to write later; `meetings.batched`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from meetings import events, signals
from meetings.batched import together_or_alone
from meetings.joins import meeting_key
from meetings.models import Meeting, Participant

__all__ = ["LeaveOutcome", "LeaveRequest", "announce_left", "participants_leave"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LeaveRequest:
    """One leave: the user (by primary key) is no longer present in the meeting."""

    meeting_id: Any
    user_id: Any


LeaveOutcome = Participant | None | Exception
"""The row marked left, None when the user was not present, or why the leave failed."""


def participants_leave(requests: Sequence[LeaveRequest]) -> list[LeaveOutcome]:
    """Every request's outcome, in order (see the module docstring); the leaves are
    committed together."""
    return together_or_alone(_leave_together, requests, what="leaves")


def _key(meeting_id: Any, user_id: Any) -> tuple[str, str] | None:
    """The (meeting, user) pair as the batch keys it; None for an id that cannot be a
    meeting's."""
    meeting = meeting_key(meeting_id)
    return None if meeting is None else (meeting, str(user_id))


def _leave_together(requests: Sequence[LeaveRequest]) -> list[LeaveOutcome]:
    keys = [_key(r.meeting_id, r.user_id) for r in requests]
    wanted = {key for key in keys if key is not None}
    with transaction.atomic():
        present: dict[tuple[str, str], Participant] = {}
        if wanted:
            # Every present row of these users in these meetings: the pairs asked for and,
            # rarely, a user of the batch present in another meeting of it (locked, untouched).
            rows = (Participant.objects
                    .filter(meeting_id__in=sorted({m for m, _ in wanted}),
                            user_id__in=sorted({u for _, u in wanted}),
                            joined_at__isnull=False, left_at__isnull=True)
                    .select_related("user").select_for_update(of=("self",)).order_by("pk"))
            for row in rows:
                key = (str(row.meeting_id), str(row.user_id))
                if key in wanted:
                    present[key] = row
        outcomes: list[LeaveOutcome] = [
            present.pop(key, None) if key is not None else None for key in keys]
        leaving = [row for row in outcomes if isinstance(row, Participant)]
        if leaving:
            _write(leaving)
    return outcomes


def _write(leaving: list[Participant]) -> None:
    """One UPDATE for the batch (every row the same time), then each leave's signal and
    (after the commit) its broadcast, in the order they were asked."""
    now = timezone.now()
    Participant.objects.filter(pk__in=[row.pk for row in leaving]).update(left_at=now)
    signals.attendance_writing.send(sender=Meeting, meeting_ids=list(
        {row.meeting_id: None for row in leaving}))
    for row in leaving:
        row.left_at = now
        announce_left(row)


def announce_left(participant: Participant) -> None:
    """A leave just written (here, or one at a time by `meetings.services`): logged, its
    ``participant_left`` signal inside the transaction, its ``meeting.participantLeft`` after
    the commit."""
    logger.info("meeting=%s user=%s left", participant.meeting_id, participant.user_id)
    signals.participant_left.send(sender=Meeting, participant=participant)
    events.broadcast_on_commit(participant.meeting_id, events.PARTICIPANT_LEFT,
                               events.participant_payload(participant))
