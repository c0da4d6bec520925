"""The web views: who sees what, who may change what, and that the services are really used."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from meetings import services
from meetings.models import Meeting, Participant

pytestmark = pytest.mark.django_db


def _url(name: str, meeting: Meeting, **extra: Any) -> str:
    return reverse(f"web:{name}", kwargs={"meeting_id": meeting.id, **extra})


def test_pages_need_sign_in(standup: Meeting) -> None:
    """Anonymous visitors are sent to the login page from every web page."""
    client = Client()
    for url in [
        reverse("web:meeting-list"),
        reverse("web:meeting-create"),
        _url("meeting-detail", standup),
        _url("meeting-call", standup),
        _url("meeting-edit", standup),
    ]:
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("login")), url


def test_list_groups_live_upcoming_past(ada: Any, signed_in: Callable[[Any], Client]) -> None:
    """The list shows the user's meetings under Live now, Upcoming and Past."""
    live = services.meeting_create(host=ada, title="Live one")
    services.participant_mark_joined(meeting=live, user=ada)
    services.meeting_create(host=ada, title="Later one")
    ended = services.meeting_create(host=ada, title="Old one")
    services.meeting_end(meeting=ended, actor=ada)

    response = signed_in(ada).get(reverse("web:meeting-list"))
    assert response.status_code == 200
    sections = {
        key: [m.title for m in meetings] for key, _, meetings, _ in response.context["sections"]
    }
    assert sections == {"live": ["Live one"], "upcoming": ["Later one"], "past": ["Old one"]}
    html = response.content.decode()
    assert f'href="{reverse("web:meeting-call", kwargs={"meeting_id": live.id})}"' in html
    # No join button for an ended meeting.
    assert f'href="{reverse("web:meeting-call", kwargs={"meeting_id": ended.id})}"' not in html


def test_list_hides_other_peoples_meetings(
    standup: Meeting, eve: Any, signed_in: Callable[[Any], Client]
) -> None:
    """A user invited to nothing sees an empty list, not someone else's meeting."""
    response = signed_in(eve).get(reverse("web:meeting-list"))
    assert response.status_code == 200
    assert "Daily standup" not in response.content.decode()


def test_create_makes_the_user_host(ada: Any, signed_in: Callable[[Any], Client]) -> None:
    """Posting the form creates a meeting hosted by the user and redirects to its page."""
    response = signed_in(ada).post(
        reverse("web:meeting-create"),
        {"title": "  Planning  ", "access": "invited", "capacity": "8",
         "scheduled_start": "2030-01-02T10:00", "scheduled_end": "2030-01-02T11:00"},
    )
    meeting = Meeting.objects.get(title="Planning")
    assert response.status_code == 302
    assert response["Location"] == _url("meeting-detail", meeting)
    assert meeting.host == ada and meeting.capacity == 8
    assert meeting.scheduled_start.hour == 10
    assert Participant.objects.get(meeting=meeting, user=ada).role == Participant.Role.HOST


