"""The lobby of a meeting whose access is "lobby": waiting, admitting, denying, giving up."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.test import Client

from collab.models import LobbyEntry
from meetings import services as meeting_services
from meetings.models import Meeting, Participant

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 5


@pytest.fixture
async def lobby_meeting(host_user, member_user):
    """A "lobby" meeting hosted by Hazel with Milo invited."""
    def make():
        meeting = meeting_services.meeting_create(host=host_user, title="Clinic",
                                                  access=Meeting.Access.LOBBY)
        meeting_services.participant_invite(meeting=meeting, actor=host_user, username="milo")
        return meeting

    return await database_sync_to_async(make)()


async def knock(ws_communicator, meeting, user):
    """Connect ``user``; return the socket and its first event (lobby:waiting expected)."""
    communicator = await ws_communicator(meeting.id, user=user)
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert connected
    return communicator, await communicator.receive_json_from(timeout=TIMEOUT)


async def test_an_uninvited_person_waits_until_the_host_admits(lobby_meeting, host_user,
                                                               outsider_user, rtc_client,
                                                               ws_communicator,
                                                               ws_receive_until):
    """Otto waits (lobby:waiting, not present); Hazel gets lobby:knock and lists him; she
    admits: Otto gets lobby:admitted then meeting.state, is invited from now on, and Hazel's
    other host connections hear the decision."""
    hazel = await rtc_client(lobby_meeting, host_user)
    otto, first = await knock(ws_communicator, lobby_meeting, outsider_user)
    assert first == {"type": "lobby:waiting", "data": {"displayName": "otto"}}
    knocked = await hazel.event("lobby:knock")
    assert knocked["userId"] == outsider_user.pk and knocked["displayName"] == "otto"
    assert [w["userId"] for w in (await hazel.ok("lobby:list"))["waiting"]] == [
        outsider_user.pk]
    present = database_sync_to_async(lambda: list(
        lobby_meeting.participants.filter(joined_at__isnull=False, left_at__isnull=True)
        .values_list("user__username", flat=True)))
    assert sorted(await present()) == ["hazel"]
    assert await otto.receive_nothing(timeout=0.2)
    reply = await hazel.ok("lobby:admit", {"userId": outsider_user.pk})
    assert reply == {"userId": outsider_user.pk, "admitted": True}
    assert (await otto.receive_json_from(timeout=TIMEOUT))["type"] == "lobby:admitted"
    state = await ws_receive_until(otto, "meeting.state")
    assert state["data"]["meeting"]["access"] == "lobby"
    assert (await hazel.event("lobby:decided")) == {"userId": outsider_user.pk,
                                                    "admitted": True}
    assert sorted(await present()) == ["hazel", "otto"]
    assert (await hazel.ok("lobby:list"))["waiting"] == []
    await otto.disconnect()
    again, first = await knock(ws_communicator, lobby_meeting, outsider_user)
    assert first["type"] == "meeting.state", "admitted once, invited for good"


async def test_a_denied_person_is_told_and_cannot_knock_again(lobby_meeting, host_user,
                                                              outsider_user, rtc_client,
                                                              ws_communicator,
                                                              ws_expect_close):
    """Hazel denies Otto: he gets lobby:denied and 4403; knocking again is refused at once."""
    hazel = await rtc_client(lobby_meeting, host_user)
    otto, _ = await knock(ws_communicator, lobby_meeting, outsider_user)
    await hazel.event("lobby:knock")
    assert (await hazel.ok("lobby:deny", {"userId": outsider_user.pk}))["admitted"] is False
    assert (await otto.receive_json_from(timeout=TIMEOUT))["type"] == "lobby:denied"
    assert await ws_expect_close(otto) == 4403
    again, first = await knock(ws_communicator, lobby_meeting, outsider_user)
    assert first["type"] == "lobby:denied"
    assert await ws_expect_close(again) == 4403
    entry = await database_sync_to_async(LobbyEntry.objects.get)(user=outsider_user)
    assert entry.status == "denied" and entry.decided_by_id == host_user.pk and str(entry)


async def test_giving_up_leaves_the_lobby(lobby_meeting, host_user, outsider_user, rtc_client,
                                          ws_communicator):
    """Otto closes his page while waiting: Hazel gets lobby:left; the list is empty; a late
    admit finds nobody (`not_found`)."""
    hazel = await rtc_client(lobby_meeting, host_user)
    otto, _ = await knock(ws_communicator, lobby_meeting, outsider_user)
    await hazel.event("lobby:knock")
    await otto.disconnect()
    assert (await hazel.event("lobby:left")) == {"userId": outsider_user.pk}
    assert (await hazel.ok("lobby:list"))["waiting"] == []
    assert await hazel.fail("lobby:admit", {"userId": outsider_user.pk}) == "not_found"


async def test_the_host_and_invited_people_enter_directly(lobby_meeting, host_user,
                                                          member_user, rtc_client):
    """Hazel and Milo get meeting.state at once; only the host may see or answer the lobby."""
    await rtc_client(lobby_meeting, host_user)
    milo = await rtc_client(lobby_meeting, member_user)
    assert await milo.fail("lobby:list") == "forbidden"
    assert await milo.fail("lobby:admit", {"userId": 1}) == "forbidden"
    assert await milo.fail("lobby:deny", {"userId": "x"}) == "invalid"


async def test_a_guest_with_a_join_token_waits_and_a_host_token_admits(acme, acme_meeting,
                                                                      token_client,
                                                                      token_socket):
    """In an integration's "lobby" meeting a guest token waits; a host token enters and
    admits it; the guest then joins the call."""
    acme_meeting.access = Meeting.Access.LOBBY
    await database_sync_to_async(acme_meeting.save)()
    boss = await token_client(acme_meeting, await database_sync_to_async(acme.token)(
        acme_meeting, "boss", host=True))
    guest = await token_socket(acme_meeting.id, await database_sync_to_async(acme.token)(
        acme_meeting, "guest-7", name="Gita"))
    assert (await guest.connect(timeout=TIMEOUT))[0]
    assert (await guest.receive_json_from(timeout=TIMEOUT)) == {
        "type": "lobby:waiting", "data": {"displayName": "Gita"}}
    knocked = await boss.event("lobby:knock")
    assert knocked["displayName"] == "Gita"
    await boss.ok("lobby:admit", {"userId": knocked["userId"]})
    assert (await guest.receive_json_from(timeout=TIMEOUT))["type"] == "lobby:admitted"
    assert (await guest.receive_json_from(timeout=TIMEOUT))["type"] == "meeting.state"


def test_the_call_page_lets_a_lobby_visitor_in_to_wait(host_user, outsider_user, meeting):
    """An uninvited visitor of a "lobby" meeting gets the call page (flagged to wait); of an
    invited-only meeting, 404 as before. The form offers the lobby policy."""
    lobby = meeting_services.meeting_create(host=host_user, title="Walk-in",
                                            access=Meeting.Access.LOBBY)
    client = Client()
    client.force_login(outsider_user)
    page = client.get(f"/meetings/{lobby.id}/")
    assert page.status_code == 200 and b'"lobby": true' in page.content
    assert b"Leave the lobby" in page.content
    assert client.get(f"/meetings/{meeting.id}/").status_code == 404  # not visible
    details = client.get(f"/meetings/{lobby.id}/details/")
    assert details.status_code == 200 and b"Ask to join" in details.content
    host = Client()
    host.force_login(host_user)
    assert b'value="lobby"' in host.get("/meetings/new/").content
    assert not Participant.objects.filter(meeting=lobby, user=outsider_user).exists()


async def test_two_tabs_wait_as_one_and_both_are_admitted(lobby_meeting, host_user,
                                                          outsider_user, rtc_client,
                                                          ws_communicator, ws_receive_until):
    """Otto waits from two tabs: Hazel hears one knock and lists him once; his first tab
    closing leaves him waiting (no lobby:left, still listed, the entry counts one tab); her
    admit reaches the tab still open, which enters; nothing is left waiting."""
    hazel = await rtc_client(lobby_meeting, host_user)
    tab1, first = await knock(ws_communicator, lobby_meeting, outsider_user)
    await hazel.event("lobby:knock")
    tab2, second = await knock(ws_communicator, lobby_meeting, outsider_user)
    assert first["type"] == second["type"] == "lobby:waiting"
    assert [w["userId"] for w in (await hazel.ok("lobby:list"))["waiting"]] == [
        outsider_user.pk]
    await tab1.disconnect()
    await hazel.drain(0.3)
    assert hazel.saw("lobby:knock") == [] and hazel.saw("lobby:left") == []
    assert [w["userId"] for w in (await hazel.ok("lobby:list"))["waiting"]] == [
        outsider_user.pk]
    entry = await database_sync_to_async(LobbyEntry.objects.get)(user=outsider_user)
    assert entry.waiting_sockets == 1
    await hazel.ok("lobby:admit", {"userId": outsider_user.pk})
    assert (await tab2.receive_json_from(timeout=TIMEOUT))["type"] == "lobby:admitted"
    assert (await ws_receive_until(tab2, "meeting.state"))["data"]["meeting"]["access"] == \
        "lobby"
    assert (await hazel.ok("lobby:list"))["waiting"] == []


async def test_a_denial_reaches_every_waiting_tab(lobby_meeting, host_user, outsider_user,
                                                  rtc_client, ws_communicator,
                                                  ws_expect_close):
    """Otto waits from two tabs; Hazel denies him once: both tabs get lobby:denied and 4403,
    and no entry is left waiting (the denial is kept, with no tab counted)."""
    hazel = await rtc_client(lobby_meeting, host_user)
    tabs = [(await knock(ws_communicator, lobby_meeting, outsider_user))[0] for _ in range(2)]
    await hazel.event("lobby:knock")
    await hazel.ok("lobby:deny", {"userId": outsider_user.pk})
    for tab in tabs:
        assert (await tab.receive_json_from(timeout=TIMEOUT))["type"] == "lobby:denied"
        assert await ws_expect_close(tab) == 4403
    assert (await hazel.ok("lobby:list"))["waiting"] == []
    entry = await database_sync_to_async(LobbyEntry.objects.get)(user=outsider_user)
    assert entry.status == "denied"


async def test_a_tab_opened_as_the_host_answers_gets_the_answer(lobby_meeting, host_user,
                                                                outsider_user, rtc_client,
                                                                ws_communicator,
                                                                ws_receive_until,
                                                                monkeypatch):
    """Otto's second tab is recorded as waiting, and Hazel's admit (for his first tab) is
    committed before that tab is in his lobby group, so the group message misses it: the tab
    reads the decision itself and enters instead of waiting for ever."""
    from collab import lobby as lobby_services
    from rtc.websocket.lobby import SocketLobby

    hazel = await rtc_client(lobby_meeting, host_user)
    tab1, _ = await knock(ws_communicator, lobby_meeting, outsider_user)
    await hazel.event("lobby:knock")
    original = SocketLobby.wait

    async def host_answers_first(self, verdict):
        await database_sync_to_async(lobby_services.lobby_decide)(
            meeting_id=lobby_meeting.id, user_id=outsider_user.pk, admit=True, actor=host_user)
        await original(self, verdict)

    monkeypatch.setattr(SocketLobby, "wait", host_answers_first)
    tab2 = await ws_communicator(lobby_meeting.id, user=outsider_user)
    assert (await tab2.connect(timeout=TIMEOUT))[0]
    assert (await tab2.receive_json_from(timeout=TIMEOUT))["type"] == "lobby:waiting"
    assert (await tab2.receive_json_from(timeout=TIMEOUT))["type"] == "lobby:admitted"
    assert (await ws_receive_until(tab2, "meeting.state"))["type"] == "meeting.state"
