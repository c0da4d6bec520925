"""The webhook URL rule, in one place (model validation, admin form, and each delivery).

* ``https://host/...`` is always accepted.
* ``http://`` is accepted only when ``INTEGRATIONS["WEBHOOK_ALLOW_HTTP_LOOPBACK"]`` is on (the
  default under DEBUG) and the host is a loopback address: ``localhost``, ``127.0.0.0/8`` or
  ``::1``. Development receivers run on the same machine; anything crossing a network must be
  encrypted, because the body names meetings and people.
* Any other scheme, a URL without a host, with credentials or a fragment is refused.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError

from integrations.config import integration_settings

__all__ = ["MAX_WEBHOOK_URL_LENGTH", "is_loopback_host", "validate_webhook_url",
           "webhook_url_problem"]

MAX_WEBHOOK_URL_LENGTH = 500


def is_loopback_host(host: str) -> bool:
    """Whether `host` (no port, no brackets) names this machine's loopback interface."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def webhook_url_problem(url: str) -> str | None:
    """Why `url` may not receive webhooks, or None when it may."""
    if len(url) > MAX_WEBHOOK_URL_LENGTH:
        return f"The URL is longer than {MAX_WEBHOOK_URL_LENGTH} characters."
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018  (raises ValueError for a bad port)
    except ValueError:
        return "The URL is malformed."
    if not host:
        return "The URL needs a host."
    if parts.username is not None or parts.password is not None:
        return "The URL must not carry credentials."
    if parts.fragment:
        return "The URL must not have a fragment."
    if parts.scheme == "https":
        return None
    if parts.scheme == "http":
        if not integration_settings().webhook_allow_http_loopback:
            return "Webhook URLs must use https."
        if not is_loopback_host(host):
            return "Plain http is allowed only to a loopback host; use https."
        return None
    return "Webhook URLs must use https."


def validate_webhook_url(url: str) -> None:
    """Django validator form of :func:`webhook_url_problem` (blank means no webhooks)."""
    if not url:
        return
    problem = webhook_url_problem(url)
    if problem is not None:
        raise ValidationError(problem, code="webhook_url")
