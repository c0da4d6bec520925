"""`meetings.services.participant_join`: three statements for a join (the user's row and who
is present in one query: every statement counts when everyone joins at once), and the same
outcome as before for every kind of user."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conference.errors import ApplicationError
from meetings import services
from meetings.models import Participant

pytestmark = pytest.mark.django_db


def _join(meeting, user, record=True):
    return services.participant_join(meeting_id=meeting.id, user=user, record=record)


def test_a_join_reads_the_users_row_and_who_is_present_in_one_query(meeting, host_user,
                                                                   member_user):
    """The host joins (the meeting starts), then the member: the member's join is the meeting
    row, one read of its own row and the present, and its write; the snapshot lists both in
    the model's order and the access says member, not host."""
    _join(meeting, host_user)
    with CaptureQueriesContext(connection) as queries:
        access, state = _join(meeting, member_user)
    statements = [q["sql"] for q in queries.captured_queries
                  if not q["sql"].startswith(("SAVEPOINT", "RELEASE", "BEGIN", "COMMIT"))]
    assert len(statements) == 3, statements
    assert [p["userId"] for p in state["participants"]] == [host_user.pk, member_user.pk]
    assert access.invited and not access.is_host
    row = Participant.objects.get(meeting=meeting, user=member_user)
    assert row.joined_at is not None and row.left_at is None


def test_a_check_only_join_sees_its_own_row_and_writes_nothing(meeting, host_user,
                                                              member_user):
    """``record=False`` (another socket holds the presence): the access comes from the user's
    row even though the user is not present, and nothing is written."""
    _join(meeting, host_user)
    with CaptureQueriesContext(connection) as queries:
        access, state = _join(meeting, member_user, record=False)
    assert not any(q["sql"].startswith(("UPDATE", "INSERT")) for q in queries.captured_queries)
    assert access.invited
    assert [p["userId"] for p in state["participants"]] == [host_user.pk]


def test_an_outsider_of_an_invited_only_meeting_is_refused(meeting, host_user,
                                                           outsider_user):
    """Somebody with no row in an invited-only meeting is refused, while others are present,
    and gets no row."""
    _join(meeting, host_user)
    with pytest.raises(ApplicationError):
        _join(meeting, outsider_user)
    assert not Participant.objects.filter(meeting=meeting, user=outsider_user).exists()


def test_a_full_meeting_refuses_the_next_but_lets_a_present_user_in_again(
        meeting, host_user, member_user, make_user):
    """Capacity counts the present: at capacity a newcomer is refused, and the host (present
    already) joining again from a second socket is not."""
    meeting.capacity = 2
    meeting.save(update_fields=["capacity"])
    _join(meeting, host_user)
    _join(meeting, member_user)
    third = make_user("third")
    Participant.objects.create(meeting=meeting, user=third, role=Participant.Role.MEMBER)
    with pytest.raises(ApplicationError):
        _join(meeting, third)
    access, state = _join(meeting, host_user, record=False)
    assert access.is_host and len(state["participants"]) == 2
