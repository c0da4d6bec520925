"""Several live daphne nodes on one PostgreSQL database and one Redis: a cluster to test.

Each node is a :class:`bots.live_daphne.LiveDaphne` with its own port, ``NODE_ID`` and media
address (node *i* binds and announces ``127.0.0.<i+1>``: the whole 127/8 is loopback on Linux,
so every node has an address of its own without a network namespace, and a peer's ICE
candidates show which node carries its media). They share a fresh PostgreSQL database made on
the server of ``DATABASE_URL`` (or ``postgres://postgres@127.0.0.1:5432`` when that is not
PostgreSQL), Redis at ``redis_url`` and a channel-layer prefix of their own, so a test run never
sees another's keys. :meth:`LiveCluster.cleanup` stops the nodes, drops the database and
deletes the keys (a ``database_url`` given by the caller, as ``make cluster`` does, is kept,
and so are its keys).

It imports nothing from Django: everything Django runs in the subprocesses.
"""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from bots.live_daphne import LiveDaphne, _postgres, _with_database

__all__ = ["DEFAULT_POSTGRES", "RECONNECT_GRACE_SECONDS", "LiveCluster"]

DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"

RECONNECT_GRACE_SECONDS = 15
"""Every node's ``RTC_RECONNECT_GRACE_SECONDS``: how long a call peer whose socket dropped
waits for its client to come back."""


def _postgres_server() -> str:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://")) else DEFAULT_POSTGRES


def _create_if_missing(database_url: str) -> None:
    import psycopg

    name = urlparse(database_url).path.lstrip("/")
    with psycopg.connect(_with_database(database_url, "postgres"), autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            return
        conn.execute(f'CREATE DATABASE "{name}"')


class LiveCluster:
    """``start()``, use ``nodes[i]``, ``kill(i)``/``terminate(i)``, then ``cleanup()``."""

    def __init__(self, size: int = 2, *, redis_url: str, env: Mapping[str, str] | None = None,
                 worker_num: int = 1, lease_seconds: int = 3, log_level: str = "INFO",
                 prefix: str = "cluster-test-", database_url: str | None = None,
                 key_prefix: str | None = None) -> None:
        self.size = size
        self.redis_url = redis_url
        self.name = f"{prefix}{uuid.uuid4().hex[:8]}"
        self.key_prefix = key_prefix or f"conf-{self.name}"
        self.keep_data = database_url is not None
        """A database given by the caller is created if missing and never dropped."""
        self.database = f"cl_{uuid.uuid4().hex[:12]}"
        self.database_url = database_url or _with_database(_postgres_server(), self.database)
        self.extra_env = dict(env or {})
        self.worker_num = worker_num
        self.lease_seconds = lease_seconds
        self.log_level = log_level
        self.nodes: list[LiveDaphne] = []
        self._created = False

    def node_env(self, index: int) -> dict[str, str]:
        """The environment of node ``index``."""
        return {
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "CHANNEL_LAYER_PREFIX": self.key_prefix,
            "NODE_ID": f"node{index}",
            "MEDIASOUP_LISTEN_IP": self.address(index),
            "CLUSTER_LEASE_SECONDS": str(self.lease_seconds),
            "RTC_RECONNECT_GRACE_SECONDS": str(RECONNECT_GRACE_SECONDS),
            **self.extra_env,
        }

    @staticmethod
    def address(index: int) -> str:
        """The media address of node ``index``."""
        return f"127.0.0.{index + 1}"

    def add_node(self, *, env: Mapping[str, str] | None = None) -> LiveDaphne:
        """Start one more node (the database exists by then); it is ``nodes[-1]``."""
        index = len(self.nodes)
        node = LiveDaphne(env={**self.node_env(index), **(env or {})},
                          worker_num=self.worker_num, log_level=self.log_level,
                          prefix=f"{self.name}-n{index}-")
        self.nodes.append(node)
        node.start(migrate=index == 0)
        return node

    def start(self) -> LiveCluster:
        """Create the database (a kept one only if missing) and start every node."""
        if self.keep_data:
            _create_if_missing(self.database_url)
        else:
            _postgres(_postgres_server(), f'CREATE DATABASE "{self.database}"')
            self._created = True
        for _ in range(self.size):
            self.add_node()
        return self

    def shell(self, code: str) -> Any:
        """``manage.py shell -c code`` on the shared database; its JSON line, parsed."""
        return self.nodes[0].shell(code)

    def kill(self, index: int) -> None:
        """SIGKILL node ``index`` (and its workers): a node that dies without a word."""
        from bots.live_daphne import children_of

        process = self.nodes[index].process
        if process is None or process.poll() is not None:
            return
        workers = children_of(process.pid)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        for pid in workers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def terminate(self, index: int, timeout: float = 30) -> int | None:
        """SIGTERM node ``index`` and wait for it to exit (a drain); its exit code."""
        process = self.nodes[index].process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=timeout)
        return process.returncode

    def logs(self) -> str:
        """The end of every node's output (for failure messages)."""
        return "\n".join(f"--- node{i} ---\n{n.log()[-6000:]}" for i, n in enumerate(self.nodes))

    def cleanup(self) -> list[int | None]:
        """Stop every node, drop the database, delete the Redis keys; the exit codes."""
        codes = [node.cleanup() for node in self.nodes]
        if self._created:
            _postgres(_postgres_server(),
                      f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
            self._created = False
        if self.keep_data:
            return codes
        try:
            import redis

            client = redis.Redis.from_url(self.redis_url)
            keys = list(client.scan_iter(match=f"{self.key_prefix}*", count=1000))
            if keys:
                client.delete(*keys)
            client.close()
        except Exception:  # noqa: S110 (leftover keys expire or are harmless)
            pass
        return codes

    def __enter__(self) -> LiveCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()
