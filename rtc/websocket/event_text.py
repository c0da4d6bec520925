"""A group event's socket frame, encoded once for all the sockets that relay it.

A meeting event reaches each member socket of the meeting as its own copy of the group message,
but every copy shares the one ``data`` object the sender built (the in-memory layer's
``group_send`` and the Redis layer's in-process delivery copy only the envelope). Each socket
used to encode ``{"type": event, "data": data}`` itself: in a meeting of ten, ten encodings of
the same frame. :func:`event_text` remembers the last few encodings by the identity of their
``data``; consumers never change a message's data, so an entry is valid while it is held.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from rtc.websocket.frame_json import dumps

__all__ = ["event_text"]

CACHED = 64
"""Encodings remembered: enough for every event in flight in a burst of joins, each entry
holding its ``data`` alive (so its identity cannot be reused while it is cached)."""

_cache: OrderedDict[int, tuple[dict[str, Any], str, str]] = OrderedDict()


def event_text(event: str, data: dict[str, Any]) -> str:
    """``dumps({"type": event, "data": data})``, computed once per ``data`` object."""
    key = id(data)
    hit = _cache.get(key)
    if hit is not None and hit[0] is data and hit[1] == event:
        return hit[2]
    text = dumps({"type": event, "data": data})
    _cache[key] = (data, event, text)
    if len(_cache) > CACHED:
        _cache.popitem(last=False)
    return text
