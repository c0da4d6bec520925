"""The lookup "which integration owns this meeting" is skipped for a meeting found unlinked a
moment ago (it cost one query per join and per produced track for nothing), and a link
made afterwards in this process is seen at once."""

from __future__ import annotations

import asyncio

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from integrations import events, services
from integrations.models import WebhookDelivery


@pytest.mark.django_db
def test_an_unlinked_meeting_is_looked_up_once_then_linking_it_is_seen(hooked, meeting):
    """The first emit for a meeting of no integration queries; the next ones do not; once the
    meeting is linked to a webhook integration, the next emit stores its delivery."""
    events.unlinked.clear()
    with CaptureQueriesContext(connection) as first:
        assert events.emit(meeting.id, events.MEETING_STARTED, {}) is None
    assert len(first.captured_queries) == 1
    with CaptureQueriesContext(connection) as again:
        assert events.emit(meeting.id, events.MEETING_STARTED, {}) is None
        assert events.emit(meeting.id, events.PARTICIPANT_JOINED, {}) is None
    assert again.captured_queries == []
    assert events.unlinked.known(meeting.id)

    services.link_meeting(integration=hooked.integration, meeting=meeting)

    assert not events.unlinked.known(meeting.id)
    delivery = events.emit(meeting.id, events.MEETING_STARTED, {})
    assert delivery is not None
    assert WebhookDelivery.objects.filter(meeting_id=meeting.id).count() == 1


@pytest.mark.django_db
def test_the_cache_lasts_its_lifetime_and_zero_turns_it_off(meeting, settings):
    """An entry expires after ``UNLINKED_CACHE_SECONDS``; with 0 nothing is remembered, so
    every emit looks the meeting up."""
    events.unlinked.clear()
    settings.INTEGRATIONS = {**settings.INTEGRATIONS, "UNLINKED_CACHE_SECONDS": 0}
    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            events.emit(meeting.id, events.MEETING_STARTED, {})
        assert len(queries.captured_queries) == 1
    assert not events.unlinked.known(meeting.id)

    settings.INTEGRATIONS = {**settings.INTEGRATIONS, "UNLINKED_CACHE_SECONDS": 5}
    events.emit(meeting.id, events.MEETING_STARTED, {})
    assert events.unlinked.known(meeting.id)
    events.unlinked.until[str(meeting.id)] -= 6  # as if five seconds and more went by
    assert not events.unlinked.known(meeting.id)


@pytest.mark.django_db
def test_a_lookup_that_began_before_a_link_was_saved_remembers_nothing(hooked, meeting):
    """A link saved while a lookup was running (another thread) wins: the lookup's "no link"
    is not remembered, so the next emit sees the link."""
    events.unlinked.clear()
    generation = events.unlinked.generation
    services.link_meeting(integration=hooked.integration, meeting=meeting)
    events.unlinked.remember(meeting.id, generation)  # the stale lookup ends now
    assert not events.unlinked.known(meeting.id)
    assert events.emit(meeting.id, events.MEETING_STARTED, {}) is not None


@pytest.mark.django_db(transaction=True)
async def test_track_events_of_an_unlinked_meeting_make_no_database_trip(meeting):
    """``emit_soon`` (every produced and closed track) starts no task at all for a meeting
    known to be unlinked."""
    events.unlinked.clear()
    events.emit_soon(meeting.id, events.TRACK_PUBLISHED, {})
    assert len(events._pending) == 1
    await events.pending_emits()
    assert events.unlinked.known(meeting.id)
    events.emit_soon(meeting.id, events.TRACK_PUBLISHED, {})
    assert not events._pending
    await asyncio.sleep(0)


@pytest.mark.django_db
def test_a_batch_of_joins_looks_its_meetings_up_in_one_query(hooked, host_user):
    """A batch of joins starting four meetings, one of them linked to a webhook integration:
    one query finds the three unlinked ones (each would have taken its own), the linked one is
    read for each of its events and gets both deliveries, the others none."""
    from meetings import services as meeting_services
    from meetings.joins import JoinRequest, participants_join

    meetings = [meeting_services.meeting_create(host=host_user, title=f"Call {n}")
                for n in range(4)]
    services.link_meeting(integration=hooked.integration, meeting=meetings[2])
    events.unlinked.clear()
    with CaptureQueriesContext(connection) as queries:
        outcomes = participants_join([JoinRequest(meeting_id=m.id, user=host_user, record=True)
                                      for m in meetings])
    assert not [o for o in outcomes if isinstance(o, Exception)]
    lookups = [q["sql"] for q in queries.captured_queries
               if q["sql"].startswith("SELECT") and "integrations_integrationmeeting" in q["sql"]]
    assert len(lookups) == 3, lookups  # the batch's, then the linked meeting's two events
    assert all(events.unlinked.known(m.id) for m in meetings if m is not meetings[2])
    assert not events.unlinked.known(meetings[2].id)
    stored = WebhookDelivery.objects.order_by("pk").values_list("meeting_id", "event_type")
    assert list(stored) == [(meetings[2].id, events.MEETING_STARTED),
                            (meetings[2].id, events.PARTICIPANT_JOINED)]
