"""The outgoing check (`rtc.signaling.outgoing`): every reply and event a socket sends fits its
declared model, and one without a declaration is refused, not sent."""

from __future__ import annotations

import json
from typing import get_args

import pytest
from django.conf import settings as django_settings

from rtc.signaling import outgoing
from rtc.signaling.events import EVENTS
from rtc.signaling.payloads import Payload
from rtc.signaling.replies import BUILTIN_REPLIES
from rtc.signaling.routes import ROUTES
from rtc.websocket.envelope import registry


@pytest.fixture
def undeclared_handler():
    """A handler registered without any declaration of its reply (removed after)."""

    async def undeclared(conn, request):
        return {"said": "hello"}

    registry.register("test:undeclared")(undeclared)
    yield
    registry.unregister("test:undeclared")


def _refused(text: str, request_type: str | None) -> str:
    with pytest.raises(outgoing.UndeclaredMessage) as caught:
        outgoing.check_frame(text, request_type)
    assert outgoing.violations[-1] == str(caught.value)
    outgoing.violations.clear()
    return str(caught.value)


def test_every_route_and_event_declares_its_payload_model() -> None:
    """Each route names a reply model whose ``type`` literal is the route's reply name, each
    event and built-in request names one: nothing the server sends is declared by name only."""
    for name, route in ROUTES.items():
        assert route.reply_schema is not None and issubclass(route.reply_schema, Payload), name
        literal = route.reply_schema.model_fields.get("type")
        assert (get_args(literal.annotation)[0] if literal else None) == route.reply, name
    assert all(issubclass(event.model, Payload) for event in EVENTS.values())
    assert set(BUILTIN_REPLIES) == {"ping", "meeting:state"}
    assert set(BUILTIN_REPLIES) | set(ROUTES) == set(registry.types)


def test_frames_are_checked_against_their_models() -> None:
    """Declared frames pass; an undeclared event, a reply to an undeclared request, a field
    the model does not have, a missing or mistyped field and an unknown error code are
    refused with what is wrong."""
    outgoing.check_frame(json.dumps({"type": "rtc:activeSpeaker", "data": {"peerId": "p1"}}),
                         None)
    outgoing.check_frame(json.dumps({"requestId": "r", "data": {"type": "rtc:produced",
                                                                "id": "x"}}), "rtc:produce")
    outgoing.check_frame(json.dumps({"requestId": "r", "error": "no", "code": "invalid"}), None)
    assert outgoing.violations == []
    assert "not declared" in _refused('{"type": "rtc:nope", "data": {}}', None)
    assert "not declared" in _refused('{"requestId": "r", "data": {}}', "test:nothing")
    assert "ProducedReply" in _refused(
        '{"data": {"type": "rtc:produced", "id": "x", "extra": 1}}', "rtc:produce")
    assert "id" in _refused('{"data": {"type": "rtc:produced"}}', "rtc:produce")
    assert "PeerLeft" in _refused(
        '{"type": "rtc:peerLeft", "data": {"peerId": "p", "reason": "bored"}}', None)
    assert "ChatSentReply" in _refused('{"data": {"id": "7"}}', "chat:send")
    assert "code" in _refused('{"error": "no", "code": "teapot"}', None)
    assert "reply to no request" in _refused('{"data": {}}', None)


@pytest.mark.django_db(transaction=True)
async def test_a_reply_without_a_declaration_is_refused_on_the_socket(
        undeclared_handler, ws_join, ws_request, meeting, member_user) -> None:
    """A handler whose reply has no declared model: its reply frame is not sent, the socket's
    task fails with `UndeclaredMessage` (loudly, in the test that caused it); a declared
    request on another socket is answered as usual."""
    other = await ws_join(meeting.id, member_user)
    assert (await ws_request(other, {"type": "ping", "requestId": "p"}))["data"] == {
        "type": "pong"}
    socket = await ws_join(meeting.id, member_user)
    await socket.send_json_to({"type": "test:undeclared", "requestId": "u"})
    with pytest.raises(outgoing.UndeclaredMessage, match="test:undeclared"):
        while True:  # events before the refused reply (participants joining) pass
            frame = await socket.receive_json_from(timeout=5)
            assert frame.get("requestId") != "u", frame
    assert len(outgoing.violations) == 1
    outgoing.violations.clear()


@pytest.mark.django_db(transaction=True)
async def test_without_the_setting_nothing_is_checked(
        undeclared_handler, ws_join, ws_request, meeting, member_user) -> None:
    """Off (production's default: ``SIGNALING_CHECK_OUTGOING`` unset), the socket sends what
    its handlers return, declared or not: the check is not on the production path."""
    django_settings.SIGNALING_CHECK_OUTGOING = False
    socket = await ws_join(meeting.id, member_user)
    reply = await ws_request(socket, {"type": "test:undeclared", "requestId": "u"})
    assert reply == {"requestId": "u", "data": {"said": "hello"}}
    assert outgoing.violations == []


@pytest.mark.django_db(transaction=True)
async def test_an_undeclared_event_is_refused_on_the_socket(ws_join, meeting, member_user) -> None:
    """A group event whose type is not in the event table is not relayed: the socket's task
    fails with `UndeclaredMessage` naming it."""
    from channels.layers import get_channel_layer

    from meetings import events

    socket = await ws_join(meeting.id, member_user)
    await get_channel_layer().group_send(events.meeting_group_name(meeting.id),
                                         events.group_message("meeting.gossip", {"n": 1}))
    with pytest.raises(outgoing.UndeclaredMessage, match="meeting.gossip"):
        while True:
            frame = await socket.receive_json_from(timeout=5)
            assert frame.get("type") != "meeting.gossip", frame
    assert len(outgoing.violations) == 1
    outgoing.violations.clear()
