"""A participant who chats and draws at a human pace, over the meeting socket.

:class:`CollabBot` wraps a :class:`bots.signaling.SignalingClient` with the collaboration
requests of ``rtc/signaling/PROTOCOL.md`` (chat, hands, reactions, whiteboard) and
:meth:`CollabBot.behave` runs a person's habits for a while: a chat message now and then and a
pen stroke now and then, each after an exponentially distributed pause (a Poisson process, so
a crowd of bots does not act in lock-step). Used by ``bench/collab.py``; no Django.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import secrets
from dataclasses import dataclass
from typing import Any

from bots.signaling import SignalingClient

__all__ = ["BOARD_HEIGHT", "BOARD_WIDTH", "CollabBot", "Habits", "stroke"]

BOARD_WIDTH = 1600
BOARD_HEIGHT = 900


@dataclass(frozen=True, slots=True)
class Habits:
    """How often a bot acts (mean seconds between actions; 0: never)."""

    chat_every: float = 30.0
    """A message about twice a minute: a lively meeting's chat."""
    draw_every: float = 10.0
    """A pen stroke every ten seconds: someone sketching while talking."""
    stroke_points: int = 40
    """Points of each stroke (a short scribble sampled as a browser does)."""


def stroke(rng: random.Random, points: int, *, element_id: str | None = None,
           color: str = "#1d4ed8") -> dict[str, Any]:
    """A pen stroke of ``points`` points wandering across the board."""
    x, y = rng.uniform(100, BOARD_WIDTH - 100), rng.uniform(100, BOARD_HEIGHT - 100)
    flat: list[float] = []
    for _ in range(points):
        x = min(BOARD_WIDTH, max(0, x + rng.uniform(-12, 12)))
        y = min(BOARD_HEIGHT, max(0, y + rng.uniform(-12, 12)))
        flat += [round(x, 1), round(y, 1)]
    return {"id": element_id or f"b{secrets.token_hex(8)}", "type": "pen", "color": color,
            "width": 3, "points": flat}


class CollabBot:
    """One person's collaboration on an open meeting socket."""

    _counter = itertools.count(1)

    def __init__(self, client: SignalingClient, *, seed: int | None = None) -> None:
        self.client = client
        self.rng = random.Random(seed)
        self.sent_chat = 0
        self.sent_strokes = 0

    async def chat(self, text: str, *, to: str | None = None) -> int:
        """Send a message (privately to peer ``to``); its stored id."""
        data: dict[str, Any] = {"text": text}
        if to is not None:
            data["to"] = to
        reply = await self.client.request("chat:send", data)
        self.sent_chat += 1
        return int(reply["id"])

    async def draw(self, element: dict[str, Any]) -> int:
        """Add an element to the whiteboard; its seq."""
        reply = await self.client.request("whiteboard:draw", {"element": element})
        self.sent_strokes += 1
        return int(reply["seq"])

    async def raise_hand(self) -> dict[str, Any]:
        """Raise this bot's hand (it must have joined the call)."""
        return dict(await self.client.request("hand:raise"))

    async def react(self, emoji: str = "👍") -> None:
        """Show a reaction on this bot's tile."""
        await self.client.request("reaction:send", {"emoji": emoji})

    async def history(self) -> list[dict[str, Any]]:
        """The chat messages this bot may read, oldest first."""
        return list((await self.client.request("chat:history"))["messages"])

    async def board(self) -> dict[str, Any]:
        """The whole whiteboard (``seq``, ``clearedSeq``, ``elements``)."""
        return dict(await self.client.request("whiteboard:state"))

    def _pause(self, mean: float) -> float:
        return self.rng.expovariate(1 / mean) if mean > 0 else math.inf

    async def behave(self, seconds: float, habits: Habits, *, text: Any = None,
                     element_id: Any = None) -> None:
        """Chat and draw for ``seconds`` following ``habits``. ``text()`` and
        ``element_id()``, when given, make each message's text and each stroke's id (the
        benchmark marks them to time their delivery)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + seconds
        next_chat = loop.time() + self._pause(habits.chat_every)
        next_draw = loop.time() + self._pause(habits.draw_every)
        while True:
            now = loop.time()
            due = min(next_chat, next_draw)
            if due >= end:
                return
            await asyncio.sleep(max(0.0, due - now))
            if next_chat <= next_draw:
                await self.chat(text() if text else f"message {next(self._counter)}")
                next_chat = loop.time() + self._pause(habits.chat_every)
            else:
                await self.draw(stroke(self.rng, habits.stroke_points,
                                       element_id=element_id() if element_id else None))
                next_draw = loop.time() + self._pause(habits.draw_every)
