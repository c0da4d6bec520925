"""`meetings.joins.participants_join`: many joins in one transaction, each decided as if it came
alone after the ones before it (capacity, refusals, the lobby gate, the snapshot), with a
fixed number of statements whatever the batch's size, and each request tried alone when the
batch as a whole fails."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from conference.errors import ApplicationError, ErrorCode
from meetings import services
from meetings.joins import JoinRequest, participants_join
from meetings.models import Meeting, Participant

pytestmark = pytest.mark.django_db


def _statements(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries
            if not q["sql"].startswith(("SAVEPOINT", "RELEASE", "BEGIN", "COMMIT"))]


def _invited_meeting(host, users, **fields):
    meeting = services.meeting_create(host=host, title="Stand-up", **fields)
    for user in users:
        services.participant_invite(meeting=meeting, actor=host, username=user.username)
    return meeting


@pytest.fixture
def people(make_user):
    return [make_user(f"user{i}") for i in range(8)]


def test_a_batch_over_several_meetings_is_four_statements(host_user, people, open_meeting):
    """The host starts three meetings in one batch (each started once, all in one UPDATE, as
    the host's three rows in another); then six invited
    users of two of them and two newcomers of the open one: the meetings, the rows and the
    present, the new rows, the changed rows, however many joins. Every join is written, each
    snapshot lists the joins before it in its meeting."""
    first = _invited_meeting(host_user, people[:3])
    second = _invited_meeting(host_user, people[3:6])
    with CaptureQueriesContext(connection) as starting:
        started = participants_join([JoinRequest(meeting_id=m.id, user=host_user, record=True)
                                     for m in (first, second, open_meeting)])
    # the meetings, the rows, the host's three rows changed in one UPDATE, the three meetings
    # started in another (the webhooks' receiver of meeting_started reads on its own)
    own = [sql for sql in _statements(starting) if "integrations_" not in sql]
    assert len(own) == 4, own
    assert all(state["meeting"]["status"] == Meeting.Status.LIVE for _, state in started)
    assert Meeting.objects.filter(status=Meeting.Status.LIVE, started_at__isnull=False
                                  ).count() == 3
    requests = [JoinRequest(meeting_id=m.id, user=u, record=True)
                for m, u in [(first, people[0]), (second, people[3]), (first, people[1]),
                             (second, people[4]), (first, people[2]), (second, people[5]),
                             (open_meeting, people[6]), (open_meeting, people[7])]]
    with CaptureQueriesContext(connection) as queries:
        outcomes = participants_join(requests)
    assert len(_statements(queries)) == 4, _statements(queries)
    assert not [o for o in outcomes if isinstance(o, Exception)]
    snapshots = [state["participants"] for _, state in outcomes]
    assert [p["username"] for p in snapshots[0]] == ["hazel", "user0"]
    assert [p["username"] for p in snapshots[4]] == ["hazel", "user0", "user1", "user2"]
    assert [p["username"] for p in snapshots[5]] == ["hazel", "user3", "user4", "user5"]
    assert [p["username"] for p in snapshots[7]] == ["hazel", "user6", "user7"]
    present = Participant.objects.filter(joined_at__isnull=False, left_at__isnull=True)
    assert present.count() == 11


def test_capacity_counts_the_joins_before_in_the_batch(host_user, people):
    """Capacity 2: the first two of a batch of three join, the third is refused as full and
    gets no row written; a present user's second socket (record False) is let in."""
    meeting = _invited_meeting(host_user, people[:3], capacity=2)
    outcomes = participants_join(
        [JoinRequest(meeting_id=meeting.id, user=u, record=True) for u in people[:3]]
        + [JoinRequest(meeting_id=meeting.id, user=people[0], record=False)])
    assert isinstance(outcomes[2], ApplicationError) and outcomes[2].code == ErrorCode.FULL
    assert [len(o[1]["participants"]) for o in (outcomes[0], outcomes[1], outcomes[3])] == [1, 2, 2]
    assert not Participant.objects.get(meeting=meeting, user=people[2]).is_present


def test_a_refusal_or_a_gate_changes_nothing_for_the_others(host_user, people, outsider_user):
    """An outsider of an invited-only meeting is refused, a gate holds one back, an unknown
    and a malformed meeting id are not found; the others join."""
    meeting = _invited_meeting(host_user, people[:3])

    class Held(Exception):
        pass

    def hold(_meeting):
        raise Held

    outcomes = participants_join([
        JoinRequest(meeting_id=meeting.id, user=people[0], record=True),
        JoinRequest(meeting_id=meeting.id, user=outsider_user, record=True),
        JoinRequest(meeting_id=meeting.id, user=people[1], record=True, gate=hold),
        JoinRequest(meeting_id=uuid.uuid4(), user=people[2], record=True),
        JoinRequest(meeting_id="not-a-meeting", user=people[2], record=True),
        JoinRequest(meeting_id=meeting.id, user=people[2], record=True),
    ])
    assert outcomes[1].code == ErrorCode.FORBIDDEN
    assert isinstance(outcomes[2], Held)
    assert outcomes[3].code == outcomes[4].code == ErrorCode.NOT_FOUND
    assert [p["username"] for p in outcomes[5][1]["participants"]] == ["user0", "user2"]
    joined = Participant.objects.filter(meeting=meeting, joined_at__isnull=False)
    assert sorted(joined.values_list("user__username", flat=True)) == ["user0", "user2"]
    assert not Participant.objects.filter(meeting=meeting, user=outsider_user).exists()


def test_a_batch_that_fails_as_a_whole_is_tried_one_by_one(host_user, people, open_meeting):
    """A newcomer's row appears while the batch decides (as an invitation committed meanwhile
    would): the batch's insert conflicts and rolls back, then each request is tried alone and
    every one joins."""
    inserted = []

    def invite_meanwhile(meeting):
        if not inserted:
            inserted.append(Participant.objects.create(meeting=meeting, user=people[1]))

    outcomes = participants_join([
        JoinRequest(meeting_id=open_meeting.id, user=people[0], record=True,
                    gate=invite_meanwhile),
        JoinRequest(meeting_id=open_meeting.id, user=people[1], record=True),
    ])
    assert inserted and not [o for o in outcomes if isinstance(o, Exception)]
    present = Participant.objects.filter(meeting=open_meeting, joined_at__isnull=False,
                                         left_at__isnull=True)
    assert sorted(present.values_list("user__username", flat=True)) == ["user0", "user1"]


def test_a_lone_request_that_fails_raises(host_user, people, open_meeting, monkeypatch):
    """A batch of one has no one to be tried apart from: its failure is raised to the caller
    (the socket's join turns it into a refusal the client is told about)."""
    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(Participant.objects, "bulk_create", broken)
    with pytest.raises(RuntimeError):
        participants_join([JoinRequest(meeting_id=open_meeting.id, user=people[0], record=True)])
    assert participants_join([]) == []


def test_one_newcomer_twice_in_a_batch_gets_one_row(host_user, people, open_meeting):
    """The same newcomer twice in one batch (two processes' worth of sockets in one): one row
    is created, both requests join, each snapshot lists the user once."""
    outcomes = participants_join(
        [JoinRequest(meeting_id=open_meeting.id, user=people[0], record=True)] * 2)
    assert [[p["username"] for p in o[1]["participants"]] for o in outcomes] == [["user0"]] * 2
    rows = Participant.objects.filter(meeting=open_meeting, user=people[0])
    assert rows.count() == 1 and rows.get().is_present
