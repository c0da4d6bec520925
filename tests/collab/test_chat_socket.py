"""Chat over the meeting socket: chat:send, chat:message, chat:history, chat:delete.

Real sockets, the real worker (private messages name a peer of the call), the real database.
"""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async

from collab.models import ChatMessage
from meetings import services as meeting_services

pytestmark = pytest.mark.django_db(transaction=True)

MARKUP = '<img src=x onerror="alert(1)"> <b>bold</b> &amp; <script>alert(2)</script>'


@pytest.fixture
async def trio(meeting, host_user, member_user, make_user, in_call):
    """Hazel (host), Milo and Nora in one call of `meeting`."""
    await database_sync_to_async(make_user)("nora")
    await database_sync_to_async(meeting_services.participant_invite)(
        meeting=meeting, actor=host_user, username="nora")
    nora_user = await database_sync_to_async(
        lambda: type(host_user).objects.get(username="nora"))()
    hazel = await in_call(meeting, host_user, "Hazel")
    milo = await in_call(meeting, member_user, "Milo")
    nora = await in_call(meeting, nora_user, "Nora")
    return hazel, milo, nora


async def test_a_message_to_everyone_reaches_each_connection_once(trio, meeting):
    """Milo's message: one chat:message on each of the three sockets (his own included),
    with his name, the exact text and a stored id; the reply carries that id."""
    hazel, milo, nora = trio
    reply = await milo.ok("chat:send", {"text": "Hello, everyone"})
    for client in (hazel, milo, nora):
        message = await client.event("chat:message")
        assert message["id"] == reply["id"]
        assert message["text"] == "Hello, everyone" and message["displayName"] == "Milo"
        assert message["private"] is False and message["peerId"] == milo.joined["peerId"]
        assert message["sentAt"]
    for client in (hazel, milo, nora):
        await client.drain()
        assert client.saw("chat:message") == [], "delivered more than once"
    stored = await database_sync_to_async(ChatMessage.objects.get)(pk=reply["id"])
    assert stored.meeting_id == meeting.id and stored.text == "Hello, everyone"


async def test_markup_is_kept_and_relayed_exactly_as_sent(trio):
    """A text that looks like HTML is stored and relayed byte for byte (each client escapes it
    where it shows it); so are blanks around it."""
    hazel, milo, _ = trio
    text = f"  {MARKUP}\n"
    reply = await hazel.ok("chat:send", {"text": text})
    assert (await milo.event("chat:message"))["text"] == text
    stored = await database_sync_to_async(ChatMessage.objects.get)(pk=reply["id"])
    assert stored.text == text


async def test_a_private_message_reaches_only_the_addressee_and_the_sender(trio):
    """Hazel writes privately to Nora: Nora and Hazel get it (marked private, naming Nora),
    Milo gets nothing, and Milo's history does not hold it while Nora's does."""
    hazel, milo, nora = trio
    nora_peer = nora.joined["peerId"]
    reply = await hazel.ok("chat:send", {"text": "just for you", "to": nora_peer})
    for client in (nora, hazel):
        message = await client.event("chat:message")
        assert message["id"] == reply["id"] and message["private"] is True
        assert message["to"]["peerId"] == nora_peer and message["to"]["displayName"] == "Nora"
    await milo.drain()
    assert milo.saw("chat:message") == []
    assert (await milo.ok("chat:history"))["messages"] == []
    history = (await nora.ok("chat:history"))["messages"]
    assert [m["text"] for m in history] == ["just for you"]


async def test_history_is_oldest_first_for_a_late_joiner(meeting, host_user, member_user,
                                                         rtc_client, in_call):
    """Messages sent before Milo connected come back in chat:history, oldest first; he may
    read it before joining the call."""
    hazel = await in_call(meeting, host_user, "Hazel")
    for text in ("one", "two", "three"):
        await hazel.ok("chat:send", {"text": text})
    milo = await rtc_client(meeting, member_user)
    history = (await milo.ok("chat:history"))["messages"]
    assert [m["text"] for m in history] == ["one", "two", "three"]
    assert all(m["displayName"] == "Hazel" for m in history)


async def test_history_is_bounded_to_the_newest(meeting, host_user, in_call, settings):
    """CHAT_HISTORY_LIMIT keeps the newest messages, still oldest first."""
    settings.CHAT_HISTORY_LIMIT = 2
    settings.CHAT_BURST = 10
    hazel = await in_call(meeting, host_user, "Hazel")
    for text in ("a", "b", "c"):
        await hazel.ok("chat:send", {"text": text})
    assert [m["text"] for m in (await hazel.ok("chat:history"))["messages"]] == ["b", "c"]


