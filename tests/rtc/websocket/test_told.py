"""`rtc.websocket.told.AlreadyTold`: an announcement is left out only when a snapshot listed the
very same thing, once, for a while."""

from __future__ import annotations

import pytest

from meetings import events
from rtc.websocket import told
from rtc.websocket.told import TOLD_MAX, TOLD_SECONDS, AlreadyTold

ADA = {"userId": 1, "joinedAt": "2026-12-06T13:00:00+00:00", "username": "ada"}
BOB = {"userId": 2, "joinedAt": "2026-12-06T13:00:01+00:00", "username": "bob"}


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr(told, "time", fake)
    return fake


def test_a_participant_listed_is_not_announced_again_but_a_new_join_of_theirs_is(clock):
    """Ada's join as the snapshot listed it is covered once; the same user joining again
    (another join time) and a user not listed are not."""
    seen = AlreadyTold()
    seen.meeting_state([ADA])
    assert seen.covers(events.PARTICIPANT_JOINED, ADA)
    assert not seen.covers(events.PARTICIPANT_JOINED, ADA)  # used up
    seen.meeting_state([ADA])
    rejoined = {**ADA, "joinedAt": "2026-12-06T13:05:00+00:00"}
    assert not seen.covers(events.PARTICIPANT_JOINED, rejoined)
    assert not seen.covers(events.PARTICIPANT_JOINED, BOB)


def test_the_call_reply_covers_its_peers_and_their_producers_only(clock):
    reply = {"peers": [{"peerId": "p1", "producers": [{"id": "a1"}, {"id": "v1"}]},
                       {"peerId": "p2", "producers": []}]}
    seen = AlreadyTold()
    seen.call_joined(reply)
    assert len(seen) == 4
    assert seen.covers("rtc:peerJoined", {"peerId": "p2"})
    assert seen.covers("rtc:newProducer", {"peerId": "p1", "producerId": "v1"})
    assert not seen.covers("rtc:newProducer", {"peerId": "p1", "producerId": "v9"})
    assert not seen.covers("rtc:peerJoined", {"peerId": "p3"})
    # Other events are never covered, whatever they carry.
    assert not seen.covers("rtc:producerPaused", {"peerId": "p1", "producerId": "a1"})
    assert not seen.covers("rtc:peerLeft", {"peerId": "p1"})
    assert not seen.covers(events.PARTICIPANT_LEFT, ADA)


def test_the_keys_lapse_after_a_while(clock):
    seen = AlreadyTold()
    seen.meeting_state([ADA, BOB])
    clock.now += TOLD_SECONDS - 1
    assert seen.covers(events.PARTICIPANT_JOINED, ADA)
    clock.now += 2
    assert not seen.covers(events.PARTICIPANT_JOINED, BOB)
    assert len(seen) == 0
    seen.call_joined({"peers": [{"peerId": "p1"}]})  # a new snapshot starts a new period
    assert len(seen) == 1 and seen.covers("rtc:peerJoined", {"peerId": "p1"})


def test_a_large_snapshot_notes_only_its_last_entries(clock):
    """The most recent joins are last in a snapshot: those are the ones whose announcements
    may still be queued."""
    people = [{"userId": n, "joinedAt": f"t{n}"} for n in range(TOLD_MAX + 50)]
    seen = AlreadyTold()
    seen.meeting_state(people)
    assert len(seen) == TOLD_MAX
    assert not seen.covers(events.PARTICIPANT_JOINED, people[0])
    assert seen.covers(events.PARTICIPANT_JOINED, people[-1])


def test_out_of_the_call_no_call_announcement_goes_out(clock):
    """Before its join's reply (and after a leave) a socket gets no ``rtc:peerJoined`` or
    ``rtc:newProducer``: the reply lists them. Its other events still go out."""
    seen = AlreadyTold()
    assert seen.covers("rtc:peerJoined", {"peerId": "p1"})
    assert seen.covers("rtc:newProducer", {"peerId": "p1", "producerId": "a1"})
    for event, data in (("rtc:peerLeft", {"peerId": "p1"}), ("rtc:activeSpeaker", {}),
                        (events.PARTICIPANT_JOINED, ADA)):
        assert not seen.covers(event, data)
    seen.call_joined({"peers": []})
    assert not seen.covers("rtc:peerJoined", {"peerId": "p1"})
    seen.call_left()
    assert seen.covers("rtc:newProducer", {"peerId": "p1", "producerId": "a2"})


def test_each_snapshot_replaces_the_last_of_its_kind(clock):
    """A socket that joins and leaves the call again and again holds one reply's keys, not
    all of them (the leak test's cycles found the keys piling up)."""
    seen = AlreadyTold()
    seen.meeting_state([ADA])
    for n in range(100):
        seen.call_joined({"peers": [{"peerId": f"p{n}", "producers": [{"id": f"a{n}"}]}]})
        seen.call_left()
    assert len(seen) == 3  # ADA, the last reply's peer and producer
    seen.call_joined({"peers": []})
    assert not seen.covers("rtc:peerJoined", {"peerId": "p99"})
    assert seen.covers(events.PARTICIPANT_JOINED, ADA)


def test_the_first_meeting_update_equal_to_the_snapshot_is_covered_once(clock):
    """The meeting's start announced after a snapshot that already shows it live is left out;
    any meeting.updated uses the snapshot's meeting up, so a later update that restores its
    values (a title changed and changed back) still goes out; after a while nothing is
    covered."""
    live = {"id": "m1", "title": "Sync", "status": "live", "startedAt": "2026-12-06T13:00:00"}
    renamed = {**live, "title": "Standup"}
    seen = AlreadyTold()
    seen.meeting_state([ADA], live)
    assert seen.covers(events.MEETING_UPDATED, dict(live))
    assert not seen.covers(events.MEETING_UPDATED, dict(live))
    seen.meeting_state([ADA], live)
    assert not seen.covers(events.MEETING_UPDATED, renamed)
    assert not seen.covers(events.MEETING_UPDATED, dict(live))  # back to the snapshot's: news
    seen.meeting_state([ADA], live)
    clock.now += TOLD_SECONDS + 1
    assert not seen.covers(events.MEETING_UPDATED, dict(live))
    seen.meeting_state([ADA])  # a snapshot without its meeting covers no update
    assert not seen.covers(events.MEETING_UPDATED, dict(live))
