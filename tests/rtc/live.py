"""A live daphne serving the project, for end-to-end calls with real network clients.

The server runs as a subprocess, on a free port, with its own database that this module creates
and migrates: a SQLite file by default, or, when the test run itself uses PostgreSQL
(``DATABASE_URL=postgres://...``), a fresh PostgreSQL database on that server that is dropped
afterwards. With ``REDIS_URL`` set, the server uses channels-redis with a key prefix of its own.
Users, meetings and API tokens are made with ``manage.py shell`` against the same database.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "e2e-call-password-4d1f"


def free_port() -> int:
    """A TCP port on loopback that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _with_database(url: str, name: str) -> str:
    parts = urlparse(url)
    return urlunparse(parts._replace(path=f"/{name}"))


def _postgres(url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(_with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(sql)


@dataclass
class LiveServer:
    """``start()``, use ``url``/``ws_url``, then ``stop()``."""

    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="rtc-e2e-")))
    port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    database_url: str = ""
    _pg_database: str | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, meeting_id: str, token: str) -> str:
        """The meeting socket's URL authenticated with an API token."""
        return f"ws://127.0.0.1:{self.port}/ws/meetings/{meeting_id}/?token={token}"

    def env(self) -> dict[str, str]:
        """The server's environment (also used for manage.py)."""
        env = {k: v for k, v in os.environ.items()
               if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
        env.update(
            DATABASE_URL=self.database_url,
            DEBUG="1",
            SECRET_KEY="rtc-e2e-test-key-not-a-secret-0123456789abcdefghijkl",
            ALLOWED_HOSTS="127.0.0.1,localhost",
            MEDIASOUP_WORKER_NUM="1",
            MEDIASOUP_LISTEN_IP="127.0.0.1",
            LOG_LEVEL=os.environ.get("RTC_E2E_LOG_LEVEL", "INFO"),
            PYTHONUNBUFFERED="1",
        )
        redis_url = os.environ.get("REDIS_URL")
        if redis_url:
            env.update(REDIS_URL=redis_url, CHANNEL_LAYER_PREFIX=f"rtc-e2e-{uuid.uuid4().hex[:8]}")
        env.update(self.extra_env)
        return env

    def _make_database(self) -> None:
        source = os.environ.get("DATABASE_URL", "")
        if source.startswith(("postgres://", "postgresql://")):
            self._pg_database = f"rtc_e2e_{uuid.uuid4().hex[:12]}"
            _postgres(source, f'CREATE DATABASE "{self._pg_database}"')
            self.database_url = _with_database(source, self._pg_database)
        else:
            self.database_url = f"sqlite:///{self.workdir / 'db.sqlite3'}"

    def manage(self, *args: str, timeout: float = 180) -> str:
        """Run ``manage.py *args`` on the server's database; its stdout."""
        result = subprocess.run(
            [sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=self.env(),
            capture_output=True, text=True, timeout=timeout, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]} failed:\n{result.stderr[-4000:]}")
        return result.stdout

    def shell(self, code: str) -> Any:
        """Run ``code`` in ``manage.py shell``; it prints one JSON line, returned parsed."""
        return json.loads(self.manage("shell", "-c", code).strip().splitlines()[-1])

    def start(self, *, timeout: float = 60) -> LiveServer:
        """Create and migrate the database, start daphne, wait until it answers."""
        self._make_database()
        self.manage("migrate", "--noinput")
        log = (self.workdir / "daphne.log").open("wb")
        daphne = Path(sys.executable).with_name("daphne")
        self.process = subprocess.Popen(
            [str(daphne), "-b", "127.0.0.1", "-p", str(self.port), "conference.asgi:application"],
            cwd=ROOT, env=self.env(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited early:\n{self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/accounts/login/", timeout=2):
                    return self
            except urllib.error.HTTPError:
                return self  # it answers; the status does not matter here
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"daphne did not answer within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        """The server's output so far (for failure messages)."""
        path = self.workdir / "daphne.log"
        return path.read_text(errors="replace")[-20000:] if path.exists() else ""

    def stop(self) -> int | None:
        """SIGTERM daphne (SIGKILL if it lingers), drop a PostgreSQL database; exit code."""
        code = None
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=5)
            code = self.process.returncode
        if self._pg_database:
            _postgres(os.environ["DATABASE_URL"],
                      f'DROP DATABASE IF EXISTS "{self._pg_database}" WITH (FORCE)')
            self._pg_database = None
        return code


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
