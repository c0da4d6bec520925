"""Private Redis and PostgreSQL instances that a benchmark may stop and restart.

The machine's shared PostgreSQL and Redis are never touched: ``bench/chaos.py`` runs its server
on a redis-server and a PostgreSQL cluster of its own, on free loopback ports, in a temporary
directory, and restarts them as faults. Redis runs without persistence, so a restart loses its
data (the channel layer's groups) as a crashed cache would; PostgreSQL is stopped with
``pg_ctl -m fast`` (open connections are cut) and started again on the same data.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bots.live_daphne import free_port

__all__ = ["PrivatePostgres", "PrivateRedis"]


def _wait_port(port: int, timeout: float = 30) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


class PrivateRedis:
    """``start()``, ``stop()``, ``restart()``, ``close()``; :attr:`url` with db 0."""

    def __init__(self) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="chaos-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def unix_url(self) -> str:
        """The same server on its Unix socket (reachable from another network namespace)."""
        return f"unix://{self.dir / 'redis.sock'}?db=0"

    def start(self) -> PrivateRedis:
        """Run redis-server (no persistence) and wait until it accepts connections."""
        self.process = subprocess.Popen(  # noqa: S603 (fixed argv)
            [shutil.which("redis-server") or "redis-server", "--port", str(self.port),
             "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(self.dir),
             "--unixsocket", str(self.dir / "redis.sock"), "--unixsocketperm", "777"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_port(self.port)
        return self

    def stop(self) -> None:
        """Kill it (as a crash would: no goodbye to its clients)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def restart(self, down_seconds: float = 0.0) -> None:
        """Stop, stay down ``down_seconds``, start again empty."""
        self.stop()
        time.sleep(down_seconds)
        self.start()

    def close(self) -> None:
        """Stop and delete its directory."""
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivatePostgres:
    """A PostgreSQL cluster of its own (``initdb`` as the ``postgres`` user, trust on
    loopback); ``start()``, ``stop()``, ``restart()``, ``close()``; :meth:`url`."""

    def __init__(self) -> None:
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            raise RuntimeError("no /usr/lib/postgresql/*/bin/initdb (Debian's postgresql)")
        self.bin = Path(bins[-1]).parent
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="chaos-pg-"))
        self.data = self.dir / "data"
        owner = pwd.getpwnam("postgres")
        os.chown(self.dir, owner.pw_uid, owner.pw_gid)
        self._as_postgres([str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust",
                           "-U", "postgres", "--no-sync"], timeout=120)

    def _as_postgres(self, argv: list[str], timeout: float = 60) -> None:
        owner = pwd.getpwnam("postgres")

        def demote() -> None:
            os.setgid(owner.pw_gid)
            os.setuid(owner.pw_uid)

        result = subprocess.run(argv, preexec_fn=demote if os.geteuid() == 0 else None,  # noqa: S603,PLW1509
                                capture_output=True, text=True, timeout=timeout, check=False,
                                cwd=self.dir)
        if result.returncode != 0:
            raise RuntimeError(f"{argv[0]} failed: {result.stderr[-2000:]}")

    def url(self, database: str = "postgres") -> str:
        """``postgres://postgres@127.0.0.1:<port>/<database>``."""
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> PrivatePostgres:
        """Start on 127.0.0.1:<port> (fsync off: a benchmark's data) and wait for it."""
        options = (f"-c listen_addresses=127.0.0.1 -c port={self.port} -c fsync=off "
                   f"-c unix_socket_directories={self.dir} -c max_connections=100")
        self._as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options,
                           "-l", str(self.dir / "log"), "-w", "start"])
        _wait_port(self.port)
        return self

    def stop(self) -> None:
        """``pg_ctl stop -m fast``: connections are cut, data kept."""
        self._as_postgres([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast",
                           "-w", "stop"])

    def restart(self, down_seconds: float = 0.0) -> None:
        """Stop, stay down ``down_seconds``, start again."""
        self.stop()
        time.sleep(down_seconds)
        self.start()

    def unix_url(self, database: str = "postgres") -> str:
        """The same server on its Unix socket (reachable from another network namespace)."""
        from urllib.parse import quote

        return f"postgres://postgres@{quote(str(self.dir), safe='')}:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Create ``name``; its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def close(self) -> None:
        """Stop (if running) and delete the cluster."""
        try:
            self.stop()
        except RuntimeError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)
