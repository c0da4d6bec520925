"""A live daphne serving the project on a free port, for end-to-end tests, bots and benchmarks.

pytest-django's live server is WSGI only (no WebSockets), so this runs the ASGI app the way
``make run`` does: ``daphne conference.asgi:application`` as a subprocess bound to 127.0.0.1,
with a database of its own that this module creates and migrates (a SQLite file in a temporary
directory; or, with ``database="inherit"`` while the caller's ``DATABASE_URL`` is PostgreSQL, a
fresh PostgreSQL database on that server, dropped by :meth:`LiveDaphne.cleanup`). Data is made
with ``manage.py shell`` against the same database (:meth:`LiveDaphne.shell`).

It imports nothing from Django: everything Django runs in the subprocesses.
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
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlparse, urlunparse

__all__ = ["ROOT", "LiveDaphne", "answers_http", "children_of", "free_port",
           "stop_process_tree"]

ROOT = Path(__file__).resolve().parents[1]
"""The repository (where ``manage.py`` is)."""
LIBRARY_SRC = ROOT / "packages" / "mediasoup-ctl" / "src"
"""This checkout's mediasoup-ctl, first on a live daphne's path."""

_DROP = ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "CHANNEL_LAYER_PREFIX")


def free_port() -> int:
    """A TCP port on loopback that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def children_of(pid: int) -> list[int]:
    """Direct child processes of ``pid`` (a daphne's mediasoup workers), from /proc."""
    kids: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids += [int(k) for k in f.read().split()]
    except OSError:
        pass
    return kids


def answers_http(url: str) -> bool:
    """True when ``url`` gives any HTTP answer (an error status means it serves too)."""
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _with_database(url: str, name: str) -> str:
    return urlunparse(urlparse(url)._replace(path=f"/{name}"))


