"""The shared whiteboard: drawing, erasing, clearing, late joiners, limits, grants, export."""

from __future__ import annotations

import asyncio
import io
import itertools

import pytest
from channels.db import database_sync_to_async
from django.test import Client
from PIL import Image

from collab import board_render, whiteboard
from collab.board_elements import element_size, parse_element
from collab.models import Whiteboard
from meetings import services as meeting_services
from rtc.services import set_room_service
from rtc.services.mediasoup_service import MediasoupService
from rtc.services.room_service import RoomService
from rtc.signaling.errors import SignalingError

pytestmark = pytest.mark.django_db(transaction=True)

_ids = itertools.count(1)


def stroke(**extra):
    """A pen stroke with a fresh id."""
    return {"id": f"s{next(_ids)}", "type": "pen", "color": "#FF0000", "width": 4,
            "points": [10, 10, 200.04, 100, 300, 150], **extra}


@pytest.fixture
async def pair(meeting, host_user, member_user, in_call):
    """Hazel (host) and Milo in one call."""
    return (await in_call(meeting, host_user, "Hazel"),
            await in_call(meeting, member_user, "Milo"))


async def test_a_drawing_reaches_the_others_and_late_joiners(pair, meeting, make_user,
                                                             rtc_client):
    """Milo draws: Hazel gets whiteboard:op (add, seq 1, the canonical element); Milo's reply
    carries the seq and he gets no echo. A late socket's whiteboard:state holds it."""
    hazel, milo = pair
    element = stroke()
    assert await milo.ok("whiteboard:draw", {"element": element}) == {"seq": 1}
    op = await hazel.event("whiteboard:op")
    assert op["op"] == "add" and op["seq"] == 1 and op["peerId"] == milo.joined["peerId"]
    assert op["element"]["color"] == "#ff0000" and op["element"]["points"][2] == 200
    await milo.drain()
    assert milo.saw("whiteboard:op") == []
    late_user = await database_sync_to_async(make_user)("late")
    await database_sync_to_async(meeting_services.participant_invite)(
        meeting=meeting, actor=meeting.host, username="late")
    late = await rtc_client(meeting, late_user)
    state = await late.ok("whiteboard:state")
    assert state["seq"] == 1 and state["clearedSeq"] == 0
    assert [e["id"] for e in state["elements"]] == [element["id"]]


async def test_erase_and_host_clear(pair):
    """Erasing broadcasts the erased ids; erasing what is gone changes nothing. Only the host
    clears: a member gets `forbidden`; after the clear the state is empty."""
    hazel, milo = pair
    first, second = stroke(), stroke()
    await milo.ok("whiteboard:draw", {"element": first})
    await milo.ok("whiteboard:draw", {"element": second})
    erased = await hazel.ok("whiteboard:erase", {"ids": [first["id"], "unknown"]})
    assert erased == {"seq": 3, "erased": [first["id"]]}
    assert (await milo.event("whiteboard:op", op="erase"))["ids"] == [first["id"]]
    assert await hazel.ok("whiteboard:erase", {"ids": [first["id"]]}) == {"seq": None,
                                                                         "erased": []}
    assert await milo.fail("whiteboard:clear") == "forbidden"
    assert await hazel.ok("whiteboard:clear") == {"seq": 4}
    assert (await milo.event("whiteboard:op", op="clear"))["seq"] == 4
    assert await milo.ok("whiteboard:state") == {"seq": 4, "clearedSeq": 4, "elements": []}


async def test_bad_elements_are_invalid(pair):
    """Every malformed element gets `invalid` with its reason; nothing is stored."""
    _, milo = pair
    bad = [
        {"id": "a", "type": "blob", "color": "#000000"},
        {**stroke(), "color": "red"},
        {**stroke(), "points": [1, 2, 3]},
        {**stroke(), "points": [1, 2, 5000, 3]},
        {**stroke(), "points": [0, 0] * 2001},
        {**stroke(), "points": [0, True]},
        {**stroke(), "onclick": "x"},
        {**stroke(), "width": 0},
        {"id": "t1", "type": "text", "color": "#000000", "x": 1, "y": 1, "size": 12,
         "text": "   "},
        {"id": "l1", "type": "line", "color": "#000000", "width": 2, "points": [0, 0]},
        {"id": "bad id!", "type": "rect", "color": "#000000", "width": 2, "x": 0, "y": 0,
         "w": 5, "h": 5},
        "not an object",
    ]
    for element in bad:
        assert await milo.fail("whiteboard:draw", {"element": element}) == "invalid", element
    assert await milo.fail("whiteboard:erase", {"ids": []}) == "invalid"
    assert await milo.fail("whiteboard:pointer", {"x": -1, "y": 3}) == "invalid"
    assert (await milo.ok("whiteboard:state"))["elements"] == []


