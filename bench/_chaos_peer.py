"""The peers of ``bench/chaos.py``: bots that keep their socket connected, their requests
counted (split from chaos.py; ``tests/faults`` use them too, through ``bench.chaos``)."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

from bench._chaos_link import FAR_SOCKET
from bots.live_daphne import LiveDaphne
from bots.netns import NamespaceLoop
from bots.peer import Bot
from bots.signaling import SignalingError, SocketClosed

__all__ = ["ChaosPeer", "Tally"]

logger = logging.getLogger("bench.chaos")


class Tally:
    """Request outcomes of every peer."""

    def __init__(self) -> None:
        self.failed: Counter[str] = Counter()
        self.unavailable = 0
        self.resumes_refused = 0
        """Resumes answered ``not_found`` after the grace ran out (expected, not failed)."""
        self.requests = 0


class ChaosPeer:
    """A bot that reconnects its socket and resumes its peer when the socket closes
    (:meth:`bots.peer.Bot.keep_connected`), its requests counted in a :class:`Tally`."""

    def __init__(self, server: LiveDaphne, meeting: str, name: str, token: str,
                 tally: Tally, *, loop: NamespaceLoop | None = None, far: Any = None) -> None:
        self.name = name
        self.tally = tally
        self.loop = loop
        """Where its sockets live (a namespace's loop; None: the caller's)."""
        url, origin = server.ws_url(meeting, token), server.origin
        options: dict[str, Any] = {}
        if far is not None:  # behind the link (bench._chaos_link)
            url, origin = far.far_url(url), far.far_url(origin)
            options["socket"] = FAR_SOCKET
        self._make = lambda: Bot(url, origin, name=name, **options)
        self.bot: Bot = self._make() if loop is None else None  # type: ignore[assignment]
        if loop is None:
            self._count_requests()

    async def _run(self, coro: Any) -> Any:
        return await (coro if self.loop is None else self.loop.run(coro))

    def _count_requests(self) -> None:
        send = self.bot.request

        async def request(kind: str, data: dict[str, Any]) -> Any:
            self.tally.requests += 1
            try:
                return await send(kind, data)
            except SignalingError as error:
                if error.code == "unavailable":
                    self.tally.unavailable += 1
                elif kind == "rtc:join" and error.code == "not_found" and "resume" in data:
                    self.tally.resumes_refused += 1  # the grace was over: joins afresh
                else:
                    self.tally.failed[f"{kind}:{error.code}"] += 1
                raise

        self.bot.request = request

    @property
    def socket_reconnects(self) -> int:
        """Sockets this peer opened again after losing one."""
        return self.bot.socket_reconnects

    async def start(self) -> None:
        """Connect, join, publish, then keep the socket connected."""
        async def start() -> None:
            if self.bot is None:
                self.bot = self._make()
                self._count_requests()
            await self.bot.connect()
            await self.bot.join()
            await self.bot.publish()
            self.bot.keep_connected(max_backoff=1.0 if self.loop is not None else 5.0)

        await self._run(start())

    async def stop(self) -> None:
        """Leave the call (politely if possible) and close everything."""
        async def stop() -> None:
            try:
                await self.bot.leave()
            except (SignalingError, SocketClosed, TimeoutError) as error:
                logger.info("peer %s: leave failed: %r", self.name, error)
            await self.bot.close()

        if self.bot is not None:
            await self._run(stop())

    async def close(self) -> None:
        """Close without leaving."""
        if self.bot is not None:
            await self._run(self.bot.close())
