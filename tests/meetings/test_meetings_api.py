"""The meetings REST API: who may see, create, change, invite to and end a meeting."""

from __future__ import annotations

import pytest

from meetings.models import Meeting, Participant

pytestmark = pytest.mark.django_db


def _url(meeting: Meeting, suffix: str = "") -> str:
    return f"/api/meetings/{meeting.id}/{suffix}"


def test_create_with_only_a_title(host_client, host_user):
    """POST {"title"} creates an invited-only scheduled meeting hosted by the caller."""
    response = host_client.post("/api/meetings/", {"title": "  Retro  "}, format="json")
    assert response.status_code == 201, response.data
    body = response.json()
    meeting = Meeting.objects.get(pk=body["id"])
    assert meeting.title == "Retro"
    assert meeting.host == host_user
    assert (body["status"], body["access"], body["capacity"]) == ("scheduled", "invited", 50)
    assert body["ws_path"] == f"/ws/meetings/{meeting.id}/"
    host_row = Participant.objects.get(meeting=meeting)
    assert (host_row.user, host_row.role) == (host_user, "host")


def test_create_validates_input(host_client):
    """Empty titles, out-of-range capacities and ends before starts are 400s; nothing is saved."""
    bad = [
        {"title": "   "},
        {"title": "x", "capacity": 0},
        {"title": "x", "capacity": 501},
        {
            "title": "x",
            "scheduled_start": "2030-01-01T10:00Z",
            "scheduled_end": "2030-01-01T09:00Z",
        },
        {"title": "x", "access": "everyone"},
    ]
    for body in bad:
        response = host_client.post("/api/meetings/", body, format="json")
        assert response.status_code == 400, (body, response.data)
    assert not Meeting.objects.exists()


def test_anonymous_requests_are_refused(api_client, meeting):
    """Without credentials every endpoint answers 401."""
    assert api_client.get("/api/meetings/").status_code == 401
    assert api_client.get(_url(meeting)).status_code == 401
    assert api_client.post("/api/meetings/", {"title": "x"}, format="json").status_code == 401


def test_list_shows_only_own_meetings(host_client, member_client, outsider_client, meeting):
    """The host and invited members list the meeting; an outsider lists nothing."""
    for client in (host_client, member_client):
        ids = [row["id"] for row in client.get("/api/meetings/").json()["results"]]
        assert ids == [str(meeting.id)]
    assert outsider_client.get("/api/meetings/").json()["results"] == []


def test_outsider_cannot_see_or_change_a_meeting(outsider_client, meeting):
    """A non-participant gets 404 for every operation, as if the meeting did not exist."""
    assert outsider_client.get(_url(meeting)).status_code == 404
    assert outsider_client.patch(_url(meeting), {"title": "mine"}, format="json").status_code == 404
    assert outsider_client.delete(_url(meeting)).status_code == 404
    assert outsider_client.post(_url(meeting, "end/")).status_code == 404
    assert outsider_client.get(_url(meeting, "participants/")).status_code == 404
    meeting.refresh_from_db()
    assert (meeting.title, meeting.status) == ("Weekly sync", "scheduled")


def test_member_can_read_but_not_change(member_client, meeting, outsider_user):
    """An invited member reads the meeting and attendance, but may not change, invite or end."""
    assert member_client.get(_url(meeting)).status_code == 200
    assert member_client.get(_url(meeting, "participants/")).status_code == 200
    assert member_client.patch(_url(meeting), {"title": "x"}, format="json").status_code == 403
    invite = {"username": outsider_user.username}
    assert (
        member_client.post(_url(meeting, "participants/"), invite, format="json").status_code == 403
    )
    assert member_client.post(_url(meeting, "end/")).status_code == 403
    assert member_client.delete(_url(meeting, "participants/hazel/")).status_code == 403
    assert member_client.delete(_url(meeting)).status_code == 403
    meeting.refresh_from_db()
    assert meeting.status == "scheduled"
    assert not Participant.objects.filter(meeting=meeting, user=outsider_user).exists()


def test_host_updates_the_meeting(host_client, meeting):
    """The host changes title and capacity; read-only fields are ignored."""
    response = host_client.patch(
        _url(meeting), {"title": "Renamed", "capacity": 5, "status": "ended"}, format="json"
    )
    assert response.status_code == 200, response.data
    meeting.refresh_from_db()
    assert (meeting.title, meeting.capacity, meeting.status) == ("Renamed", 5, "scheduled")


def test_host_invites_lists_and_removes(host_client, meeting, outsider_user):
    """Invite by username, see it in attendance, remove it again; errors for bad cases."""
    url = _url(meeting, "participants/")
    response = host_client.post(url, {"username": outsider_user.username}, format="json")
    assert response.status_code == 201, response.data
    assert response.json()["role"] == "member" and response.json()["invited_at"]
    again = host_client.post(url, {"username": outsider_user.username}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "conflict")
    nobody = host_client.post(url, {"username": "nobody"}, format="json")
    assert (nobody.status_code, nobody.json()["code"]) == (404, "not_found")

    rows = host_client.get(url).json()
    assert [(r["username"], r["role"], r["present"]) for r in rows] == [
        ("hazel", "host", False),
        ("milo", "member", False),
        ("otto", "member", False),
    ]
    assert host_client.delete(_url(meeting, "participants/otto/")).status_code == 204
    assert host_client.delete(_url(meeting, "participants/otto/")).status_code == 404
    refused = host_client.delete(_url(meeting, "participants/hazel/"))
    assert (refused.status_code, refused.json()["code"]) == (409, "conflict")
    assert [r["username"] for r in host_client.get(url).json()] == ["hazel", "milo"]


def test_host_ends_the_meeting(host_client, meeting):
    """End sets status and ended_at; ending again or changing it afterwards is 410 Gone."""
    response = host_client.post(_url(meeting, "end/"))
    assert response.status_code == 200
    assert response.json()["status"] == "ended" and response.json()["ended_at"]
    again = host_client.post(_url(meeting, "end/"))
    assert (again.status_code, again.json()["code"]) == (410, "gone")
    assert host_client.patch(_url(meeting), {"title": "x"}, format="json").status_code == 410


def test_host_deletes_the_meeting(host_client, meeting):
    """Delete removes the meeting and its participants."""
    assert host_client.delete(_url(meeting)).status_code == 204
    assert not Meeting.objects.filter(pk=meeting.pk).exists()
    assert not Participant.objects.filter(meeting_id=meeting.pk).exists()


def test_open_meeting_is_visible_to_any_signed_in_user(outsider_client, open_meeting):
    """An open meeting can be read by id by anyone signed in, but not changed."""
    assert outsider_client.get(_url(open_meeting)).status_code == 200
    assert (
        outsider_client.patch(_url(open_meeting), {"title": "x"}, format="json").status_code == 403
    )


def test_malformed_meeting_id_is_404(host_client):
    """A path that is not a UUID is simply not found."""
    assert host_client.get("/api/meetings/not-a-uuid/").status_code == 404
    assert host_client.get("/api/meetings/00000000-0000-0000-0000-000000000000/").status_code == 404
