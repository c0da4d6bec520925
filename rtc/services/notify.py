"""Sending rtc:* events through the channel layer: to a meeting's group or to one connection.

Events ride the same group message as the meeting events (``meetings.events.group_message``),
so ``MeetingConsumer.meeting_event`` relays them as ``{"type": event, "data": data}`` and honours
``exclude`` (the sender's channel). A failed send is logged, never raised: one slow or gone
client must not fail another client's request. On Redis a broadcast returns once this
process's sockets have the event; the other processes' get it right after, in order
(`conference.channel_layers.RedisChannelLayer.group_send_soon`): a request's reply does not
wait for Redis. Only on a loop that serves connections (`conference.db_threads.calling_loop`):
anywhere else (a temporary loop of sync code) the broadcast waits for its whole delivery.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from channels.layers import get_channel_layer

from conference.db_threads import calling_loop
from meetings.events import group_message, meeting_group_name

__all__ = ["broadcast", "send_to"]

logger = logging.getLogger(__name__)


async def broadcast(meeting_id: Any, event: str, data: dict[str, Any], *,
                    exclude: str | None = None) -> None:
    """Send ``event`` to every connection of the meeting except the channel ``exclude``."""
    layer = get_channel_layer()
    if layer is None:
        return
    send = layer.group_send
    if calling_loop() is asyncio.get_running_loop():  # a server's loop, which lives on
        send = getattr(layer, "group_send_soon", None) or send
    try:
        await send(meeting_group_name(meeting_id), group_message(event, data, exclude=exclude))
    except Exception:
        logger.exception("broadcast failed [meeting:%s, event:%s]", meeting_id, event)


async def send_to(channel_name: str | None, event: str, data: dict[str, Any]) -> None:
    """Send ``event`` to one connection (no-op when the peer has no connection now)."""
    if not channel_name:
        return
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.send(channel_name, group_message(event, data))
    except Exception:
        logger.exception("send failed [channel:%s, event:%s]", channel_name, event)
