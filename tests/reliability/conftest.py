"""Fixtures for the reliability tests: faults, limits, leaks, attendance, shutdown.

The call fixtures of ``tests/rtc/conftest.py`` are reused as they are (``rtc_service``: a real
worker pool checked empty at teardown; ``rtc_client``: a meeting socket with request helpers;
``rtc_settings``: no reconnect grace unless a test asks). Every test here also ends with an
empty attendance table and a shutdown flag that is off again.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from channels.db import database_sync_to_async

from meetings.models import Participant
from rtc.lifecycle import shutdown
from rtc.policy.attendance import attendance
from tests.rtc.conftest import RtcClient, rtc_client, rtc_service, rtc_settings  # noqa: F401
from tests.support.waiting import eventually


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """Users are made for every test; PBKDF2 would cost 0.2 s each (no test here checks a
    password hash)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _process_state_restored() -> Iterator[None]:
    """Afterwards no socket or grace peer holds attendance, and the process is not shutting
    down (a test that ran `rtc.lifecycle.shutdown.shutdown` turns the flag off again)."""
    yield
    shutdown._state["shutting_down"] = False
    shutdown._connections.clear()
    assert len(attendance) == 0, "a closed socket or a removed peer still holds attendance"


@database_sync_to_async
def participant_row(meeting: Any, user: Any) -> Participant:
    """The user's participant row of ``meeting`` as it is in the database now."""
    return Participant.objects.get(meeting=meeting, user=user)


wait_until = eventually
"""Poll a check (sync or async) until it is true: the shared `tests.support.waiting` helper."""


__all__ = ["RtcClient", "participant_row", "wait_until"]
