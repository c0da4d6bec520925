"""A live daphne for ``bench/signaling.py`` and ``bench/soak.py``: seeded users and meetings.

The server is :class:`bots.live_daphne.LiveDaphne` (``daphne conference.asgi:application``, its
own SQLite file, or a fresh PostgreSQL database) with ``bench.signaling_settings`` (the
project's settings with relaxed RTC limits), production-like flags (DEBUG off, quiet logs),
the in-memory channel layer (or Redis) and the default worker pool (one mediasoup worker per
core). Users, DRF tokens and invited-only meetings are created once by a script run with
``manage.py shell``, and each row invites its peers (each user to one meeting); each row
starts and stops the server.
"""

from __future__ import annotations

import json
from typing import Any

from bench._common import ProcSample, process_tree_sample
from bots.live_daphne import LiveDaphne, children_of, free_port

__all__ = ["DaphneServer", "children_of"]

SEED = """
import json
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from meetings import services
from meetings.models import Meeting
User = get_user_model()
users = []
for name in ["bench-host"] + [f"bench-{{i:04d}}" for i in range({users})]:
    user = User(username=name)
    user.set_unusable_password()
    users.append(user)
User.objects.bulk_create(users)
users = list(User.objects.filter(username__startswith="bench-").order_by("username"))
host, peers = users[-1], users[:-1]
assert host.username == "bench-host"
Token.objects.bulk_create([Token(user=u, key=Token.generate_key()) for u in peers])
tokens = dict(Token.objects.filter(user__in=peers).values_list("user__username", "key"))
meetings = [str(services.meeting_create(host=host, title=f"bench {{i}}", capacity={capacity},
                                        access=Meeting.Access.INVITED).id)
            for i in range({meetings})]
print(json.dumps({{"tokens": [tokens[u.username] for u in peers],
                  "users": [u.pk for u in peers], "meetings": meetings}}))
"""
"""Users with their own DRF tokens, and invited-only meetings (nobody invited yet)."""

INVITE = """
import json
from meetings.models import Participant
pairs = json.loads({pairs!r})
Participant.objects.bulk_create(
    [Participant(meeting_id=m, user_id=u, role=Participant.Role.MEMBER) for m, u in pairs],
    ignore_conflicts=True)
print(json.dumps({{"invited": len(pairs)}}))
"""
"""Invite users to meetings: ``pairs`` is a JSON list of [meeting id, user id]."""

_ENV = {
    "SECURE_SSL_REDIRECT": "0",
    "SESSION_COOKIE_SECURE": "0",
    "CSRF_COOKIE_SECURE": "0",
    "SERVE_STATIC": "0",
    "DJANGO_LOG_LEVEL": "WARNING",
}


class DaphneServer(LiveDaphne):
    """One database (migrated and seeded once) and a daphne started and stopped per row."""

    def __init__(self, *, profile: str | None = None, trace: str | None = None,
                 redis_url: str | None = None, database: str = "sqlite") -> None:
        super().__init__(env=_ENV, settings_module="bench.signaling_settings", debug=False,
                         worker_num=None, log_level="WARNING", redis_url=redis_url,
                         database=database,
                         profile=profile, trace=trace, prefix="conference-bench-",
                         secret_key="bench-signaling-key-not-secret-0123456789abcdefghijklmnopqrstuv")

    @property
    def url(self) -> str:
        """The WebSocket base URL (no trailing slash): the benchmarks only open sockets."""
        return self.ws_base

    def prepare(self, *, users: int, meetings: int, capacity: int) -> dict[str, Any]:
        """Migrate, then create ``users`` peers with tokens and ``meetings`` invited-only
        meetings: ``{"tokens": [...], "users": [ids], "meetings": [ids]}``."""
        self.migrate()
        return self.shell(SEED.format(users=users, meetings=meetings, capacity=capacity))

    def invite(self, pairs: list[tuple[str, int]]) -> None:
        """Invite each user id to its meeting id (already invited: nothing changes)."""
        self.shell(INVITE.format(pairs=json.dumps(pairs)))

    def start(self, *, timeout: float = 60, migrate: bool = False) -> DaphneServer:
        """Start daphne on a fresh free port (the database is prepared already)."""
        self.port = free_port()
        super().start(timeout=timeout, migrate=migrate)
        return self

    def sample(self) -> tuple[ProcSample, float, list[ProcSample]]:
        """CPU and RSS of daphne, its main thread's CPU, and each of its workers, now.

        Daphne's main thread runs the event loop; its other threads are the executor where
        Channels runs every ``database_sync_to_async`` call (one thread: thread-sensitive).
        """
        assert self.process is not None
        return process_tree_sample(self.process.pid)
