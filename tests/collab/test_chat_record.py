"""What is kept of the chat: the model, the grants of join tokens, the webhook, the API and
the meeting page's transcript."""

from __future__ import annotations

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.db import IntegrityError, transaction
from django.test import Client

from collab import chat
from collab.models import ChatMessage
from integrations import events
from integrations.models import WebhookDelivery
from meetings import services as meeting_services

pytestmark = pytest.mark.django_db(transaction=True)


def _send(meeting, author, text, recipient=None):
    return chat.chat_message_send(meeting_id=meeting.id, author=author,
                                  display_name=author.username, text=text,
                                  recipient_id=recipient.pk if recipient else None,
                                  recipient_name=recipient.username if recipient else "")


def test_the_database_refuses_an_empty_message_that_is_not_deleted(meeting, host_user):
    """An empty text is only allowed on a deleted message's row."""
    with pytest.raises(IntegrityError), transaction.atomic():
        ChatMessage.objects.create(meeting=meeting, author=host_user, display_name="H", text="")
    message = _send(meeting, host_user, "fine")
    deleted = chat.chat_message_delete(meeting_id=meeting.id, message_id=message.pk,
                                       actor=host_user)
    assert deleted.text == "" and deleted.deleted_by == host_user and str(deleted)


def test_visibility_of_private_messages(meeting, host_user, member_user, outsider_user):
    """Public messages for all; a private one for its author and recipient only."""
    _send(meeting, host_user, "to all")
    _send(meeting, host_user, "to milo", recipient=member_user)
    _send(meeting, member_user, "to hazel", recipient=host_user)
    seen = {user.username: [m.text for m in chat.messages_visible_to(meeting_id=meeting.id,
                                                                      user=user)]
            for user in (host_user, member_user, outsider_user)}
    assert seen == {"hazel": ["to all", "to milo", "to hazel"],
                    "milo": ["to all", "to milo", "to hazel"], "otto": ["to all"]}
    assert chat.user_may_read_chat(meeting=meeting, user=member_user)
    assert not chat.user_may_read_chat(meeting=meeting, user=outsider_user)


def test_an_ended_meeting_takes_no_messages(meeting, host_user):
    """Writing into an ended meeting is refused with `gone`."""
    meeting_services.meeting_end(meeting=meeting, actor=host_user)
    with pytest.raises(Exception) as refused:
        _send(meeting, host_user, "late")
    assert getattr(refused.value, "code", None) == "gone"


def test_the_api_lists_what_the_caller_may_read(meeting, host_user, member_user, outsider_user,
                                               client_for):
    """Participants get the messages they may see, oldest first, paginated; a stranger and a
    removed participant get 404, like for a meeting that does not exist."""
    _send(meeting, host_user, "<b>hello</b>")
    _send(meeting, host_user, "secret", recipient=host_user)
    url = f"/api/meetings/{meeting.id}/messages/"
    body = client_for(member_user).get(url).json()
    assert body["count"] == 1
    assert body["results"][0]["text"] == "<b>hello</b>"
    assert body["results"][0]["display_name"] == "hazel"
    assert body["results"][0]["private"] is False and body["results"][0]["recipient"] is None
    host_view = client_for(host_user).get(url).json()
    assert [m["text"] for m in host_view["results"]] == ["<b>hello</b>", "secret"]
    assert host_view["results"][1]["recipient"] == {"user_id": host_user.pk,
                                                     "display_name": "hazel"}
    assert client_for(outsider_user).get(url).status_code == 404
    meeting_services.participant_remove(meeting=meeting, actor=host_user, username="milo")
    assert client_for(member_user).get(url).status_code == 404
    assert client_for(host_user).get("/api/meetings/00000000-0000-0000-0000-000000000000/"
                                     "messages/").status_code == 404


def test_the_meeting_page_shows_the_transcript_as_text(meeting, host_user, member_user,
                                                      outsider_user):
    """The detail page lists the messages the reader may see, markup escaped, links made
    clickable; private messages of others are left out."""
    _send(meeting, host_user, '<script>alert("x")</script> see https://example.com/a?b=1')
    _send(meeting, host_user, "only hazel", recipient=host_user)
    client = Client()
    client.force_login(member_user)
    page = client.get(f"/meetings/{meeting.id}/details/").content.decode()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "<script>alert" not in page
    assert 'href="https://example.com/a?b=1"' in page
    assert "only hazel" not in page
    assert "Chat transcript" in page


