"""Request envelopes on the meeting socket: validation, dispatch, and error replies."""

from __future__ import annotations

import json

import pytest

from conference.errors import ApplicationError, ErrorCode
from rtc.signaling.errors import SignalingError
from rtc.websocket.envelope import (
    MAX_MESSAGE_CHARS,
    Envelope,
    ProtocolError,
    parse_envelope,
    registry,
)
from tests.support.declared import declare_event, declare_reply

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def joined(ws_join, meeting, member_user):
    """A member's connection to `meeting`."""
    return await ws_join(meeting.id, member_user)


async def _next_reply(communicator):
    while True:
        message = await communicator.receive_json_from(timeout=5)
        if "type" not in message:
            return message


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ({"type": "rtc:nope", "requestId": "r1", "data": {}}, "unknown_type"),
        ({"type": 42, "requestId": "r1"}, "invalid"),
        ({"requestId": "r1", "data": {}}, "invalid"),
        ({"type": "ping", "requestId": "r1", "data": [1, 2]}, "invalid"),
        ({"type": "ping", "requestId": "r1", "data": "x"}, "invalid"),
        ({"type": "ping", "requestId": "r1", "extra": True}, "invalid"),
        ({"type": "bad type!", "requestId": "r1"}, "invalid"),
    ],
)
async def test_malformed_requests_get_error_with_request_id(joined, ws_request, message, code):
    """Every malformed or unknown request is answered with its requestId and a code."""
    reply = await ws_request(joined, message)
    assert reply["requestId"] == "r1"
    assert reply["code"] == code
    assert isinstance(reply["error"], str) and reply["error"]
    assert "data" not in reply
    # The connection still works.
    assert (await ws_request(joined, {"type": "ping", "requestId": "ok"}))["data"]["type"] == "pong"


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        '{"type": "ping", "requestId": "\\ud800", "data": {"x": NaN}}',
        json.dumps([1, 2, 3]),
        json.dumps({"type": "ping", "requestId": "x" * 65}),
        json.dumps({"type": "ping", "requestId": 7}),
        json.dumps({"type": "ping", "requestId": "big", "data": {"x": "y" * MAX_MESSAGE_CHARS}}),
    ],
)
async def test_unparseable_frames_get_error_without_request_id(joined, raw):
    """Frames with no usable requestId get an `invalid` error with no requestId."""
    await joined.send_to(text_data=raw)
    reply = await _next_reply(joined)
    assert reply["code"] == "invalid"
    assert "requestId" not in reply


@pytest.mark.parametrize("raw", [
    '{"type": "ping", "requestId": "nan", "data": {"x": NaN}}',
    '{"type": "ping", "requestId": "surrogate", "data": {"x": "\\ud800"}}',
    '{"type": "ping", "requestId": "big", "data": {"x": 1e999}}',
])
async def test_frames_json_accepts_but_the_decoder_refuses_keep_their_request_id(joined, raw):
    """NaN, a lone surrogate, an infinite number: refused as malformed JSON, the reply
    carrying the requestId a Python client's ``json.dumps`` wrote with them."""
    await joined.send_to(text_data=raw)
    reply = await _next_reply(joined)
    assert reply["code"] == "invalid"
    assert reply["error"] == "Malformed JSON."
    assert reply["requestId"] == json.loads(raw)["requestId"]


async def test_binary_frames_are_refused(joined):
    """Binary frames get an `invalid` error reply."""
    await joined.send_to(bytes_data=b"\x00\x01")
    reply = await _next_reply(joined)
    assert reply["code"] == "invalid"


async def test_request_without_request_id_is_answered(joined):
    """The seed makes requestId optional: the reply then has none."""
    await joined.send_json_to({"type": "ping"})
    assert await _next_reply(joined) == {"data": {"type": "pong"}}


async def test_meeting_state_request(joined, ws_request, meeting):
    """`meeting:state` returns the meeting and who is present."""
    reply = await ws_request(joined, {"type": "meeting:state", "requestId": "s"})
    assert reply["data"]["type"] == "meeting.state"
    assert reply["data"]["meeting"]["id"] == str(meeting.id)
    assert [p["username"] for p in reply["data"]["participants"]] == ["milo"]


