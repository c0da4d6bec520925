"""The admin pages for meetings and participants render, search and filter."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(make_user) -> Client:
    """A logged-in superuser's browser."""
    admin = make_user("root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    return client


def test_meeting_changelist_searches_and_filters(admin_client_, meeting, open_meeting):
    """Search by title and host, filter by access: only matching meetings are listed."""
    page = admin_client_.get("/admin/meetings/meeting/", {"q": "Weekly"})
    assert page.status_code == 200
    assert b"Weekly sync" in page.content and b"Open office hours" not in page.content
    page = admin_client_.get("/admin/meetings/meeting/", {"access__exact": "authenticated"})
    assert b"Open office hours" in page.content and b"Weekly sync" not in page.content


def test_meeting_change_page_has_participant_inline(admin_client_, meeting):
    """The meeting page shows its participants inline."""
    page = admin_client_.get(f"/admin/meetings/meeting/{meeting.id}/change/")
    assert page.status_code == 200
    assert b"participants-TOTAL_FORMS" in page.content
    assert b'value="2"' in page.content  # host + invited member


def test_participant_changelist(admin_client_, meeting):
    """Participants are listed and searchable by username."""
    page = admin_client_.get("/admin/meetings/participant/", {"q": "milo"})
    assert page.status_code == 200
    assert b"1 participant" in page.content