async def test_a_token_without_the_chat_grant_reads_but_cannot_write(acme, acme_meeting,
                                                                      token_client):
    """chat=False: chat:send, hand:raise and reaction:send are `forbidden`; chat:history
    works."""
    token = await database_sync_to_async(acme.token)(acme_meeting, "quiet", chat=False)
    quiet = await token_client(acme_meeting, token)
    await quiet.join("Quiet")
    for message_type, data in (("chat:send", {"text": "hi"}), ("hand:raise", {}),
                               ("reaction:send", {"emoji": "👍"})):
        reply = await quiet.request(message_type, data)
        assert reply["code"] == "forbidden", (message_type, reply)
        assert reply["error"] == "you may not chat in this call"
    assert (await quiet.ok("chat:history"))["messages"] == []


async def test_hidden_peers_cannot_chat(acme, acme_meeting, token_client):
    """A hidden (recorder) token may read the chat but not write to it."""
    token = await database_sync_to_async(acme.token)(acme_meeting, "rec", hidden=True,
                                                     publish=[])
    recorder = await token_client(acme_meeting, token)
    await recorder.join("Recorder")
    reply = await recorder.request("chat:send", {"text": "hi"})
    assert reply["code"] == "forbidden"
    assert "messages" in await recorder.ok("chat:history")


async def test_a_host_token_may_delete_messages(acme, acme_meeting, token_client):
    """The host grant of a token is enough to delete; without it, `forbidden`."""
    boss = await token_client(acme_meeting, await database_sync_to_async(acme.token)(
        acme_meeting, "boss", host=True))
    guest = await token_client(acme_meeting, await database_sync_to_async(acme.token)(
        acme_meeting, "guest"))
    sent = await guest.ok("chat:send", {"text": "delete me"})
    assert (await guest.request("chat:delete", {"id": sent["id"]}))["code"] == "forbidden"
    assert await boss.ok("chat:delete", {"id": sent["id"]}) == {"id": sent["id"]}


async def test_chat_webhook_is_sent_only_when_subscribed(hooked, hooked_meeting, token_client,
                                                         webhook_receiver):
    """Off by default: no chat.message delivery is stored. Once the integration subscribes,
    a message is delivered, signed, with its text and author identity."""
    token = await database_sync_to_async(hooked.token)(hooked_meeting, "user-9", name="Ines")
    ines = await token_client(hooked_meeting, token)
    await ines.ok("chat:send", {"text": "not sent"})
    count = database_sync_to_async(
        WebhookDelivery.objects.filter(event_type="chat.message").count)
    assert await count() == 0
    hooked.integration.webhook_chat_messages = True
    await database_sync_to_async(hooked.integration.save)()
    sent = await ines.ok("chat:send", {"text": "<i>sent</i>"})
    await events.pending_emits()
    assert await count() == 1
    # meeting.started and participant.joined come first (they are not opt-in).
    received = await asyncio.to_thread(webhook_receiver.wait_for, 3)
    chats = [e for e in webhook_receiver.events() if e["type"] == "chat.message"]
    assert len(chats) == 1, [r.event for r in received]
    data = chats[0]["data"]
    assert data["message"]["id"] == sent["id"] and data["message"]["text"] == "<i>sent</i>"
    assert data["author"]["identity"] == "user-9" and data["message"]["private"] is False


async def test_private_webhook_names_the_recipient(hooked, hooked_meeting, token_client,
                                                   webhook_receiver):
    """A private message's event carries the recipient's identity."""
    hooked.integration.webhook_chat_messages = True
    await database_sync_to_async(hooked.integration.save)()
    one = await token_client(hooked_meeting, await database_sync_to_async(hooked.token)(
        hooked_meeting, "one"))
    two = await token_client(hooked_meeting, await database_sync_to_async(hooked.token)(
        hooked_meeting, "two"))
    await one.join("One")
    await two.join("Two")
    await one.ok("chat:send", {"text": "psst", "to": two.joined["peerId"]})
    deliveries = await sync_to_async(list)(
        WebhookDelivery.objects.filter(event_type="chat.message"))
    assert len(deliveries) == 1
    assert deliveries[0].payload["data"]["recipient"]["identity"] == "two"
