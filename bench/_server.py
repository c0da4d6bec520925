"""A live daphne for ``bench/signaling.py``: its own SQLite file, seeded users and meetings.

The server runs exactly as ``make run`` does (``daphne conference.asgi:application``) with
``bench.signaling_settings`` (the project's settings with relaxed RTC limits), the in-memory
channel layer and the default worker pool (one mediasoup worker per core). Users, DRF tokens
and meetings are created by a small script run with ``manage.py shell`` on the same database.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from bench._common import REPO, ProcSample, main_thread_cpu, proc_sample

__all__ = ["DaphneServer", "children_of"]

_DROP = ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")

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
                                        access=Meeting.Access.AUTHENTICATED).id)
            for i in range({meetings})]
print(json.dumps({{"tokens": [tokens[u.username] for u in peers], "meetings": meetings}}))
"""


def free_port() -> int:
    """A TCP port nobody listens on right now (loopback)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def children_of(pid: int) -> list[int]:
    """Direct child processes of ``pid`` (the mediasoup workers of a daphne)."""
    kids: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids += [int(k) for k in f.read().split()]
    except OSError:
        pass
    return kids


class DaphneServer:
    """One database (migrated and seeded once) and a daphne started and stopped per row."""

    def __init__(self, *, profile: str | None = None, redis_url: str | None = None) -> None:
        self.profile = profile
        """When set, daphne runs under cProfile (main thread) and dumps its stats there."""
        self.redis_url = redis_url
        """When set, the channel layer is channels-redis there (else the in-memory one)."""
        self.workdir = Path(tempfile.mkdtemp(prefix="conference-bench-"))
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._log = self.workdir / "daphne.log"

    @property
    def url(self) -> str:
        """The WebSocket base URL (no trailing slash)."""
        return f"ws://127.0.0.1:{self.port}"

    @property
    def origin(self) -> str:
        """An Origin header that the server's AllowedHostsOriginValidator accepts."""
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The server's environment: its own SQLite file, in-memory layer, quiet logs."""
        env = {k: v for k, v in os.environ.items() if k not in _DROP}
        env.update(
            DATABASE_URL=f"sqlite:///{self.workdir / 'db.sqlite3'}",
            DJANGO_SETTINGS_MODULE="bench.signaling_settings",
            DEBUG="0",
            SECRET_KEY="bench-signaling-key-not-secret-0123456789abcdefghijklmnopqrstuv",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            SECURE_SSL_REDIRECT="0",
            SESSION_COOKIE_SECURE="0",
            CSRF_COOKIE_SECURE="0",
            SERVE_STATIC="0",
            MEDIASOUP_LISTEN_IP="127.0.0.1",
            LOG_LEVEL="WARNING",
            DJANGO_LOG_LEVEL="WARNING",
            PYTHONPATH=str(REPO),
            PYTHONUNBUFFERED="1",
        )
        if self.redis_url:
            env.update(REDIS_URL=self.redis_url,
                       CHANNEL_LAYER_PREFIX=f"conference-bench-{os.getpid()}")
        return env

    def manage(self, *args: str, timeout: float = 300) -> str:
        """Run ``manage.py *args`` on the benchmark's database; its stdout."""
        result = subprocess.run(  # noqa: S603 (fixed argv)
            [sys.executable, str(REPO / "manage.py"), *args], cwd=REPO, env=self.env(),
            capture_output=True, text=True, timeout=timeout, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]} failed:\n{result.stderr[-4000:]}")
        return result.stdout

    def prepare(self, *, users: int, meetings: int, capacity: int) -> dict[str, Any]:
        """Migrate, then create ``users`` peers with tokens and ``meetings`` open meetings."""
        self.manage("migrate", "--noinput")
        code = SEED.format(users=users, meetings=meetings, capacity=capacity)
        out = self.manage("shell", "-c", code)
        return json.loads(out.strip().splitlines()[-1])

    def start(self, timeout: float = 60) -> None:
        """Start daphne on a free port and wait until it answers HTTP."""
        self.port = free_port()
        daphne = [str(Path(sys.executable).with_name("daphne"))]
        if self.profile:
            daphne = [sys.executable, "-m", "cProfile", "-o", self.profile, *daphne]
        with self._log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 (fixed argv)
                [*daphne, "-b", "127.0.0.1", "-p", str(self.port),
                 "conference.asgi:application"],
                cwd=REPO, env=self.env(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited early:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=2):
                    return
            except urllib.error.HTTPError:
                return  # any HTTP answer means it is serving
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"daphne did not answer within {timeout}s:\n{self.log()}")

    def sample(self) -> tuple[ProcSample, float, list[ProcSample]]:
        """CPU and RSS of daphne, its main thread's CPU, and each of its workers, now.

        Daphne's main thread runs the event loop; its other threads are the executor where
        Channels runs every ``database_sync_to_async`` call (one thread: thread-sensitive).
        """
        assert self.process is not None
        workers = []
        for pid in children_of(self.process.pid):
            try:
                workers.append(proc_sample(pid))
            except OSError:
                pass
        pid = self.process.pid
        return proc_sample(pid), main_thread_cpu(pid), workers

    def stop(self) -> None:
        """SIGTERM daphne (it closes its workers), SIGKILL if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        workers = children_of(self.process.pid)
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        for pid in workers:  # orphaned workers exit when their channel closes; make sure
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                continue
            time.sleep(0.5)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def log(self) -> str:
        """The end of the server's output (for error messages)."""
        return self._log.read_text(errors="replace")[-8000:] if self._log.exists() else ""

    def cleanup(self) -> None:
        """Stop the server and delete the database directory."""
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
