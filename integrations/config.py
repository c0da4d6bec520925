"""The integrations settings, each with a default, read on every use.

`settings.INTEGRATIONS` holds the keys of :class:`IntegrationSettings` in upper case; tests
change them with pytest-django's `settings` fixture. `settings.INTEGRATIONS_ENCRYPTION_KEY`
is read by :mod:`integrations.crypto`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from django.conf import settings

__all__ = ["IntegrationSettings", "integration_settings"]


@dataclass(frozen=True, slots=True)
class IntegrationSettings:
    """Limits and switches of the integrations app."""

    token_max_lifetime: int = 86400
    """Longest join token accepted (``exp - iat``), seconds."""
    token_leeway: int = 10
    """Clock skew tolerated on ``exp``, ``iat`` and ``nbf``, seconds."""
    webhook_max_attempts: int = 8
    """Delivery attempts per event before it is marked failed."""
    webhook_timeout: int = 10
    """Seconds one webhook POST may take."""
    webhook_backoff_base: float = 5.0
    """Delay after the first failed attempt, seconds; doubled after each further failure."""
    webhook_backoff_max: float = 3600.0
    """Longest delay between two attempts, seconds."""
    webhook_allow_http_loopback: bool = False
    """Allow ``http://`` webhook URLs whose host is a loopback address (development, tests)."""
    webhook_dispatcher: bool = True
    """Deliver from a background thread of the serving process (else only the command does)."""
    webhook_concurrency: int = 8
    """Deliveries in flight at once in the background dispatcher."""
    webhook_poll_seconds: float = 30.0
    """Longest sleep of the dispatcher between two looks at the table (it is also woken)."""
    unlinked_cache_seconds: float = 5.0
    """How long a process remembers that a meeting belongs to no integration (no lookup per
    join and per track meanwhile; a link made in another process is seen after at most this
    long). 0: look up every time."""


def integration_settings() -> IntegrationSettings:
    """The current settings: defaults overridden by ``settings.INTEGRATIONS``."""
    raw: dict[str, Any] = getattr(settings, "INTEGRATIONS", {}) or {}
    known = {f.name for f in fields(IntegrationSettings)}
    values = {key.lower(): value for key, value in raw.items() if key.lower() in known}
    return IntegrationSettings(**values)
