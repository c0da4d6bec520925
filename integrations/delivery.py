"""Delivering stored webhook events: claim the due ones, POST them signed, record the outcome.

Synchronous functions shared by the background dispatcher (:mod:`integrations.dispatcher`,
which runs them in its own threads) and `manage.py deliver_webhooks`. Several processes may
deliver at once: a delivery is claimed by moving its `next_attempt_at` forward with a
conditional UPDATE (a lease), so only one of them POSTs it; a process that dies mid-attempt
leaves it due again when the lease ends.

Outcome of an attempt: a 2xx answer delivers it; anything else (other status, redirect,
timeout, connection error) schedules a retry after an exponential backoff with jitter, until
`WEBHOOK_MAX_ATTEMPTS` attempts, after which it is failed. A revoked integration, a missing or
no longer allowed URL fails it at once.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone

from integrations.config import integration_settings
from integrations.crypto import SecretUnavailable
from integrations.models import WebhookDelivery
from integrations.signing import ID_HEADER, SIGNATURE_HEADER, signature_header
from integrations.validators import webhook_url_problem

__all__ = [
    "Attempt",
    "PostResult",
    "attempt_delivery",
    "backoff_seconds",
    "claim_due",
    "drain_due",
    "post_webhook",
    "prepare_attempt",
    "record_attempt",
    "retry_now",
    "send_attempt",
]

logger = logging.getLogger(__name__)

USER_AGENT = "conference-webhooks/1"
MAX_ERROR = 500


@dataclass(frozen=True, slots=True)
class PostResult:
    """What one POST gave."""

    status_code: int | None
    """The HTTP status, None when no answer came."""
    error: str = ""
    """Why it failed ("" on success)."""
    permanent: bool = False
    """Retrying cannot help (the URL is not allowed)."""

    @property
    def ok(self) -> bool:
        """A 2xx answer."""
        return self.status_code is not None and 200 <= self.status_code < 300


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are answers, not instructions: a webhook goes to the configured URL only."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)


def post_webhook(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> PostResult:
    """POST `body` to `url` (checked against the webhook URL rule first); blocking."""
    problem = webhook_url_problem(url)
    if problem is not None:
        return PostResult(None, problem, permanent=True)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with _opener.open(request, timeout=timeout) as response:
            response.read(4096)
            return PostResult(response.status)
    except urllib.error.HTTPError as error:
        return PostResult(error.code, f"HTTP {error.code}")
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        reason = getattr(error, "reason", error)
        return PostResult(None, f"{type(error).__name__}: {reason}"[:MAX_ERROR])


def backoff_seconds(attempts: int, *, base: float, cap: float,
                    rng: random.Random | None = None) -> float:
    """Delay before the next attempt after `attempts` failed ones: base·2^(n-1), capped, ±25 %.

    The jitter spreads retries of many events failing together (an endpoint down).
    """
    delay = min(cap, base * 2 ** max(0, attempts - 1))
    return min(cap, delay * (rng or random).uniform(0.75, 1.25))


def claim_due(*, limit: int = 50) -> list[tuple[int, int]]:
    """Claim up to `limit` due pending deliveries for one attempt each, oldest due first;
    their (id, integration id) pairs."""
    config = integration_settings()
    now = timezone.now()
    lease = now + timedelta(seconds=config.webhook_timeout * 2 + 30)
    candidates = list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING,
                                       next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .values_list("id", "next_attempt_at", "integration_id")[:limit]
    )
    claimed = []
    for pk, due, integration_id in candidates:
        won = WebhookDelivery.objects.filter(
            pk=pk, status=WebhookDelivery.Status.PENDING, next_attempt_at=due
        ).update(next_attempt_at=lease)
        if won:
            claimed.append((pk, integration_id))
    return claimed


def _record(delivery: WebhookDelivery, result: PostResult) -> None:
    config = integration_settings()
    now = timezone.now()
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.response_code = result.status_code
    if result.ok:
        delivery.status = WebhookDelivery.Status.DELIVERED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        delivery.last_error = ""
    else:
        delivery.last_error = result.error[:MAX_ERROR]
        if result.permanent or delivery.attempts >= config.webhook_max_attempts:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.next_attempt_at = None
        else:
            delay = backoff_seconds(delivery.attempts, base=config.webhook_backoff_base,
                                    cap=config.webhook_backoff_max)
            delivery.next_attempt_at = now + timedelta(seconds=delay)
    delivery.save(update_fields=["attempts", "last_attempt_at", "response_code", "status",
                                 "delivered_at", "next_attempt_at", "last_error"])
    logger.info("webhook=%s event=%s integration=%s attempt=%s status=%s code=%s %s",
                delivery.pk, delivery.event_type, delivery.integration_id, delivery.attempts,
                delivery.status, result.status_code, result.error)


@dataclass(frozen=True, slots=True)
class Attempt:
    """One prepared POST of a delivery: where, what, signed how."""

    delivery_id: int
    url: str
    body: bytes
    headers: dict[str, str]


def prepare_attempt(delivery_id: int) -> Attempt | None:
    """The signed request of a claimed delivery; None when there is nothing to send (gone,
    no longer pending, or failed at once: revoked integration, no URL, unreadable secret)."""
    delivery = WebhookDelivery.objects.select_related("integration").filter(
        pk=delivery_id).first()
    if delivery is None or delivery.status != WebhookDelivery.Status.PENDING:
        return None
    integration = delivery.integration
    problem = ""
    if not integration.is_active:
        problem = "the integration is revoked"
    elif not integration.webhook_url:
        problem = "the integration has no webhook URL"
    else:
        try:
            secret = integration.secret
        except SecretUnavailable:
            problem = "the secret cannot be decrypted"
    if problem:
        _record(delivery, PostResult(None, problem, permanent=True))
        return None
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        ID_HEADER: str(delivery.event_id),
        SIGNATURE_HEADER: signature_header(secret, body),
    }
    return Attempt(delivery_id, integration.webhook_url, body, headers)


def send_attempt(attempt: Attempt) -> PostResult:
    """POST a prepared attempt (network only, no database)."""
    return post_webhook(attempt.url, attempt.body, attempt.headers,
                        timeout=integration_settings().webhook_timeout)


def record_attempt(delivery_id: int, result: PostResult) -> WebhookDelivery | None:
    """Store the outcome of an attempt: delivered, retry later, or failed."""
    delivery = WebhookDelivery.objects.filter(pk=delivery_id).first()
    if delivery is not None:
        _record(delivery, result)
    return delivery


def attempt_delivery(delivery_id: int) -> WebhookDelivery | None:
    """Prepare, POST and record one claimed delivery; the delivery, or None if gone."""
    attempt = prepare_attempt(delivery_id)
    if attempt is None:
        return WebhookDelivery.objects.filter(pk=delivery_id).first()
    return record_attempt(delivery_id, send_attempt(attempt))


def drain_due(*, limit: int = 50) -> int:
    """Attempt every delivery due now, one after another; how many attempts were made."""
    attempted = 0
    while True:
        claimed = claim_due(limit=limit)
        for delivery_id, _ in claimed:
            attempt_delivery(delivery_id)
        attempted += len(claimed)
        if len(claimed) < limit:
            return attempted


def retry_now(queryset: Any) -> int:
    """Make these deliveries due now (a failed one gets one more attempt); how many."""
    return queryset.exclude(status=WebhookDelivery.Status.DELIVERED).update(
        status=WebhookDelivery.Status.PENDING, next_attempt_at=timezone.now())