@pytest.fixture
def temp_handlers(monkeypatch):
    """Registers test:* handlers (echo, app error, safe error, crash) and declares what they
    send (`tests.support.declared`); removes them after."""
    declare_reply(monkeypatch, "test:echo", type=str, user=str, data=dict)
    declare_reply(monkeypatch, "test:broadcast", type=str)
    declare_event(monkeypatch, "test:shout", **{"from": str})

    async def echo(conn, request: Envelope):
        return {"type": "test:echoed", "user": conn.user.username, "data": request.data}

    async def app_error(conn, request):
        raise ApplicationError("Not allowed here.", code=ErrorCode.FORBIDDEN)

    async def safe_error(conn, request):
        raise SignalingError(ErrorCode.ROOM_FULL, "Room is full.")

    async def crash(conn, request):
        raise RuntimeError("/secret/path/to/file.py exploded")

    async def broadcast(conn, request):
        await conn.broadcast("test:shout", {"from": conn.user.username})
        return {"type": "test:shouted"}

    handlers = {
        "test:echo": echo,
        "test:appError": app_error,
        "test:safeError": safe_error,
        "test:crash": crash,
        "test:broadcast": broadcast,
    }
    for name, handler in handlers.items():
        registry.register(name)(handler)
    yield
    for name in handlers:
        registry.unregister(name)
    assert not registry.types & set(handlers)


async def test_registered_handlers_are_dispatched(temp_handlers, joined, ws_request):
    """A plug-in handler gets the connection and the data; its result is the reply's data."""
    reply = await ws_request(joined, {"type": "test:echo", "requestId": "e", "data": {"a": 1}})
    assert reply == {
        "requestId": "e",
        "data": {"type": "test:echoed", "user": "milo", "data": {"a": 1}},
    }


async def test_handler_errors_become_safe_replies(temp_handlers, joined, ws_request):
    """Application and declared errors keep their message and code; crashes say nothing more."""
    reply = await ws_request(joined, {"type": "test:appError", "requestId": "a"})
    assert reply == {"requestId": "a", "error": "Not allowed here.", "code": "forbidden"}
    reply = await ws_request(joined, {"type": "test:safeError", "requestId": "s"})
    assert reply == {"requestId": "s", "error": "Room is full.", "code": "room_full"}
    reply = await ws_request(joined, {"type": "test:crash", "requestId": "c"})
    assert reply == {"requestId": "c", "error": "Internal error.", "code": "internal"}
    assert (await ws_request(joined, {"type": "ping", "requestId": "p"}))["data"]["type"] == "pong"


async def test_handler_broadcast_skips_the_sender(
    temp_handlers, ws_join, ws_request, ws_receive_until, meeting, host_user, member_user
):
    """`conn.broadcast` reaches the other connections of the meeting, not the sender."""
    host = await ws_join(meeting.id, host_user)
    member = await ws_join(meeting.id, member_user)
    await ws_request(member, {"type": "test:broadcast", "requestId": "b"})
    shout = await ws_receive_until(host, "test:shout")
    assert shout["data"] == {"from": "milo"}
    await member.send_json_to({"type": "ping", "requestId": "after"})
    seen = []
    while (message := await member.receive_json_from(timeout=5)).get("requestId") != "after":
        seen.append(message.get("type"))
    assert "test:shout" not in seen
    assert await member.receive_nothing(timeout=0.2)


def test_parse_envelope_keeps_valid_fields():
    """A valid envelope becomes an Envelope; unknown types are refused with their requestId."""
    request = parse_envelope(
        {"type": "ping", "requestId": "r", "data": {"k": 1}}, known_types=frozenset({"ping"})
    )
    assert request == Envelope(type="ping", data={"k": 1}, request_id="r")
    with pytest.raises(ProtocolError) as caught:
        parse_envelope({"type": "rtc:join", "requestId": "q"}, known_types=frozenset())
    assert (caught.value.code, caught.value.request_id) == ("unknown_type", "q")


def test_registry_refuses_duplicates_and_bad_names():
    """A type is registered once; names must match the type pattern."""

    async def handler(conn, request):
        return {}

    with pytest.raises(ValueError):
        registry.register("ping")(handler)
    with pytest.raises(ValueError):
        registry.register("no spaces")(handler)
