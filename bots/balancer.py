"""A plain round-robin TCP balancer on loopback: each new connection goes to the next node.

The cluster promises to work behind a balancer that knows nothing about meetings (no sticky
routing, no WebSocket awareness): this is that balancer, for ``make cluster`` and the cluster
tests and benchmarks. A connection is piped byte for byte to one backend for its whole life
(an HTTP keep-alive connection or a WebSocket stays on its node); a backend that refuses the
connection is skipped for this one and the next backend is tried, so a dead node costs a
connect attempt, not an error, while any node lives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter

__all__ = ["RoundRobinBalancer"]

logger = logging.getLogger(__name__)

CHUNK = 64 * 1024


class RoundRobinBalancer:
    """``await start()``, connect to :attr:`port`, ``await close()``.

    :attr:`counts` says how many connections each backend (``host:port``) was given.
    """

    def __init__(self, backends: list[tuple[str, int]], *, host: str = "127.0.0.1",
                 port: int = 0, connect_timeout: float = 3.0) -> None:
        if not backends:
            raise ValueError("a balancer needs at least one backend")
        self.backends = list(backends)
        self.host = host
        self.port = port
        self.connect_timeout = connect_timeout
        self.counts: Counter[str] = Counter()
        self.refused = 0
        self._next = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        """Listen; the port (chosen by the system when 0 was asked)."""
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        logger.info("balancer on %s:%s over %s", self.host, self.port,
                    ", ".join(f"{h}:{p}" for h, p in self.backends))
        return self.port

    async def close(self) -> None:
        """Stop listening and cut every piped connection."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for task in list(self._pipes):
            task.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)

    async def _connect(self) -> tuple[str, asyncio.StreamReader, asyncio.StreamWriter] | None:
        """The next backend that takes a connection, in turn; None when none does."""
        for _ in range(len(self.backends)):
            host, port = self.backends[self._next % len(self.backends)]
            self._next += 1
            try:
                async with asyncio.timeout(self.connect_timeout):
                    reader, writer = await asyncio.open_connection(host, port)
            except (OSError, TimeoutError) as error:
                logger.warning("backend %s:%s refused a connection: %r", host, port, error)
                continue
            return f"{host}:{port}", reader, writer
        return None

    async def _serve(self, client_reader: asyncio.StreamReader,
                     client_writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._pipes.add(task)
        try:
            backend = await self._connect()
            if backend is None:
                self.refused += 1
                return
            name, reader, writer = backend
            self.counts[name] += 1
            await asyncio.gather(_pipe(client_reader, writer), _pipe(reader, client_writer),
                                 return_exceptions=True)
            writer.close()
        finally:
            client_writer.close()
            if task is not None:
                self._pipes.discard(task)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until end of file, then half-close the other side."""
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        with contextlib.suppress(Exception):
            writer.close()


async def _serve_forever(backends: list[tuple[str, int]], host: str, port: int) -> None:
    balancer = RoundRobinBalancer(backends, host=host, port=port)
    await balancer.start()
    print(f"balancer on {host}:{balancer.port}", flush=True)  # noqa: T201 (the CLI's output)
    try:
        await asyncio.Event().wait()
    finally:
        await balancer.close()


def main(argv: list[str] | None = None) -> None:
    """``python -m bots.balancer [--host H] [--port P] HOST:PORT...`` until killed."""
    import argparse

    parser = argparse.ArgumentParser(description="A round-robin TCP balancer.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("backends", nargs="+", metavar="HOST:PORT")
    args = parser.parse_args(argv)
    backends = [(b.rsplit(":", 1)[0], int(b.rsplit(":", 1)[1])) for b in args.backends]
    asyncio.run(_serve_forever(backends, args.host, args.port))


if __name__ == "__main__":
    main()
