"""Fixtures of the web UI tests: users and meetings of their own, and signed-in clients.

Independent of tests/conftest.py's fixtures on purpose (different names), so the web tests
say exactly which people and meetings they use.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from meetings import services
from meetings.models import Meeting
from tests.web.livesite import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LiveSite,
    build_static,
    chromium_executable,
)

WEB_PASSWORD = "web-ui-password-123"


@pytest.fixture
def web_user(db: None) -> Callable[..., Any]:
    """Factory: an active user with password WEB_PASSWORD."""

    def make(username: str, **extra: Any) -> Any:
        return get_user_model().objects.create_user(
            username=username, password=WEB_PASSWORD, **extra
        )

    return make


@pytest.fixture
def ada(web_user: Callable[..., Any]) -> Any:
    """Hosts `standup`."""
    return web_user("ada", first_name="Ada", last_name="Lovelace")


@pytest.fixture
def bob(web_user: Callable[..., Any]) -> Any:
    """Invited to `standup`."""
    return web_user("bob")


@pytest.fixture
def eve(web_user: Callable[..., Any]) -> Any:
    """Invited to nothing."""
    return web_user("eve")


@pytest.fixture
def standup(ada: Any, bob: Any) -> Meeting:
    """An invited-only meeting hosted by ada, with bob invited."""
    meeting = services.meeting_create(host=ada, title="Daily standup")
    services.participant_invite(meeting=meeting, actor=ada, username="bob")
    return meeting


@pytest.fixture
def signed_in(db: None) -> Callable[[Any], Client]:
    """Factory: a Django test client with `user` signed in (session cookie)."""

    def make(user: Any) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


# --- a live site and a browser, for the end-to-end tests --------------------------------------


@pytest.fixture(scope="module")
def live_site() -> Iterator[LiveSite]:
    """daphne serving the project on a free port, its own database, bundle built
    (``LIVE_SITE_KEEP_LOGS=<dir>`` keeps its log there)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (scripts/system-deps.sh)")
    build_static()
    site = LiveSite().start()
    try:
        yield site
    finally:
        code = site.stop()
        keep = os.environ.get("LIVE_SITE_KEEP_LOGS")  # a directory: keep the server's log
        if keep and site.log_path.exists():
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(site.log_path, Path(keep) / f"daphne-{site.workdir.name}.log")
        site.cleanup()
    assert code is not None, "daphne was not stopped"


@pytest.fixture
async def chromium(tmp_path: Path) -> AsyncIterator[Any]:
    """Headless Debian Chromium with fake camera, microphone and screen, via Playwright."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium_executable(tmp_path), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            await browser.close()