async def test_empty_blank_oversized_and_malformed_texts_are_invalid(trio, settings):
    """Each bad text gets an `invalid` reply carrying its requestId; nothing is stored or
    sent."""
    settings.CHAT_MAX_CHARS = 10
    hazel, milo, _ = trio
    bad = [{"text": ""}, {"text": "   \n\t"}, {"text": "x" * 11}, {}, {"text": 5},
           {"text": "hi", "colour": "red"}, {"text": "a\x00b"}, {"text": "hi", "to": "../x"}]
    for index, data in enumerate(bad):
        request_id = f"bad-{index}"
        await hazel.ws.send_json_to({"type": "chat:send", "requestId": request_id,
                                     "data": data})
        reply = await hazel.reply_to(request_id)
        assert reply["code"] == "invalid" and reply["requestId"] == request_id, (data, reply)
    reply = await hazel.request("chat:send", {"text": "x" * 10})
    assert "data" in reply, reply  # exactly the limit is fine
    assert await database_sync_to_async(ChatMessage.objects.count)() == 1
    await milo.event("chat:message")
    await milo.drain()
    assert milo.saw("chat:message") == []


async def test_the_request_id_is_echoed_on_errors(trio):
    """The error reply names the request it answers."""
    hazel, _, _ = trio
    await hazel.ws.send_json_to({"type": "chat:send", "requestId": "mine-1", "data": {}})
    reply = await hazel.reply_to("mine-1")
    assert reply == {"requestId": "mine-1", "error": "text is required", "code": "invalid"}


async def test_private_messages_need_a_peer_of_this_call(meeting, host_user, member_user,
                                                         rtc_client, in_call):
    """Naming nobody's peer id is `not_found`; oneself `invalid`; a socket not in the call
    may only write to everyone."""
    hazel = await in_call(meeting, host_user, "Hazel")
    assert await hazel.fail("chat:send", {"text": "hi", "to": "no-such-peer"}) == "not_found"
    assert await hazel.fail("chat:send", {"text": "hi",
                                          "to": hazel.joined["peerId"]}) == "invalid"
    milo = await rtc_client(meeting, member_user)
    assert await milo.fail("chat:send", {"text": "hi",
                                         "to": hazel.joined["peerId"]}) == "invalid"
    assert "id" in await milo.ok("chat:send", {"text": "hi all"})


async def test_sending_too_fast_is_refused_with_limit(meeting, host_user, in_call, settings):
    """Beyond CHAT_BURST at once the socket gets `limit` errors."""
    settings.CHAT_BURST = 2
    hazel = await in_call(meeting, host_user, "Hazel")
    await hazel.ok("chat:send", {"text": "1"})
    await hazel.ok("chat:send", {"text": "2"})
    assert await hazel.fail("chat:send", {"text": "3"}) == "limit"


async def test_the_host_deletes_a_message_for_everyone(trio):
    """A member may not delete (even their own): `forbidden`. The host's delete reaches every
    socket as chat:deleted, keeps the row without its text, and drops it from histories;
    deleting it again is `not_found`."""
    hazel, milo, nora = trio
    sent = await milo.ok("chat:send", {"text": "oops"})
    assert await milo.fail("chat:delete", {"id": sent["id"]}) == "forbidden"
    assert await hazel.ok("chat:delete", {"id": sent["id"]}) == {"id": sent["id"]}
    for client in (hazel, milo, nora):
        assert (await client.event("chat:deleted")) == {"id": sent["id"]}
        assert (await client.ok("chat:history"))["messages"] == []
    row = await database_sync_to_async(ChatMessage.objects.get)(pk=sent["id"])
    assert row.text == "" and row.deleted_at is not None
    assert await hazel.fail("chat:delete", {"id": sent["id"]}) == "not_found"
    assert await hazel.fail("chat:delete", {"id": 10**9}) == "not_found"
    assert await hazel.fail("chat:delete", {"id": "1"}) == "invalid"


async def test_the_rtc_rate_applies_to_chat_requests_too(meeting, host_user, in_call,
                                                         settings):
    """chat:* requests count against the socket's request bucket like rtc:* ones."""
    settings.RTC_LIMITS = {**settings.RTC_LIMITS, "REQUEST_BURST": 2, "REQUESTS_PER_SECOND": 1}
    hazel = await in_call(meeting, host_user, "Hazel")
    codes = [(await hazel.request("chat:history", {})).get("code") for _ in range(3)]
    assert "limit" in codes


async def test_a_socket_that_fell_behind_is_told_to_fetch_again(meeting, host_user, in_call,
                                                                monkeypatch):
    """Hazel's socket is sent more events at once than its channel holds (capacity 5 here):
    the channel layer drops the rest, and her client then gets events:missed with how many,
    after the events kept, so the page fetches the chat and the board again."""
    import contextlib

    from channels.exceptions import ChannelFull
    from channels.layers import get_channel_layer

    from meetings.events import group_message
    from rtc.services import get_room_service

    layer = get_channel_layer()
    monkeypatch.setattr(layer, "capacity", 5)  # before the socket's queue is made
    hazel = await in_call(meeting, host_user, "Hazel")
    channel = get_room_service().rooms[str(meeting.id)].peers[
        hazel.joined["peerId"]].channel_name
    for n in range(12):  # no await point inside a local send: the consumer cannot read yet
        with contextlib.suppress(ChannelFull):
            await layer.send(channel, group_message("chat:deleted", {"id": n}))
    missed = await hazel.event("events:missed")
    kept = hazel.saw("chat:deleted")
    assert missed["count"] >= 7 and 1 <= len(kept) <= 5
    assert await hazel.ws.receive_nothing(timeout=0.2)  # one notice, nothing after it