def test_create_refuses_bad_input(ada: Any, signed_in: Callable[[Any], Client]) -> None:
    """Blank title, end before start and out-of-range capacity are shown, nothing is created."""
    response = signed_in(ada).post(
        reverse("web:meeting-create"),
        {"title": "   ", "access": "invited", "capacity": "0",
         "scheduled_start": "2030-01-02T10:00", "scheduled_end": "2030-01-02T09:00"},
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert set(form.errors) == {"title", "capacity", "scheduled_end"}
    assert not Meeting.objects.exists()


def test_detail_visible_to_members_not_outsiders(
    standup: Meeting, bob: Any, eve: Any, signed_in: Callable[[Any], Client]
) -> None:
    """An invited member sees the detail page without host actions; an outsider gets 404."""
    response = signed_in(bob).get(_url("meeting-detail", standup))
    assert response.status_code == 200
    assert response.context["is_host"] is False
    html = response.content.decode()
    assert _url("meeting-invite", standup) not in html
    assert _url("meeting-end", standup) not in html
    assert signed_in(eve).get(_url("meeting-detail", standup)).status_code == 404


def test_detail_of_unknown_meeting_is_404(ada: Any, signed_in: Callable[[Any], Client]) -> None:
    """A well-formed id of no meeting is a 404 like a meeting one may not see."""
    nobody = "00000000-0000-0000-0000-000000000000"
    url = reverse("web:meeting-detail", kwargs={"meeting_id": nobody})
    assert signed_in(ada).get(url).status_code == 404


def test_host_edits_members_may_not(
    standup: Meeting, ada: Any, bob: Any, eve: Any, signed_in: Callable[[Any], Client]
) -> None:
    """The host changes the meeting; a member gets 403, an outsider 404, and nothing changes."""
    data = {"title": "Renamed", "access": "authenticated", "capacity": "5"}
    assert signed_in(bob).post(_url("meeting-edit", standup), data).status_code == 403
    assert signed_in(eve).post(_url("meeting-edit", standup), data).status_code == 404
    standup.refresh_from_db()
    assert standup.title == "Daily standup"

    host = signed_in(ada)
    form = host.get(_url("meeting-edit", standup)).context["form"]
    assert form.initial["title"] == "Daily standup"
    response = host.post(_url("meeting-edit", standup), data)
    assert response.status_code == 302
    standup.refresh_from_db()
    assert (standup.title, standup.access, standup.capacity) == ("Renamed", "authenticated", 5)


def test_host_invites_by_username(
    standup: Meeting, ada: Any, eve: Any, signed_in: Callable[[Any], Client]
) -> None:
    """Inviting adds a participant; unknown and duplicate names are reported, not added."""
    host = signed_in(ada)
    response = host.post(_url("meeting-invite", standup), {"username": "eve"}, follow=True)
    assert Participant.objects.filter(meeting=standup, user=eve).exists()
    assert "eve is invited." in response.content.decode()

    response = host.post(_url("meeting-invite", standup), {"username": "nobody"}, follow=True)
    assert "There is no user called nobody." in response.content.decode()
    response = host.post(_url("meeting-invite", standup), {"username": "eve"}, follow=True)
    assert "eve is already a participant." in response.content.decode()
    assert Participant.objects.filter(meeting=standup).count() == 3
    # Once invited, eve sees the meeting.
    assert signed_in(eve).get(_url("meeting-detail", standup)).status_code == 200


def test_member_cannot_invite_or_remove(
    standup: Meeting, bob: Any, eve: Any, signed_in: Callable[[Any], Client]
) -> None:
    """Invite and remove are host-only: 403 for a member, and nothing changes."""
    member = signed_in(bob)
    assert member.post(_url("meeting-invite", standup), {"username": "eve"}).status_code == 403
    url = _url("meeting-remove-participant", standup, username="bob")
    assert member.post(url).status_code == 403
    assert Participant.objects.filter(meeting=standup).count() == 2


def test_host_removes_a_participant(
    standup: Meeting, ada: Any, bob: Any, signed_in: Callable[[Any], Client]
) -> None:
    """The host removes bob; bob then gets 404 on the meeting."""
    url = _url("meeting-remove-participant", standup, username="bob")
    assert signed_in(ada).post(url).status_code == 302
    assert not Participant.objects.filter(meeting=standup, user=bob).exists()
    assert signed_in(bob).get(_url("meeting-detail", standup)).status_code == 404


def test_end_is_host_only_and_post_only(
    standup: Meeting, ada: Any, bob: Any, signed_in: Callable[[Any], Client]
) -> None:
    """Ending needs POST and the host; after it the call page says the meeting ended (410)."""
    assert signed_in(ada).get(_url("meeting-end", standup)).status_code == 405
    assert signed_in(bob).post(_url("meeting-end", standup)).status_code == 403
    standup.refresh_from_db()
    assert standup.status == Meeting.Status.SCHEDULED

    assert signed_in(ada).post(_url("meeting-end", standup)).status_code == 302
    standup.refresh_from_db()
    assert standup.status == Meeting.Status.ENDED
    response = signed_in(bob).get(_url("meeting-call", standup))
    assert response.status_code == 410
    assert 'data-action="join"' not in response.content.decode()
    # An ended meeting can no longer be edited.
    response = signed_in(ada).post(_url("meeting-edit", standup), {"title": "x", "capacity": 2})
    assert response.status_code == 302
    standup.refresh_from_db()
    assert standup.title == "Daily standup"


def test_call_page_for_members(
    standup: Meeting, ada: Any, bob: Any, signed_in: Callable[[Any], Client]
) -> None:
    """Members get the call page: controls with data-action, the bundle, and the page config."""
    response = signed_in(bob).get(_url("meeting-call", standup))
    assert response.status_code == 200
    html = response.content.decode()
    for name in ["join", "mute-mic", "toggle-camera", "share-screen", "leave"]:
        assert f'data-action="{name}"' in html
    assert "build/call.js" in html
    config = response.context["config"]
    assert config["wsPath"] == f"/ws/meetings/{standup.id}/"
    assert config["userId"] == bob.pk and config["isHost"] is False
    assert config["displayName"] == "bob"
    embedded = html.split('id="call-config" type="application/json">', 1)[1].split("</script>")[0]
    assert json.loads(embedded)["meetingId"] == str(standup.id)
    # The host's display name is the full name.
    assert signed_in(ada).get(_url("meeting-call", standup)).context["config"]["displayName"] == (
        "Ada Lovelace"
    )


def test_call_page_refuses_outsiders(
    standup: Meeting, eve: Any, signed_in: Callable[[Any], Client]
) -> None:
    """Someone not invited to an invited-only meeting gets 404 (the meeting is not disclosed)."""
    assert signed_in(eve).get(_url("meeting-call", standup)).status_code == 404


def test_open_meeting_call_page_for_any_signed_in_user(
    ada: Any, eve: Any, signed_in: Callable[[Any], Client]
) -> None:
    """A meeting open to signed-in users has a call page for anyone signed in."""
    meeting = services.meeting_create(host=ada, title="Open", access=Meeting.Access.AUTHENTICATED)
    assert signed_in(eve).get(_url("meeting-call", meeting)).status_code == 200


def test_call_page_in_chinese(
    standup: Meeting, bob: Any, signed_in: Callable[[Any], Client]
) -> None:
    """With Accept-Language zh-Hans the page and the JavaScript's strings are Chinese."""
    response = signed_in(bob).get(_url("meeting-call", standup), HTTP_ACCEPT_LANGUAGE="zh-Hans")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'lang="zh-hans"' in html
    assert "加入" in html
    assert response.context["config"]["strings"]["control.leave"] == "离开"


def test_host_actions_report_refusals(
    standup: Meeting, ada: Any, signed_in: Callable[[Any], Client]
) -> None:
    """Refused host actions come back as messages on the detail page, and change nothing:
    an empty invite, removing the host, inviting to or ending an ended meeting."""
    host = signed_in(ada)
    page = host.post(_url("meeting-invite", standup), {"username": ""}, follow=True)
    assert "Enter a username to invite." in page.content.decode()
    url = _url("meeting-remove-participant", standup, username="ada")
    page = host.post(url, follow=True)
    assert "The host cannot be removed." in page.content.decode()
    assert Participant.objects.filter(meeting=standup).count() == 2

    services.meeting_end(meeting=standup, actor=ada)
    page = host.post(_url("meeting-invite", standup), {"username": "eve"}, follow=True)
    assert "The meeting has ended." in page.content.decode()
    page = host.post(_url("meeting-end", standup), follow=True)
    assert "The meeting has ended." in page.content.decode()
    assert Participant.objects.filter(meeting=standup).count() == 2


def test_language_menu_switches_to_chinese(
    standup: Meeting, bob: Any, signed_in: Callable[[Any], Client]
) -> None:
    """The header's language form (Django's set_language) switches the pages to Chinese."""
    client = signed_in(bob)
    html = client.get(reverse("web:meeting-list")).content.decode()
    assert 'name="language"' in html and "简体中文" in html
    response = client.post(
        reverse("set_language"), {"language": "zh-hans", "next": reverse("web:meeting-list")}
    )
    assert response.status_code == 302
    html = client.get(reverse("web:meeting-list")).content.decode()
    assert "即将开始" in html and "新建会议" in html
