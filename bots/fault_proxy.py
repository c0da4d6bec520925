"""A TCP proxy a test or benchmark owns between the server and a service, to cut on purpose.

The machine's PostgreSQL and Redis are shared and must never be stopped, so an outage is made
here instead: the server reaches the service through :class:`FaultProxy`, and
:meth:`FaultProxy.cut` makes the service unreachable exactly as a stopped one is: new
connections are refused (nobody listens) and the open ones are reset. :meth:`FaultProxy.restore`
listens again on the same address, as the restarted service would.

The proxy listens on a loopback TCP port or on a Unix socket; a Unix socket is also how a server
inside a network namespace of its own (the browser tests') reaches a service outside it, since
the namespace shares the filesystem but not the loopback interface.

It runs its own event loop on a thread, so synchronous fixtures and async tests drive it alike.
No Django here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import struct
import threading
from pathlib import Path
from typing import Any

__all__ = ["FaultProxy"]

logger = logging.getLogger(__name__)

_CHUNK = 65536


class FaultProxy:
    """Forwards connections on ``listen`` (``"127.0.0.1:0"``-style, or a Unix socket path) to
    ``target_host:target_port``; ``start()``, ``cut()``, ``restore()``, ``close()``."""

    def __init__(self, target_host: str, target_port: int, *, listen: str = "127.0.0.1:0") -> None:
        self.target = (target_host, int(target_port))
        self.unix_path: str | None = None
        self.host, self.port = "127.0.0.1", 0
        if ":" in listen and not listen.startswith("/"):
            host, _, port = listen.rpartition(":")
            self.host, self.port = host, int(port)
        else:
            self.unix_path = listen
        self.connections = 0
        """Connections accepted so far (monitoring, tests)."""
        self.cuts = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy",
                                        daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self._pipes: set[asyncio.StreamWriter] = set()
        self._closed = False

    # -- addresses ----------------------------------------------------------------------------

    @property
    def address(self) -> str:
        """``host:port``, or the Unix socket's path."""
        return self.unix_path or f"{self.host}:{self.port}"

    def url(self, scheme: str, rest: str = "") -> str:
        """A URL that reaches the service through the proxy, e.g. ``url("redis", "/3")``:
        ``redis://127.0.0.1:<port>/3`` (``unix://<path>?db=3`` for Redis on a Unix socket)."""
        if self.unix_path is None:
            return f"{scheme}://{self.host}:{self.port}{rest}"
        if scheme == "redis":
            db = rest.strip("/") or "0"
            return f"unix://{self.unix_path}?db={db}"
        raise ValueError("only Redis URLs are made for a Unix socket")

    # -- control ------------------------------------------------------------------------------

    def start(self) -> FaultProxy:
        """Listen (on a fixed port once started: ``restore`` reuses it)."""
        self._thread.start()
        self._call(self._listen())
        return self

    @property
    def is_cut(self) -> bool:
        """Whether the service is unreachable through the proxy now."""
        return self._server is None

    def cut(self) -> None:
        """Stop listening and reset every open connection: the service looks stopped."""
        self._call(self._cut())

    def restore(self) -> None:
        """Listen again on the same address: the service looks restarted."""
        self._call(self._listen())

    def close(self) -> None:
        """Cut, then stop the proxy's thread (idempotent)."""
        if self._closed:
            return
        self._closed = True
        if self._thread.is_alive():
            self._call(self._cut())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
        self._loop.close()

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- the loop's side ----------------------------------------------------------------------

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    async def _listen(self) -> None:
        if self._server is not None:
            return
        if self.unix_path is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.unix_path)
            self._server = await asyncio.start_unix_server(self._serve, path=self.unix_path)
            Path(self.unix_path).chmod(0o777)
        else:
            self._server = await asyncio.start_server(
                self._serve, self.host, self.port, reuse_address=True)
            self.port = int(self._server.sockets[0].getsockname()[1])
        logger.info("fault proxy listening [%s -> %s:%s]", self.address, *self.target)

    async def _cut(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.close()
            self.cuts += 1
        for writer in list(self._pipes):
            _reset(writer)
        self._pipes.clear()
        if server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)
            if self.unix_path is not None:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.unix_path)
        logger.info("fault proxy cut [%s]", self.address)

    async def _serve(self, client_reader: asyncio.StreamReader,
                     client_writer: asyncio.StreamWriter) -> None:
        if self._server is None:
            _reset(client_writer)
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        except OSError:
            _reset(client_writer)
            return
        self.connections += 1
        self._pipes.update((client_writer, upstream_writer))
        try:
            await asyncio.gather(_pump(client_reader, upstream_writer),
                                 _pump(upstream_reader, client_writer))
        finally:
            for writer in (client_writer, upstream_writer):
                self._pipes.discard(writer)
                writer.close()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(_CHUNK):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError, asyncio.CancelledError):
        pass
    finally:
        with contextlib.suppress(Exception):
            writer.close()


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with a reset (SO_LINGER 0), as a crashed peer's kernel would answer."""
    sock = writer.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
