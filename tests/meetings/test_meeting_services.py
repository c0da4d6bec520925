"""Services: rules checked without the API, and events broadcast only after commit."""

from __future__ import annotations

import uuid

import pytest
from asgiref.sync import async_to_sync
from django.db import transaction

from conference.errors import ApplicationError
from meetings import events, selectors, services
from meetings.models import Meeting, Participant

pytestmark = pytest.mark.django_db


@pytest.fixture
def listener(channel_layer):
    """A channel subscribed to a meeting's group; `.drain()` returns what arrived."""

    class Listener:
        def __init__(self) -> None:
            # A plain (not process-specific) name: readable from any event loop.
            self.channel = f"test-listener-{uuid.uuid4().hex}"

        def join(self, meeting: Meeting) -> None:
            async_to_sync(channel_layer.group_add)(meeting.group_name, self.channel)
            self.group = meeting.group_name

        def drain(self) -> list[dict]:
            import asyncio

            async def collect() -> list[dict]:
                got = []
                while True:
                    try:
                        got.append(await asyncio.wait_for(channel_layer.receive(self.channel), 0.3))
                    except TimeoutError:
                        return got

            return async_to_sync(collect)()

    made = Listener()
    yield made
    if getattr(made, "group", None):
        async_to_sync(channel_layer.group_discard)(made.group, made.channel)


def test_update_broadcasts_after_commit(
    meeting, host_user, listener, django_capture_on_commit_callbacks
):
    """meeting.updated is queued for commit, and delivered to the group when it runs."""
    listener.join(meeting)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.meeting_update(meeting=meeting, actor=host_user, title="Later")
    assert listener.drain() == []
    assert len(callbacks) == 1
    callbacks[0]()
    [message] = listener.drain()
    assert message["type"] == "meeting.event"
    assert message["event"] == events.MEETING_UPDATED
    assert message["data"]["title"] == "Later"


def test_rolled_back_change_is_never_broadcast(
    meeting, host_user, listener, django_capture_on_commit_callbacks
):
    """A change inside a transaction that rolls back queues no event and leaves no trace."""
    listener.join(meeting)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(RuntimeError), transaction.atomic():
            services.meeting_update(meeting=meeting, actor=host_user, title="Never")
            raise RuntimeError("roll back")
    assert callbacks == []
    assert listener.drain() == []
    meeting.refresh_from_db()
    assert meeting.title == "Weekly sync"


def test_services_check_the_host_themselves(meeting, member_user):
    """Non-host actors are refused by the services, not only by the API."""
    for call in (
        lambda: services.meeting_update(meeting=meeting, actor=member_user, title="x"),
        lambda: services.meeting_end(meeting=meeting, actor=member_user),
        lambda: services.meeting_delete(meeting=meeting, actor=member_user),
        lambda: services.participant_invite(meeting=meeting, actor=member_user, username="hazel"),
        lambda: services.participant_remove(meeting=meeting, actor=member_user, username="hazel"),
    ):
        with pytest.raises(ApplicationError) as caught:
            call()
        assert caught.value.code == "forbidden"
    meeting.refresh_from_db()
    assert (meeting.title, meeting.status) == ("Weekly sync", "scheduled")


def test_update_refuses_unknown_fields(meeting, host_user):
    """Only schedule, title, access and capacity may be changed through meeting_update."""
    with pytest.raises(ApplicationError):
        services.meeting_update(meeting=meeting, actor=host_user, status="ended")
    with pytest.raises(ApplicationError):
        services.meeting_update(meeting=meeting, actor=host_user, capacity=0)


def test_join_and_leave_record_attendance(meeting, member_user, outsider_user):
    """mark_joined sets joined_at and starts the meeting; mark_left sets left_at once."""
    with pytest.raises(ApplicationError) as caught:
        services.participant_mark_joined(meeting=meeting, user=outsider_user)
    assert caught.value.code == "forbidden"
    row = services.participant_mark_joined(meeting=meeting, user=member_user)
    assert row.is_present
    assert [p.user for p in selectors.participants_present(meeting=meeting)] == [member_user]
    meeting.refresh_from_db()
    assert meeting.status == Meeting.Status.LIVE
    left = services.participant_mark_left(meeting_id=meeting.id, user=member_user)
    assert left is not None and not left.is_present
    assert services.participant_mark_left(meeting_id=meeting.id, user=member_user) is None


def test_capacity_counts_present_participants(open_meeting, host_user, member_user, outsider_user):
    """With capacity 2, a third person is refused while two are present, and admitted later."""
    services.meeting_update(meeting=open_meeting, actor=host_user, capacity=2)
    services.participant_mark_joined(meeting=open_meeting, user=host_user)
    services.participant_mark_joined(meeting=open_meeting, user=member_user)
    open_meeting.refresh_from_db()
    assert not selectors.user_can_join(meeting=open_meeting, user=outsider_user)
    # Someone already present may reconnect.
    assert selectors.user_can_join(meeting=open_meeting, user=member_user)
    with pytest.raises(ApplicationError) as caught:
        services.participant_mark_joined(meeting=open_meeting, user=outsider_user)
    assert caught.value.code == "full"
    services.participant_mark_left(meeting_id=open_meeting.id, user=member_user)
    assert selectors.user_can_join(meeting=open_meeting, user=outsider_user)


def test_end_marks_everyone_left(meeting, host_user, member_user):
    """Ending a meeting closes every open attendance."""
    services.participant_mark_joined(meeting=meeting, user=member_user)
    meeting = services.meeting_end(meeting=meeting, actor=host_user)
    assert not selectors.participants_present(meeting=meeting).exists()
    assert Participant.objects.get(meeting=meeting, user=member_user).left_at is not None
    assert not selectors.user_can_join(meeting=meeting, user=member_user)


def test_meeting_get_for_user_hides_invisible_meetings(meeting, member_user, outsider_user):
    """Members get the meeting; outsiders get not_found, same as for a missing id."""
    assert selectors.meeting_get_for_user(meeting_id=meeting.id, user=member_user) == meeting
    for meeting_id in (meeting.id, "00000000-0000-4000-8000-000000000000", "junk"):
        with pytest.raises(ApplicationError) as caught:
            selectors.meeting_get_for_user(meeting_id=meeting_id, user=outsider_user)
        assert caught.value.code == "not_found"
