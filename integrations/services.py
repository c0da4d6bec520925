"""Writes: create, rotate and revoke integrations; revoke tokens; create integration meetings.

Keyword-only arguments, one transaction each, `ApplicationError` on a broken rule, like
`meetings.services`. A new secret is returned once, to be shown once; only its encrypted form
is stored.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from conference.errors import ApplicationError, ErrorCode
from integrations.models import (
    API_KEY_PREFIX,
    MAX_JTI_LENGTH,
    SECRET_PREFIX,
    Integration,
    IntegrationMeeting,
    RevokedToken,
)
from integrations.validators import webhook_url_problem
from meetings import services as meeting_services
from meetings.models import DEFAULT_CAPACITY, Meeting

__all__ = [
    "integration_create",
    "integration_revoke",
    "integration_rotate_secret",
    "link_meeting",
    "meeting_create_for_integration",
    "new_api_key",
    "new_secret",
    "token_revoke",
]

logger = logging.getLogger(__name__)


def new_api_key() -> str:
    """A fresh public key id: ``ak_`` and 20 URL-safe characters (no ``:``, no ``.``)."""
    return API_KEY_PREFIX + secrets.token_urlsafe(15)


def new_secret() -> str:
    """A fresh secret: ``sk_`` and 43 URL-safe characters (256 random bits)."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def _check_webhook_url(url: str) -> None:
    problem = webhook_url_problem(url) if url else None
    if problem is not None:
        raise ApplicationError(problem)


@transaction.atomic
def integration_create(
    *, name: str, owner: AbstractBaseUser, webhook_url: str = ""
) -> tuple[Integration, str]:
    """A new active integration and its plain secret (shown once, stored encrypted)."""
    name = name.strip()
    if not name:
        raise ApplicationError("The name must not be empty.")
    _check_webhook_url(webhook_url)
    secret = new_secret()
    integration = Integration(name=name, owner=owner, api_key=new_api_key(),
                              webhook_url=webhook_url)
    integration.set_secret(secret)
    integration.save()
    logger.info("integration=%s created key=%s owner=%s", integration.pk, integration.api_key,
                owner.pk)
    return integration, secret


@transaction.atomic
def integration_rotate_secret(*, integration: Integration) -> str:
    """Replace the secret; tokens and webhook signatures made with the old one stop working."""
    secret = new_secret()
    integration.set_secret(secret)
    integration.save(update_fields=["secret_encrypted", "updated_at"])
    logger.info("integration=%s secret rotated", integration.pk)
    return secret


@transaction.atomic
def integration_revoke(*, integration: Integration) -> Integration:
    """Turn the integration off: its tokens, API calls and webhooks are refused from now on.

    Connected peers keep their call until they disconnect (remove them through the API first
    if they must go now).
    """
    if integration.is_active:
        integration.is_active = False
        integration.revoked_at = timezone.now()
        integration.save(update_fields=["is_active", "revoked_at", "updated_at"])
        logger.info("integration=%s revoked", integration.pk)
    return integration


def token_revoke(
    *, integration: Integration, jti: str, expires_at: datetime | None = None
) -> RevokedToken:
    """Refuse the join token `jti` of this integration from now on (idempotent)."""
    if not isinstance(jti, str) or not 1 <= len(jti) <= MAX_JTI_LENGTH:
        raise ApplicationError(f"jti must be a string of 1-{MAX_JTI_LENGTH} characters.")
    try:
        with transaction.atomic():
            revoked, _ = RevokedToken.objects.get_or_create(
                integration=integration, jti=jti, defaults={"expires_at": expires_at})
    except IntegrityError:  # a concurrent revocation of the same jti won
        revoked = RevokedToken.objects.get(integration=integration, jti=jti)
    logger.info("integration=%s revoked jti=%s", integration.pk, jti)
    return revoked


@transaction.atomic
def meeting_create_for_integration(
    *,
    integration: Integration,
    title: str,
    capacity: int = DEFAULT_CAPACITY,
    scheduled_start: datetime | None = None,
    scheduled_end: datetime | None = None,
) -> Meeting:
    """A meeting hosted by the integration's owner and owned by the integration.

    Invite-only: people enter with the integration's join tokens (or as invited users).
    """
    if not integration.is_active:
        raise ApplicationError("The integration is revoked.", code=ErrorCode.FORBIDDEN)
    extra: dict[str, Any] = {"scheduled_start": scheduled_start, "scheduled_end": scheduled_end}
    meeting = meeting_services.meeting_create(host=integration.owner, title=title,
                                              capacity=capacity, **extra)
    link_meeting(integration=integration, meeting=meeting)
    return meeting


def link_meeting(*, integration: Integration, meeting: Meeting) -> IntegrationMeeting:
    """Make `meeting` the integration's (a meeting belongs to at most one integration)."""
    try:
        with transaction.atomic():
            link = IntegrationMeeting.objects.create(integration=integration, meeting=meeting)
    except (IntegrityError, ValidationError):
        raise ApplicationError("The meeting already belongs to an integration.",
                               code=ErrorCode.CONFLICT) from None
    logger.info("integration=%s owns meeting=%s", integration.pk, meeting.pk)
    return link
