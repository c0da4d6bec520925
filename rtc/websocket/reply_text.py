"""A reply's text with the parts that are the same for a whole meeting encoded once.

The ``rtc:joined`` reply carries the router's RTP capabilities (some 3 kB of JSON), the
same object for every peer of the meeting (`Room.joined_reply` puts the router's own in), and
the encoder of the reply encoded them again for each peer: in a burst of joins, the largest
part of each join reply's encoding. :func:`reply_text` encodes the capabilities once per
object (remembered by identity, as `rtc.websocket.event_text` remembers events: a router's
capabilities never change, and each entry holds its object alive so its identity cannot be
reused while it is cached) and splices their text into the rest of the reply, encoded with a
stand-in in their place. The text is the one ``dumps(content)`` gives, byte for byte.

The stand-in is a string with a random token drawn per process: no client can put it in a
string of its own (a display name, a request id) to have it replaced.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from typing import Any

from rtc.websocket.frame_json import dumps

__all__ = ["reply_text"]

CACHED = 16
"""Capabilities objects remembered (one per live router that joins peers at once)."""

_STAND_IN = f"rtc-capabilities-{secrets.token_hex(16)}"
_QUOTED = dumps(_STAND_IN)
_cache: OrderedDict[int, tuple[Any, str]] = OrderedDict()


def _capabilities_text(capabilities: Any) -> str:
    key = id(capabilities)
    hit = _cache.get(key)
    if hit is not None and hit[0] is capabilities:
        return hit[1]
    text = dumps(capabilities)
    _cache[key] = (capabilities, text)
    if len(_cache) > CACHED:
        _cache.popitem(last=False)
    return text


def reply_text(content: Any) -> str:
    """``dumps(content)``; for an ``rtc:joined`` reply, with the router's capabilities
    encoded once per capabilities object."""
    data = content.get("data") if type(content) is dict else None
    if type(data) is not dict or data.get("type") != "rtc:joined":
        return dumps(content)
    capabilities = data.get("routerRtpCapabilities")
    if type(capabilities) is not dict:
        return dumps(content)
    text = dumps({**content, "data": {**data, "routerRtpCapabilities": _STAND_IN}})
    head, found, tail = text.partition(_QUOTED)
    if not found:  # cannot happen: the stand-in is in the encoded reply
        return dumps(content)
    return head + _capabilities_text(capabilities) + tail
