"""Who a join token's bearer is inside this service: a shadow Django user per identity.

Each (integration, `sub`) gets one User with an unusable password, username
``ext.<api key>.<sub>`` (or ``ext.<api key>.<hash>`` when `sub` does not fit a username), kept
in :class:`ExternalIdentity`. It is invited to the meeting the token opens, so the meetings app
(attendance, capacity, removal) treats it as any participant, with no special case.

:func:`authenticate_websocket` is what `rtc.websocket.auth` calls for a JWT on the meeting socket.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from conference.errors import ErrorCode
from integrations.models import ExternalIdentity, Integration
from integrations.tokens import JoinGrant, JoinTokenError, verify_join_token
from meetings.models import Participant

__all__ = ["WebsocketAuth", "authenticate_websocket", "external_user", "identity_of_user"]

logger = logging.getLogger(__name__)

USERNAME_SAFE = re.compile(r"[\w.@+-]{1,100}")
MEETING_PATH = re.compile(r"^/ws/meetings/([0-9a-fA-F-]{36})/")


def _username(api_key: str, subject: str) -> str:
    if USERNAME_SAFE.fullmatch(subject):
        return f"ext.{api_key}.{subject}"
    return f"ext.{api_key}.{hashlib.sha256(subject.encode()).hexdigest()[:32]}"


def external_user(*, integration: Integration, subject: str, display_name: str) -> Any:
    """The shadow user of `subject` in `integration`, created on first use."""
    now = timezone.now()
    found = ExternalIdentity.objects.select_related("user").filter(
        integration=integration, subject=subject).first()
    if found is not None:
        if found.display_name != display_name or found.user.first_name != display_name[:150]:
            found.user.first_name = display_name[:150]
            found.user.save(update_fields=["first_name"])
        ExternalIdentity.objects.filter(pk=found.pk).update(display_name=display_name,
                                                            last_seen_at=now)
        return found.user
    User = get_user_model()
    username = _username(integration.api_key, subject)
    for attempt in range(3):
        try:
            with transaction.atomic():
                user = User(username=username, first_name=display_name[:150])
                user.set_unusable_password()
                user.save()
                ExternalIdentity.objects.create(integration=integration, subject=subject,
                                                user=user, display_name=display_name,
                                                last_seen_at=now)
            logger.info("integration=%s identity=%r is user=%s", integration.pk, subject, user.pk)
            return user
        except IntegrityError:
            found = ExternalIdentity.objects.select_related("user").filter(
                integration=integration, subject=subject).first()
            if found is not None:  # a concurrent connection created it first
                return found.user
            # The username is taken by someone else: make it unique.
            username = f"{username[:130]}.{secrets.token_hex(4)}"
            logger.warning("integration=%s identity=%r username clash (attempt %s)",
                           integration.pk, subject, attempt + 1)
    raise IntegrityError("no free username for the external identity")


def identity_of_user(user_id: Any) -> dict[str, Any]:
    """How webhooks name a user: the integration's identity, else the username."""
    found = ExternalIdentity.objects.select_related("user").filter(user_id=user_id).first()
    if found is not None:
        return {"identity": found.subject, "name": found.display_name, "userId": user_id,
                "external": True}
    user = get_user_model().objects.filter(pk=user_id).first()
    username = user.get_username() if user is not None else ""
    name = (user.get_full_name() or username) if user is not None else ""
    return {"identity": username, "name": name, "userId": user_id, "external": False}


@transaction.atomic
def _admit(grant: JoinGrant) -> Any:
    integration = Integration.objects.get(pk=grant.integration_id)
    user = external_user(integration=integration, subject=grant.identity,
                         display_name=grant.display_name)
    Participant.objects.get_or_create(
        meeting_id=grant.meeting_id, user=user,
        defaults={"role": Participant.Role.MEMBER, "invited_at": timezone.now()})
    return user


def admit(token: str, meeting_id: uuid.UUID | str) -> tuple[Any, JoinGrant]:
    """Verify `token` for the meeting; its shadow user, invited to it, and the grant."""
    grant = verify_join_token(token, meeting_id)
    return _admit(grant), grant


@dataclass(frozen=True, slots=True)
class WebsocketAuth:
    """The outcome of a join token on the meeting socket."""

    user: Any = None
    """The shadow user (None when refused)."""
    grant: JoinGrant | None = None
    """The verified grant (None when refused)."""
    refusal: JoinTokenError | None = None
    """Why the token was refused."""


async def authenticate_websocket(token: str, path: str) -> WebsocketAuth:
    """Verify a join token presented on the socket at `path` (its meeting id comes from it)."""
    match = MEETING_PATH.match(path or "")
    if match is None:
        return WebsocketAuth(refusal=JoinTokenError(ErrorCode.TOKEN_WRONG_MEETING,
                                                    "join tokens open meeting sockets only"))
    try:
        user, grant = await database_sync_to_async(admit)(token, match.group(1))
    except JoinTokenError as error:
        logger.info("join token refused path=%s code=%s", path, error.code)
        return WebsocketAuth(refusal=error)
    logger.info("join token accepted meeting=%s integration=%s identity=%r jti=%s",
                grant.meeting_id, grant.integration_id, grant.identity, grant.jti)
    return WebsocketAuth(user=user, grant=grant)
