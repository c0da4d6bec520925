"""Webhook signatures: make them (sender) and check them (receiver). Standard library only.

Each delivery carries::

    Webhook-Id: <event id>                  (the same on every retry: deduplicate on it)
    Webhook-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>

The timestamp is signed with the body, so a captured request cannot be replayed later than
`tolerance` seconds; a receiver that also remembers the ids it has seen refuses every replay.
Several `v1=` values may appear (e.g. while a secret is rotated); one matching is enough.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from typing import Any

__all__ = ["ID_HEADER", "SIGNATURE_HEADER", "WebhookVerificationError", "sign",
           "signature_header", "verify_webhook"]

ID_HEADER = "Webhook-Id"
SIGNATURE_HEADER = "Webhook-Signature"
DEFAULT_TOLERANCE = 300


class WebhookVerificationError(Exception):
    """The request is not a genuine, fresh webhook of this secret."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """Hex HMAC-SHA256 of ``f"{timestamp}.{body}"`` under `secret`."""
    message = str(int(timestamp)).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The `Webhook-Signature` value for `body`, signed now (or at `timestamp`)."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={t},v1={sign(secret, t, body)}"


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def verify_webhook(
    body: bytes,
    headers: Mapping[str, str],
    secret: str,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> dict[str, Any]:
    """Check a received webhook and return its event ``{id, type, created, data}``.

    Raises WebhookVerificationError when the signature header is missing or malformed, the
    timestamp is more than `tolerance` seconds away from now (a replay), no signature matches
    the body, or the body's id differs from the `Webhook-Id` header.
    """
    value = _header(headers, SIGNATURE_HEADER)
    if not value:
        raise WebhookVerificationError(f"missing {SIGNATURE_HEADER} header")
    timestamp: int | None = None
    candidates: list[str] = []
    for part in value.split(","):
        key, _, item = part.strip().partition("=")
        if key == "t" and item.isdigit():
            timestamp = int(item)
        elif key == "v1" and item:
            candidates.append(item)
    if timestamp is None or not candidates:
        raise WebhookVerificationError(f"malformed {SIGNATURE_HEADER} header")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookVerificationError("timestamp outside the tolerance (replayed or stale)")
    expected = sign(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in candidates):
        raise WebhookVerificationError("signature mismatch")
    try:
        event = json.loads(body)
    except ValueError:
        raise WebhookVerificationError("the body is not JSON") from None
    webhook_id = _header(headers, ID_HEADER)
    if not isinstance(event, dict) or (webhook_id is not None and event.get("id") != webhook_id):
        raise WebhookVerificationError(f"the body's id does not match {ID_HEADER}")
    return event
