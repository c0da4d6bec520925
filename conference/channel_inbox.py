"""A consumer's channel read without a receive task: the layer appends, the dispatch loop pops.

Channels reads a consumer's channel-layer messages through a task per message
(``channel_layer.receive(channel)`` started again after each one): for every meeting event a
socket gets, a task is created, its queue getter parked and woken, its completion called
back, and the consumer's own task woken after it: four turns of the event loop and a task per
event, about 22 events a peer in the call set-up of bench/signaling.py. A layer that
implements ``attach`` (`conference.channel_layers`) gives the consumer's dispatch loop
(`conference.channels_dispatch`) an :class:`Inbox` instead: a delivery appends to it and, if the
consumer is waiting, wakes it (one turn); a consumer busy with a request finds the messages
there when it is done, in order, as it did with its receive task.

The inbox keeps the layer's rules: at most ``capacity`` messages (beyond that the layer's
choice: the new message refused, as Channels' in-memory layer does, or the oldest dropped, as
channels-redis does), and a channel that lost messages gets one ``channel.missed`` notice
after the next message it reads (`conference.channel_layers.MISSED`).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["Inbox", "MissedCounts"]


class MissedCounts(Protocol):
    """The layer's record of messages dropped per channel (`conference.channel_layers`)."""

    counts: dict[str, int]

    def dropped(self, channel: str) -> None: ...

    def notice(self, channel: str) -> dict[str, Any] | None: ...


class Inbox:
    """The messages waiting for one attached channel, and how to wake its reader."""

    __slots__ = ("capacity", "channel", "drop_oldest", "loop", "messages", "missed", "wake")

    def __init__(self, channel: str, *, capacity: int, drop_oldest: bool,
                 missed: MissedCounts, wake: Callable[[], None]) -> None:
        self.channel = channel
        self.capacity = capacity
        self.drop_oldest = drop_oldest
        self.missed = missed
        self.wake = wake
        self.loop = asyncio.get_running_loop()
        """The reader's loop: a delivery from another thread wakes it through this loop."""
        self.messages: deque[dict[str, Any]] = deque()

    def put(self, message: dict[str, Any]) -> bool:
        """Queue ``message`` and wake the reader; False when it was refused (full, and the
        layer refuses new messages). A message dropped either way is counted as missed."""
        if len(self.messages) >= self.capacity:
            self.missed.dropped(self.channel)
            if not self.drop_oldest:
                return False
            self.messages.popleft()
        self.messages.append(message)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self.wake()
        elif not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self.wake)
        return True

    def pop(self) -> dict[str, Any] | None:
        """The next message (None when there is none); after it, the channel's
        ``channel.missed`` notice if it lost messages since the last one."""
        if not self.messages:
            return None
        message = self.messages.popleft()
        if self.missed.counts:
            notice = self.missed.notice(self.channel)
            if notice is not None:
                self.messages.append(notice)
        return message
