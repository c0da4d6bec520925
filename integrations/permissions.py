"""Who may use the live-room API: an integration (its own meetings) or staff (every meeting)."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from integrations.authentication import IntegrationPrincipal
from integrations.models import Integration

__all__ = ["IsIntegration", "IsIntegrationOrStaff", "caller_integration"]


def caller_integration(request: Request) -> Integration | None:
    """The integration making the request, None for staff (who see everything)."""
    return request.auth if isinstance(request.auth, Integration) else None


class IsIntegrationOrStaff(BasePermission):
    """An integration's key, or a signed-in staff user."""

    message = "Only integrations and staff may use this API."

    def has_permission(self, request: Request, view: Any) -> bool:
        """Integration keys pass; otherwise the user must be active staff."""
        if caller_integration(request) is not None:
            return True
        user = request.user
        return bool(user and user.is_authenticated and user.is_active and user.is_staff
                    and not isinstance(user, IntegrationPrincipal))


class IsIntegration(BasePermission):
    """An integration's key only (actions that need an integration, e.g. minting tokens)."""

    message = "This needs an integration's API key."

    def has_permission(self, request: Request, view: Any) -> bool:
        """Only requests authenticated by an integration's key."""
        return caller_integration(request) is not None
