"""Driving a channel layer from a test the way a busy meeting does: one procedure for every
layer (in-memory, channels-redis), so their tests check the same contract on each."""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["overflowed"]


async def overflowed(layer: Any, group: str, message_type: str, *, sent: int = 8,
                     read: int = 6) -> tuple[str, list[dict[str, Any]]]:
    """A new channel of ``layer`` joins ``group`` and is sent ``sent`` messages (``n`` 0, 1,
    ...) before it reads any, then reads ``read`` of them (5 s each at most): the channel and
    what it got, in order. With the layer's capacity at 5, the default 8 overflow it by 3."""
    channel = await layer.new_channel()
    await layer.group_add(group, channel)
    for n in range(sent):
        await layer.group_send(group, {"type": message_type, "n": n})
    return channel, [await asyncio.wait_for(layer.receive(channel), 5) for _ in range(read)]
