"""A live daphne for end-to-end calls with real network clients (``bots.live_daphne``).

The server has its own database: a SQLite file by default or, when the test run itself uses
PostgreSQL (``DATABASE_URL=postgres://...``), a fresh PostgreSQL database on that server that
is dropped afterwards. With ``REDIS_URL`` set, the server uses channels-redis with a key prefix
of its own. One mediasoup worker unless ``extra_env`` says otherwise. Users, meetings and API
tokens are made with ``manage.py shell`` against the same database (:func:`seed`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from mediasoup_ctl import worker_bin_path

from bots.live_daphne import LiveDaphne

__all__ = ["PASSWORD", "LiveServer", "running", "seed"]

PASSWORD = "e2e-call-password-4d1f"


class LiveServer(LiveDaphne):
    """``start()``, use ``url``/``ws_url``, then ``stop()`` (which also drops its data)."""

    def __init__(self, *, extra_env: dict[str, str] | None = None) -> None:
        super().__init__(env=extra_env, database="inherit",
                         redis_url=os.environ.get("REDIS_URL") or None,
                         log_level=os.environ.get("RTC_E2E_LOG_LEVEL", "INFO"),
                         secret_key="rtc-e2e-test-key-not-a-secret-0123456789abcdefghijkl",
                         prefix="rtc-e2e-")

    def stop(self) -> int | None:
        """Stop daphne, drop its database and directory (idempotent); daphne's exit code."""
        code = super().stop()
        self.drop_database()
        shutil.rmtree(self.workdir, ignore_errors=True)
        return code


@contextmanager
def running(extra_env: dict[str, str] | None = None) -> Iterator[LiveServer]:
    """A started LiveServer for a fixture (the test fails, not skips, when the worker was not
    built), stopped at the end; daphne must still have been running then."""
    if not os.access(worker_bin_path(), os.X_OK):
        pytest.fail("mediasoup-worker not built: run make test (mediasoup-ctl-worker)")
    server = LiveServer(extra_env=extra_env).start()
    try:
        yield server
    finally:
        code = server.stop()
    assert code is not None, "daphne was not running at the end"


SEED = """
import json
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from meetings import services
User = get_user_model()
def user(name, **extra):
    found = User.objects.filter(username=name).first()
    u = found or User.objects.create_user(name, password={password!r}, **extra)
    return u, Token.objects.get_or_create(user=u)[0].key
ada, ada_token = user("ada")
bob, bob_token = user("bob")
cy, cy_token = user("cy")
ops, ops_token = user("ops", is_staff=True)
meeting = services.meeting_create(host=ada, title="E2E call")
for name in ("bob", "cy"):
    services.participant_invite(meeting=meeting, actor=ada, username=name)
ops_room = services.meeting_create(host=ops, title="Operations")
print(json.dumps({{"meeting": str(meeting.id), "ops_room": str(ops_room.id),
                  "tokens": {{"ada": ada_token, "bob": bob_token, "cy": cy_token,
                             "ops": ops_token}}}}))
"""


def seed(server: LiveServer) -> dict[str, Any]:
    """Users ada (host), bob and cy (invited), staff ops with its own meeting; their tokens."""
    return server.shell(SEED.format(password=PASSWORD))
