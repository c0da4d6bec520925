"""DRF permissions for the meetings API (the services check the same rules again)."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from meetings import selectors
from meetings.models import Meeting


class IsMeetingHostOrReadOnly(BasePermission):
    """Anyone who can see the meeting may read it; only its host may change it."""

    message = "Only the host may change this meeting."

    def has_object_permission(self, request: Request, view: Any, obj: Meeting) -> bool:
        """Reads pass (visibility is the queryset's job); writes need the host."""
        if request.method in SAFE_METHODS:
            return True
        return selectors.user_is_host(meeting=obj, user=request.user)
