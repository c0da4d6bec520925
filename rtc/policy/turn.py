"""TURN credentials for clients behind strict NAT (coturn's shared-secret REST scheme).

coturn, started with ``use-auth-secret`` and ``static-auth-secret=<TURN_SECRET>``, accepts a
username ``<expiry unix time>:<identity>`` whose password is
``base64(HMAC-SHA1(TURN_SECRET, username))``. We mint such a pair per peer when it joins, so
no long-lived TURN password ever reaches a browser, and a leaked one expires on its own.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from django.conf import settings

__all__ = ["ice_servers_for"]


def turn_credential(secret: str, username: str) -> str:
    """coturn's password for ``username``: base64 of HMAC-SHA1 keyed with the shared secret."""
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def ice_servers_for(identity: Any, *, now: float | None = None) -> list[dict[str, Any]]:
    """The ``iceServers`` a client passes to its transports: [] when no TURN is configured."""
    config = getattr(settings, "TURN", {}) or {}
    urls = list(config.get("URLS") or [])
    if not urls:
        return []
    secret = config.get("SECRET") or ""
    if not secret:
        # STUN-only or TURN with its own static users: hand out the URLs alone.
        return [{"urls": urls}]
    expiry = int((time.time() if now is None else now) + int(config.get("TTL", 86400)))
    username = f"{expiry}:{identity}"
    return [{"urls": urls, "username": username, "credential": turn_credential(secret, username)}]
