"""Database constraints of Meeting and Participant, checked by the database itself."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from meetings.models import MAX_CAPACITY, Meeting, Participant

pytestmark = pytest.mark.django_db


def _refused(**fields: object) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Meeting.objects.create(**fields)


def test_meeting_ids_are_random_uuids(host_user):
    """Two meetings get distinct version-4 UUIDs, so ids cannot be enumerated."""
    first = Meeting.objects.create(title="a", host=host_user)
    second = Meeting.objects.create(title="b", host=host_user)
    assert first.id != second.id
    assert first.id.version == 4
    assert first.group_name == f"meeting.{first.id}"


@pytest.mark.parametrize("capacity", [0, MAX_CAPACITY + 1])
def test_capacity_outside_range_is_refused(host_user, capacity):
    """The database refuses a capacity of 0 or above MAX_CAPACITY."""
    _refused(title="x", host=host_user, capacity=capacity)
    assert not Meeting.objects.exists()


def test_end_before_start_is_refused(host_user):
    """A scheduled end at or before the start is refused; a later one is accepted."""
    start = timezone.now()
    _refused(title="x", host=host_user, scheduled_start=start, scheduled_end=start)
    _refused(title="x", host=host_user, scheduled_start=start, scheduled_end=start - timedelta(1))
    ok = Meeting.objects.create(
        title="x", host=host_user, scheduled_start=start, scheduled_end=start + timedelta(hours=1)
    )
    assert Meeting.objects.filter(pk=ok.pk).exists()


def test_unknown_status_and_access_are_refused(host_user):
    """Values outside the choices never reach the table."""
    _refused(title="x", host=host_user, status="paused")
    _refused(title="x", host=host_user, access="everyone")


def test_empty_title_is_refused(host_user):
    """An empty title is refused by the database."""
    _refused(title="", host=host_user)


def test_ended_meeting_needs_ended_at(host_user):
    """Status `ended` without `ended_at` is refused."""
    _refused(title="x", host=host_user, status=Meeting.Status.ENDED)
    ended = Meeting.objects.create(
        title="x", host=host_user, status=Meeting.Status.ENDED, ended_at=timezone.now()
    )
    assert ended.status == "ended"


def test_participant_is_unique_per_meeting(meeting, member_user):
    """The same user cannot be added to a meeting twice."""
    with pytest.raises(IntegrityError), transaction.atomic():
        Participant.objects.create(meeting=meeting, user=member_user)
    assert Participant.objects.filter(meeting=meeting, user=member_user).count() == 1


def test_one_host_per_meeting(meeting, member_user):
    """A second participant with role host is refused."""
    row = Participant.objects.get(meeting=meeting, user=member_user)
    row.role = Participant.Role.HOST
    with pytest.raises(IntegrityError), transaction.atomic():
        row.save()
    assert Participant.objects.filter(meeting=meeting, role="host").count() == 1


def test_leave_needs_an_earlier_join(meeting, member_user):
    """left_at without joined_at, or before it, is refused; after it is accepted."""
    row = Participant.objects.get(meeting=meeting, user=member_user)
    now = timezone.now()
    for joined, left in [(None, now), (now, now - timedelta(seconds=1))]:
        row.joined_at, row.left_at = joined, left
        with pytest.raises(IntegrityError), transaction.atomic():
            row.save()
    row.joined_at, row.left_at = now, now + timedelta(seconds=1)
    row.save()
    row.refresh_from_db()
    assert not row.is_present


def test_unknown_role_is_refused(meeting, outsider_user):
    """A role outside host/member is refused."""
    with pytest.raises(IntegrityError), transaction.atomic():
        Participant.objects.create(meeting=meeting, user=outsider_user, role="owner")


def test_deleting_a_meeting_deletes_its_participants(meeting):
    """Participants go with their meeting."""
    meeting_id = meeting.id
    assert Participant.objects.filter(meeting_id=meeting_id).count() == 2
    meeting.delete()
    assert not Participant.objects.filter(meeting_id=meeting_id).exists()
