"""`meetings.leaves.participants_leave`: many leaves in one transaction, two statements whatever
the batch's size, each request's outcome its own (the row marked left, or None when the user was
not present), each tried alone when the batch as a whole fails, an unavailable database raised
to every caller."""

from __future__ import annotations

import uuid

import pytest
from django.db import OperationalError, connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext

from meetings import events, services, signals
from meetings.joins import JoinRequest, participants_join
from meetings.leaves import LeaveRequest, participants_leave
from meetings.models import Participant

pytestmark = pytest.mark.django_db


def _statements(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries
            if not q["sql"].startswith(("SAVEPOINT", "RELEASE", "BEGIN", "COMMIT"))]


@pytest.fixture
def people(make_user):
    return [make_user(f"user{i}") for i in range(6)]


@pytest.fixture
def meetings(host_user):
    return [services.meeting_create(host=host_user, title=f"Call {n}",
                                    access="authenticated") for n in range(2)]


def _join(meeting, users):
    outcomes = participants_join([JoinRequest(meeting_id=meeting.id, user=u, record=True)
                                  for u in users])
    assert not [o for o in outcomes if isinstance(o, Exception)]


def _present(meeting):
    return sorted(Participant.objects.filter(meeting=meeting, joined_at__isnull=False,
                                             left_at__isnull=True)
                  .values_list("user__username", flat=True))


def test_a_batch_over_two_meetings_is_two_statements(meetings, people,
                                                     django_capture_on_commit_callbacks):
    """Six leaves over two meetings, one of a user present only in the other meeting, one of
    a meeting that does not exist and one with an id that cannot be a meeting's: the present
    rows (locked) and one UPDATE; the three real leaves get the batch's time, the others None,
    and each leave's participantLeft goes out after the commit, in order."""
    first, second = meetings
    _join(first, people[:3])
    _join(second, people[3:5])
    sent = []
    on_left = signals.participant_left.connect(
        lambda sender, participant, **kw: sent.append(participant.user.username), weak=False)
    broadcasts = []

    def capture(meeting_id, message):
        broadcasts.append((str(meeting_id), message["event"], message["data"]["username"]))

    requests = [LeaveRequest(first.id, people[0].pk), LeaveRequest(second.id, people[4].pk),
                LeaveRequest(second.id, people[1].pk), LeaveRequest(uuid.uuid4(), people[2].pk),
                LeaveRequest("not-a-meeting", people[2].pk), LeaveRequest(first.id, people[2].pk)]
    try:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(events, "_send", capture)
            with django_capture_on_commit_callbacks(execute=True) as callbacks, \
                    CaptureQueriesContext(connection) as queries:
                outcomes = participants_leave(requests)
    finally:
        signals.participant_left.disconnect(on_left)
    own = [sql for sql in _statements(queries) if "integrations_" not in sql]
    assert len(own) == 2, own
    left = [o.user.username if o is not None else None for o in outcomes]
    assert left == ["user0", "user4", None, None, None, "user2"]
    assert len({o.left_at for o in outcomes if o is not None}) == 1
    assert _present(first) == ["user1"]
    assert _present(second) == ["user3"]
    assert sent == ["user0", "user4", "user2"]
    assert len(callbacks) >= 3  # the broadcasts waited for the commit
    assert broadcasts == [(str(first.id), events.PARTICIPANT_LEFT, "user0"),
                          (str(second.id), events.PARTICIPANT_LEFT, "user4"),
                          (str(first.id), events.PARTICIPANT_LEFT, "user2")]
    row = Participant.objects.get(meeting=first, user=people[0])
    assert row.left_at == outcomes[0].left_at and row.left_at >= row.joined_at


def test_a_second_leave_of_the_same_presence_changes_nothing(meetings, people):
    """The same leave twice in one batch, then again alone: written once, the others None."""
    first, _ = meetings
    _join(first, people[:1])
    outcomes = participants_leave([LeaveRequest(first.id, people[0].pk)] * 2)
    assert outcomes[0] is not None and outcomes[1] is None
    assert participants_leave([LeaveRequest(first.id, people[0].pk)]) == [None]
    assert participants_leave([]) == []


def test_a_batch_that_fails_as_a_whole_is_tried_one_by_one(meetings, people, monkeypatch):
    """The batch's UPDATE fails once (a lock timeout, a constraint): each leave is tried alone
    and every one is written."""
    first, _ = meetings
    _join(first, people[:3])
    calls = []
    original = QuerySet.update

    def update(self, **kwargs):
        if self.model is Participant and "left_at" in kwargs and not calls:
            calls.append(kwargs)
            raise RuntimeError("deadlock detected")
        return original(self, **kwargs)

    monkeypatch.setattr(QuerySet, "update", update)
    outcomes = participants_leave([LeaveRequest(first.id, u.pk) for u in people[:3]])
    assert calls and all(isinstance(o, Participant) for o in outcomes)
    assert _present(first) == []


def test_an_unavailable_database_fails_every_leave_of_the_batch_at_once(meetings, people,
                                                                        monkeypatch):
    """The database unavailable: no request is tried alone (each would wait for it again);
    the error goes to every caller, who keeps its leave to write later."""
    first, _ = meetings
    _join(first, people[:3])
    original = QuerySet.update
    calls = []

    def update(self, **kwargs):
        calls.append(kwargs)
        raise OperationalError("connection failed: Connection refused")

    monkeypatch.setattr(QuerySet, "update", update)
    with pytest.raises(OperationalError):
        participants_leave([LeaveRequest(first.id, u.pk) for u in people[:3]])
    assert len(calls) == 1
    monkeypatch.setattr(QuerySet, "update", original)
    assert _present(first) == ["user0", "user1", "user2"]