def _postgres(url: str, sql: str) -> None:
    import psycopg  # only when the caller's database is PostgreSQL

    with psycopg.connect(_with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(sql)


class LiveDaphne:
    """``start()``, use ``url``/``ws_url()``, then ``cleanup()`` (or use it as a context).

    Keyword options: ``env`` (variables that win over everything), ``settings_module``,
    ``debug``, ``worker_num`` (None: the default pool, one worker per core), ``log_level``,
    ``database`` (``"sqlite"`` or ``"inherit"``), ``redis_url`` (channels-redis under a key
    prefix of its own; None: the in-memory layer), ``profile`` (run under cProfile, dump the
    stats there; :meth:`profile_window` narrows them to what the caller measures), ``trace``
    (trace each socket's join path, `bots.join_trace`, written there at the window's end),
    ``wrap``
    (rewrites daphne's command line, e.g. to enter a network namespace),
    ``probe`` (how to tell it serves; :func:`answers_http` by default), ``ready_path``,
    ``keepalive`` (daphne's ``--ping-interval`` and ``--ping-timeout`` in seconds: a socket idle
    that long is pinged, and closed when its pong does not come within the timeout; None:
    daphne's defaults, 20 and 30).
    """

    def __init__(self, *, env: Mapping[str, str] | None = None,
                 settings_module: str | None = None, debug: bool = True,
                 worker_num: int | None = 1, log_level: str = "INFO",
                 database: str = "sqlite", redis_url: str | None = None,
                 profile: str | None = None,
                 trace: str | None = None,
                 wrap: Callable[[list[str]], list[str]] | None = None,
                 probe: Callable[[str], bool] = answers_http,
                 ready_path: str = "/accounts/login/",
                 secret_key: str = "live-daphne-test-key-not-a-secret-0123456789abcdefghij",
                 prefix: str = "conference-live-",
                 keepalive: tuple[float, float] | None = None) -> None:
        if database not in ("sqlite", "inherit"):
            raise ValueError("database is 'sqlite' or 'inherit'")
        self.workdir = Path(tempfile.mkdtemp(prefix=prefix))
        self.port = free_port()
        self.extra_env = dict(env or {})
        self.settings_module = settings_module
        self.debug = debug
        self.worker_num = worker_num
        self.log_level = log_level
        self.database = database
        self.redis_url = redis_url
        self.profile = profile
        self.trace = trace
        self.wrap = wrap
        self.probe = probe
        self.ready_path = ready_path
        self.secret_key = secret_key
        self.process: subprocess.Popen[bytes] | None = None
        self.database_url = ""
        self._pg_database: str | None = None
        self._prefix = f"{prefix}{uuid.uuid4().hex[:8]}"
        self.log_path = self.workdir / "daphne.log"
        self.keepalive = keepalive
        self.bind = "127.0.0.1"
        """The address daphne listens on (``0.0.0.0`` to be reached over another interface
        too; :attr:`url` stays on loopback)."""

    # -- addresses --------------------------------------------------------------------------

    @property
    def http_url(self) -> str:
        """``http://127.0.0.1:<port>`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The base URL of the site: :attr:`http_url`."""
        return self.http_url

    @property
    def origin(self) -> str:
        """An ``Origin`` header that the server's AllowedHostsOriginValidator accepts."""
        return self.http_url

    @property
    def ws_base(self) -> str:
        """``ws://127.0.0.1:<port>`` (no trailing slash)."""
        return f"ws://127.0.0.1:{self.port}"

    def ws_url(self, meeting_id: str, token: str) -> str:
        """The meeting socket's URL, authenticated with an API or join token."""
        return f"{self.ws_base}/ws/meetings/{meeting_id}/?token={token}"

    # -- environment and data ---------------------------------------------------------------

    def _make_database(self) -> None:
        if self.database_url:
            return
        source = os.environ.get("DATABASE_URL", "")
        if self.database == "inherit" and source.startswith(("postgres://", "postgresql://")):
            self._pg_database = f"live_{uuid.uuid4().hex[:12]}"
            _postgres(source, f'CREATE DATABASE "{self._pg_database}"')
            self.database_url = _with_database(source, self._pg_database)
        else:
            self.database_url = f"sqlite:///{self.workdir / 'db.sqlite3'}"

    def env(self) -> dict[str, str]:
        """The server's environment (manage.py runs with it too)."""
        self._make_database()
        env = {k: v for k, v in os.environ.items() if k not in _DROP}
        env.update(
            DATABASE_URL=self.database_url,
            DEBUG="1" if self.debug else "0",
            SECRET_KEY=self.secret_key,
            ALLOWED_HOSTS="127.0.0.1,localhost",
            MEDIASOUP_LISTEN_IP="127.0.0.1",
            LOG_LEVEL=self.log_level,
            # This checkout's mediasoup-ctl, not the one the shared venv's editable install
            # points at (another checkout's: a worktree's server would run main's library).
            PYTHONPATH=os.pathsep.join([str(ROOT), str(LIBRARY_SRC)]),
            PYTHONUNBUFFERED="1",
        )
        if self.worker_num is not None:
            env["MEDIASOUP_WORKER_NUM"] = str(self.worker_num)
        if self.settings_module:
            env["DJANGO_SETTINGS_MODULE"] = self.settings_module
        if self.redis_url:
            env.update(REDIS_URL=self.redis_url, CHANNEL_LAYER_PREFIX=self._prefix)
        # Recordings (track files, composed files) stay in the server's own directory.
        env.update(RECORDING_WORK_DIR=str(self.workdir / "recordings-work"),
                   MEDIA_ROOT=str(self.workdir / "media"),
                   LATE_LEAVES_DIR=str(self.workdir / "late-leaves"))
        env.update(self.extra_env)
        return env

    def manage(self, *args: str, timeout: float = 300) -> str:
        """Run ``manage.py *args`` on the server's database; its stdout."""
        result = subprocess.run(  # noqa: S603 (fixed argv)
            [sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=self.env(),
            capture_output=True, text=True, timeout=timeout, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {args[0]} failed:\n{result.stderr[-4000:]}")
        return result.stdout

    def shell(self, code: str) -> Any:
        """Run ``code`` in ``manage.py shell``; it prints one JSON line, returned parsed."""
        return json.loads(self.manage("shell", "-c", code).strip().splitlines()[-1])

    def migrate(self) -> None:
        """Create the tables (idempotent)."""
        self.manage("migrate", "--noinput")

    # -- the process ------------------------------------------------------------------------

    def start(self, *, timeout: float = 60, migrate: bool = True) -> LiveDaphne:
        """Migrate (unless told not to), start daphne, wait until it answers."""
        if migrate:
            self.migrate()
        daphne = [str(Path(sys.executable).with_name("daphne"))]
        if self.profile:
            daphne = [sys.executable, "-m", "bots.profiled_daphne", self.profile]
        elif self.trace:
            daphne = [sys.executable, "-m", "bots.traced_daphne", self.trace]
        command = [*daphne, "-b", self.bind, "-p", str(self.port)]
        if self.keepalive is not None:
            command += ["--ping-interval", f"{self.keepalive[0]:g}",
                        "--ping-timeout", f"{self.keepalive[1]:g}"]
        command.append("conference.asgi:application")
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 (fixed argv)
                self.wrap(command) if self.wrap else command, cwd=ROOT, env=self.env(),
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited early:\n{self.log()}")
            if self.probe(f"{self.http_url}{self.ready_path}"):
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"daphne did not answer within {timeout}s:\n{self.log()}")

    def log(self) -> str:
        """The end of the server's output (for failure messages)."""
        return self.log_path.read_text(errors="replace")[-20000:] if self.log_path.exists() else ""

    def profile_window(self, *, start: bool) -> None:
        """With ``profile``: forget what was profiled so far (``start``), or write the stats
        now and stop profiling (`bots.profiled_daphne`); with ``trace``, the same for the join
        trace (`bots.traced_daphne`). Nothing without either."""
        windowed = self.profile or self.trace
        if windowed and self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGUSR1 if start else signal.SIGUSR2)

    def stop(self) -> int | None:
        """SIGTERM daphne (it closes its workers), SIGKILL if it lingers; its exit code.

        Workers still alive after daphne exited (they end when their channel closes) are
        killed, so no test or benchmark leaves a worker behind.
        """
        return stop_process_tree(self.process, timeout=20)

    def drop_database(self) -> None:
        """Drop the PostgreSQL database made for this server (nothing for SQLite)."""
        if self._pg_database:
            _postgres(os.environ["DATABASE_URL"],
                      f'DROP DATABASE IF EXISTS "{self._pg_database}" WITH (FORCE)')
            self._pg_database = None

    def cleanup(self) -> int | None:
        """Stop the server, drop its database, delete its directory; daphne's exit code."""
        code = self.stop()
        self.drop_database()
        shutil.rmtree(self.workdir, ignore_errors=True)
        return code

    def __enter__(self) -> LiveDaphne:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.cleanup()


def stop_process_tree(process: subprocess.Popen[Any] | None, *, timeout: float) -> int | None:
    """SIGTERM ``process`` (a server that closes its worker children), SIGKILL it if it
    lingers past ``timeout`` seconds, then kill any child still alive half a second later;
    its exit code (None when it never started)."""
    if process is None:
        return None
    if process.poll() is None:
        workers = children_of(process.pid)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        for pid in workers:
            _reap(pid)
    return process.returncode


def _reap(pid: int) -> None:
    """Kill ``pid`` if it is still there half a second from now."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return
    time.sleep(0.5)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
