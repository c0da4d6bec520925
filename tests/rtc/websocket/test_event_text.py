"""A group event is encoded once for all the sockets of a meeting (`rtc.websocket.event_text`)."""

from __future__ import annotations

import json

import pytest

from rtc.websocket import event_text as module
from rtc.websocket import frame_json
from rtc.websocket.event_text import event_text


def test_one_encoding_per_event_and_the_same_frame_as_before(monkeypatch):
    """Ten relays of one event's data encode it once, into the frame a socket sent before
    (``{"type", "data"}``); another data object with equal content is encoded afresh; the
    cache stays bounded."""
    calls = []
    real = frame_json.dumps

    def counting(obj, *args, **kwargs):
        calls.append(obj)
        return real(obj, *args, **kwargs)

    monkeypatch.setattr(module, "dumps", counting)
    data = {"peerId": "p1", "displayName": "Ada"}
    texts = {event_text("rtc:peerJoined", data) for _ in range(10)}
    assert texts == {real({"type": "rtc:peerJoined", "data": data})}
    assert len(calls) == 1
    assert event_text("rtc:peerJoined", dict(data)) in texts
    assert len(calls) == 2
    assert json.loads(event_text("rtc:peerLeft", data))["type"] == "rtc:peerLeft"
    for n in range(3 * module.CACHED):
        event_text("x", {"n": n})
    assert len(module._cache) == module.CACHED


@pytest.mark.django_db(transaction=True)
async def test_sockets_of_a_meeting_get_the_event_frame(ws_join, meeting, member_user, host_user,
                                                       monkeypatch):
    """Two sockets of a meeting: a group event reaches the other socket as
    ``{"type": event, "data": data}`` (the relay path that uses the shared encoding)."""
    from channels.layers import get_channel_layer

    from meetings import events
    from tests.support.declared import declare_event

    declare_event(monkeypatch, "meeting.note", n=int)
    host = await ws_join(meeting.id, host_user)
    member = await ws_join(meeting.id, member_user)
    await get_channel_layer().group_send(
        events.meeting_group_name(meeting.id),
        events.group_message("meeting.note", {"n": 7}))
    for ws in (host, member):
        while True:
            frame = await ws.receive_json_from(timeout=5)
            if frame["type"] == "meeting.note":
                assert frame == {"type": "meeting.note", "data": {"n": 7}}
                break