async def test_every_kind_of_element_round_trips(pair):
    """Pen, line, arrow, rectangle, ellipse and text are accepted and come back as sent."""
    hazel, milo = pair
    elements = [
        stroke(),
        {"id": "ln", "type": "line", "color": "#00ff00", "width": 3, "points": [0, 0, 50, 50]},
        {"id": "ar", "type": "arrow", "color": "#0000ff", "width": 3,
         "points": [100, 100, 400, 120]},
        {"id": "rc", "type": "rect", "color": "#123456", "width": 2, "x": 500, "y": 500,
         "w": 200, "h": 100},
        {"id": "el", "type": "ellipse", "color": "#654321", "width": 2, "x": 800, "y": 500,
         "w": 120, "h": 60},
        {"id": "tx", "type": "text", "color": "#000000", "x": 50, "y": 700, "size": 24,
         "text": "<b>not bold</b> & more"},
    ]
    for element in elements:
        await milo.ok("whiteboard:draw", {"element": element})
    state = await hazel.ok("whiteboard:state")
    assert [e["type"] for e in state["elements"]] == ["pen", "line", "arrow", "rect",
                                                      "ellipse", "text"]
    assert state["elements"][-1]["text"] == "<b>not bold</b> & more"


async def test_the_same_id_twice_is_invalid(pair):
    """An element id names one element for good."""
    _, milo = pair
    element = stroke()
    await milo.ok("whiteboard:draw", {"element": element})
    assert await milo.fail("whiteboard:draw", {"element": element}) == "invalid"


async def test_size_and_rate_limits(pair, settings):
    """Elements beyond WHITEBOARD_MAX_ELEMENTS, or an element beyond
    WHITEBOARD_MAX_ELEMENT_BYTES, are refused; so is drawing beyond WHITEBOARD_BURST."""
    hazel, milo = pair
    settings.WHITEBOARD_MAX_ELEMENTS = 2
    await milo.ok("whiteboard:draw", {"element": stroke()})
    await milo.ok("whiteboard:draw", {"element": stroke()})
    assert await milo.fail("whiteboard:draw", {"element": stroke()}) == "limit"
    settings.WHITEBOARD_MAX_ELEMENTS = 100
    settings.WHITEBOARD_MAX_ELEMENT_BYTES = 200
    big = stroke(points=[1, 1] * 100)
    assert await milo.fail("whiteboard:draw", {"element": big}) == "invalid"
    settings.WHITEBOARD_MAX_ELEMENT_BYTES = 32 * 1024
    settings.WHITEBOARD_MAX_BYTES = 300
    assert await milo.fail("whiteboard:draw", {"element": big}) == "limit"
    settings.WHITEBOARD_BURST = 1
    assert await hazel.ok("whiteboard:state")
    await hazel.ok("whiteboard:erase", {"ids": ["nothing"]})
    assert await hazel.fail("whiteboard:erase", {"ids": ["nothing"]}) == "limit"


async def test_concurrent_drawing_converges(pair):
    """Both draw 15 strokes at once: seqs are 1..30 without gaps or repeats, each sees the
    other's 15 ops, and both states are the same."""
    hazel, milo = pair

    async def draw(client, count):
        return [(await client.ok("whiteboard:draw", {"element": stroke()}))["seq"]
                for _ in range(count)]

    seqs = await asyncio.gather(draw(hazel, 15), draw(milo, 15))
    assert sorted(seqs[0] + seqs[1]) == list(range(1, 31))
    for client, other_seqs in ((hazel, seqs[1]), (milo, seqs[0])):
        got = [(await client.event("whiteboard:op"))["seq"] for _ in range(15)]
        assert sorted(got) == sorted(other_seqs)
    assert await hazel.ok("whiteboard:state") == await milo.ok("whiteboard:state")


async def test_the_board_survives_a_new_call_process(meeting, host_user, rtc_client, rtc_service):
    """The board is in the database: after every socket closed and a new RoomService (what a
    server restart gives), a new socket gets the same elements."""
    hazel = await rtc_client(meeting, host_user)
    element = stroke()
    await hazel.ok("whiteboard:draw", {"element": element})
    await hazel.ws.disconnect()
    fresh = RoomService(MediasoupService())
    previous = set_room_service(fresh)
    try:
        again = await rtc_client(meeting, host_user)
        state = await again.ok("whiteboard:state")
        assert [e["id"] for e in state["elements"]] == [element["id"]] and state["seq"] == 1
        await again.ws.disconnect()
    finally:
        set_room_service(previous)
        await fresh.close()


async def test_pointer_positions_reach_the_others(pair):
    """whiteboard:pointer is relayed (not echoed) with the sender's name."""
    hazel, milo = pair
    assert await milo.ok("whiteboard:pointer", {"x": 12.34, "y": 56}) == {}
    pointer = await hazel.event("whiteboard:pointer")
    assert pointer["x"] == 12.3 and pointer["y"] == 56 and pointer["displayName"] == "Milo"


