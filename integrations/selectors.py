"""Reads: the meetings an API caller may see, and how webhooks and the API name people."""

from __future__ import annotations

import uuid
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from conference.errors import ApplicationError, ErrorCode
from integrations.models import ExternalIdentity, Integration
from meetings.models import Meeting

__all__ = ["identities_of_users", "meeting_for_caller", "meetings_for_caller"]


def meetings_for_caller(*, integration: Integration | None) -> QuerySet[Meeting]:
    """An integration's own meetings; every meeting for staff (`integration` None)."""
    meetings = Meeting.objects.select_related("host").order_by("-created_at")
    if integration is None:
        return meetings
    return meetings.filter(integration_link__integration=integration)


def meeting_for_caller(*, integration: Integration | None, meeting_id: uuid.UUID | str
                       ) -> Meeting:
    """The meeting if the caller may drive it; not found otherwise (no probing of ids)."""
    try:
        return meetings_for_caller(integration=integration).get(pk=meeting_id)
    except (Meeting.DoesNotExist, ValueError, ValidationError):
        raise ApplicationError("Meeting not found.", code=ErrorCode.NOT_FOUND) from None


def identities_of_users(user_ids: list[Any]) -> dict[Any, str]:
    """user id → the integration's identity (`sub`) for shadow users, else the username."""
    from django.contrib.auth import get_user_model

    names = dict(get_user_model().objects.filter(pk__in=user_ids)
                 .values_list("pk", "username"))
    external = dict(ExternalIdentity.objects.filter(user_id__in=user_ids)
                    .values_list("user_id", "subject"))
    return {pk: external.get(pk, names.get(pk, "")) for pk in user_ids}
