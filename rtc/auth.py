"""WebSocket authentication by DRF token in the query string (`?token=...`).

Browsers authenticate the WebSocket with their session cookie (Channels' AuthMiddlewareStack);
API clients, which have no cookie, pass the token they got from `POST /api/auth/token/`.
A token in the query string wins over the session: a client that sends one means to be that
user, and a wrong token leaves the connection anonymous (it is then refused with 4401).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from django.contrib.auth.models import AnonymousUser

logger = logging.getLogger(__name__)

__all__ = ["TokenAuthMiddleware", "user_for_token"]

MAX_TOKEN_LENGTH = 64


@database_sync_to_async
def user_for_token(key: str) -> Any:
    """The active user owning DRF token `key`, or AnonymousUser."""
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return AnonymousUser()
    return token.user


class TokenAuthMiddleware(BaseMiddleware):
    """Sets `scope["user"]` from a `token` query parameter when one is present."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        keys = query.get("token")
        if keys:
            key = keys[0]
            if 0 < len(key) <= MAX_TOKEN_LENGTH:
                user = await user_for_token(key)
            else:
                user = AnonymousUser()
            if not user.is_authenticated:
                logger.info("websocket token rejected path=%s", scope.get("path"))
            scope = dict(scope, user=user)
        return await super().__call__(scope, receive, send)