async def test_a_token_without_the_whiteboard_grant_sees_but_cannot_draw(acme, acme_meeting,
                                                                         token_client):
    """whiteboard=False: draw, erase and pointer are `forbidden`; clear needs host;
    whiteboard:state works."""
    token = await database_sync_to_async(acme.token)(acme_meeting, "viewer", whiteboard=False)
    viewer = await token_client(acme_meeting, token)
    for message_type, data in (("whiteboard:draw", {"element": stroke()}),
                               ("whiteboard:erase", {"ids": ["x"]}),
                               ("whiteboard:pointer", {"x": 1, "y": 1})):
        reply = await viewer.request(message_type, data)
        assert reply["code"] == "forbidden" and "whiteboard" in reply["error"], reply
    assert (await viewer.request("whiteboard:clear", {}))["code"] == "forbidden"
    assert (await viewer.ok("whiteboard:state"))["seq"] == 0
    boss = await token_client(acme_meeting, await database_sync_to_async(acme.token)(
        acme_meeting, "boss", host=True))
    assert (await boss.ok("whiteboard:clear"))["seq"] == 1


def test_services_refuse_ended_meetings_and_count_bytes(meeting, host_user):
    """The board's byte count follows adds and erases; an ended meeting takes no drawing."""
    from collab.config import collab_limits

    element = parse_element(stroke())
    whiteboard.board_add(meeting_id=meeting.id, author=host_user, element=element,
                         limits=collab_limits())
    board = Whiteboard.objects.get(meeting=meeting)
    assert board.size_bytes == element_size(element) and str(board)
    whiteboard.board_erase(meeting_id=meeting.id, ids=(element["id"],))
    assert Whiteboard.objects.get(meeting=meeting).size_bytes == 0
    meeting_services.meeting_end(meeting=meeting, actor=host_user)
    with pytest.raises(Exception) as refused:
        whiteboard.board_add(meeting_id=meeting.id, author=host_user,
                             element=parse_element(stroke()), limits=collab_limits())
    assert getattr(refused.value, "code", None) == "gone"
    with pytest.raises(SignalingError):
        parse_element({"id": "x", "type": "pen"})


def test_export_svg_and_png_from_the_meeting_page(meeting, host_user, member_user,
                                                  outsider_user):
    """The meeting page links the exports; the SVG escapes texts; the PNG is a real picture
    with the stroke's colour where it was drawn; strangers get 404."""
    from collab.config import collab_limits

    for element in (
        {"id": "p", "type": "pen", "color": "#ff0000", "width": 10, "points": [100, 100, 300,
                                                                             100]},
        {"id": "a", "type": "arrow", "color": "#0000ff", "width": 4, "points": [100, 400, 300,
                                                                               400]},
        {"id": "r", "type": "rect", "color": "#00ff00", "width": 4, "x": 500, "y": 500,
         "w": 100, "h": 50},
        {"id": "e", "type": "ellipse", "color": "#00ff00", "width": 4, "x": 700, "y": 500,
         "w": 100, "h": 50},
        {"id": "d", "type": "pen", "color": "#000000", "width": 6, "points": [900, 100]},
        {"id": "t", "type": "text", "color": "#000000", "x": 50, "y": 700, "size": 20,
         "text": "</text><script>x</script>"},
    ):
        whiteboard.board_add(meeting_id=meeting.id, author=host_user,
                             element=parse_element(element), limits=collab_limits())
    client = Client()
    client.force_login(member_user)
    page = client.get(f"/meetings/{meeting.id}/details/").content.decode()
    assert f"/meetings/{meeting.id}/whiteboard.png" in page
    svg = client.get(f"/meetings/{meeting.id}/whiteboard.svg")
    assert svg["Content-Type"] == "image/svg+xml"
    body = svg.content.decode()
    assert "&lt;/text&gt;&lt;script&gt;x&lt;/script&gt;" in body and "<script>" not in body
    assert body.count("<polyline") == 4 and "<rect" in body and "<ellipse" in body
    png = client.get(f"/meetings/{meeting.id}/whiteboard.png")
    image = Image.open(io.BytesIO(png.content)).convert("RGB")
    assert image.size == (1600, 900)
    assert image.getpixel((200, 100)) == (255, 0, 0)
    assert image.getpixel((200, 300)) == (255, 255, 255)
    assert image.getpixel((200, 400)) == (0, 0, 255)
    outsider = Client()
    outsider.force_login(outsider_user)
    assert outsider.get(f"/meetings/{meeting.id}/whiteboard.png").status_code == 404
    assert client.get(f"/meetings/{meeting.id}/whiteboard.gif").status_code == 404
    assert board_render.board_svg([]).startswith("<svg")
