"""DRF authentication of an integration's backend: ``Authorization: Bearer <api key>:<secret>``.

The request's `user` is an :class:`IntegrationPrincipal`, not a Django user, so nothing that
expects a person (the meetings API, staff checks) ever treats an API key as its owner; the
request's `auth` is the :class:`Integration`, which the live-room API scopes everything by.
"""

from __future__ import annotations

import hmac
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from integrations.crypto import SecretUnavailable
from integrations.models import Integration

__all__ = ["IntegrationAuthentication", "IntegrationPrincipal"]

MAX_CREDENTIALS = 200


class IntegrationPrincipal:
    """`request.user` of a call made with an integration's key: authenticated, never staff."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, integration: Integration) -> None:
        self.integration = integration

    def __str__(self) -> str:
        return f"integration:{self.integration.api_key}"

    def get_username(self) -> str:
        """The key, for logs."""
        return str(self)


class IntegrationAuthentication(BaseAuthentication):
    """``Bearer <api key>:<secret>``; a wrong key or secret is 401, a revoked one too."""

    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[IntegrationPrincipal, Integration] | None:
        """The integration named by the header, or None when the header is not Bearer."""
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword:
            return None
        if len(parts) != 2 or len(parts[1]) > MAX_CREDENTIALS:
            raise AuthenticationFailed("Use Authorization: Bearer <api key>:<secret>.")
        try:
            key, sep, secret = parts[1].decode("ascii").partition(":")
        except UnicodeError:
            raise AuthenticationFailed("Invalid API key or secret.") from None
        if not sep:
            raise AuthenticationFailed("Use Authorization: Bearer <api key>:<secret>.")
        integration = Integration.objects.select_related("owner").filter(api_key=key).first()
        if integration is None:
            raise AuthenticationFailed("Invalid API key or secret.")
        try:
            stored = integration.secret
        except SecretUnavailable:
            raise AuthenticationFailed("This API key cannot be used.") from None
        if not hmac.compare_digest(stored.encode(), secret.encode()):
            raise AuthenticationFailed("Invalid API key or secret.")
        if not integration.is_active:
            raise AuthenticationFailed("The integration is revoked.")
        return IntegrationPrincipal(integration), integration

    def authenticate_header(self, request: Request) -> str:
        """401 answers name the scheme."""
        return 'Bearer realm="api"'


class IntegrationAuthenticationScheme(OpenApiAuthenticationExtension):
    """Describes the Bearer key:secret scheme in /api/schema/."""

    target_class = "integrations.authentication.IntegrationAuthentication"
    name = "integrationKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        """An HTTP bearer scheme whose token is ``<api key>:<secret>``."""
        return {"type": "http", "scheme": "bearer", "bearerFormat": "<api key>:<secret>"}
