"""WebSocket authentication by token in the query string.

Browsers authenticate the WebSocket with their session cookie (Channels' AuthMiddlewareStack);
API clients, which have no cookie, pass the token they got from `POST /api/auth/token/` as
`?token=...`. A token in the query string wins over the session: a client that sends one means
to be that user, and a wrong token leaves the connection anonymous (it is then refused with
4401).

An integration's join token (a JWT, see `integrations.tokens`) is accepted as
`?access_token=...`, or as `?token=...` when it has a JWT's shape. It is verified for the
meeting in the path; on success the scope's `user` is the identity's shadow user and
`join_grant` the verified grant (whose grants every rtc request then honours, `rtc.policy.grants`);
on refusal the user is anonymous and `auth_refusal` says why (`code`, `reason`, `closeCode`),
which the consumer sends before closing.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

from channels.auth import AuthMiddleware
from channels.middleware import BaseMiddleware
from channels.sessions import CookieMiddleware, InstanceSessionWrapper, SessionMiddleware
from django.apps import apps
from django.contrib.auth.models import AnonymousUser

from conference.batching import ThreadBatches
from conference.db_threads import db_batches
from conference.errors import ErrorCode
from conference.outage import UNAVAILABLE, UNAVAILABLE_MESSAGE, is_database_outage
from rtc.websocket.envelope import CloseCode

logger = logging.getLogger(__name__)

__all__ = ["SessionAuthMiddleware", "SocketSessionMiddleware", "TokenAuthMiddleware",
           "auth_stack", "join_token_scope", "user_for_token"]

UNAVAILABLE_REFUSAL = {"code": UNAVAILABLE, "reason": UNAVAILABLE_MESSAGE,
                       "closeCode": int(CloseCode.UNAVAILABLE)}
"""The scope's ``auth_refusal`` when the user could not be looked up: the database is down."""


class SessionAuthMiddleware(AuthMiddleware):
    """Channels' session authentication, except that a database outage while looking the user
    up leaves the socket anonymous with ``auth_refusal`` ``unavailable`` (the consumer accepts
    it, says so and closes with 4502) instead of failing the handshake with no reason."""

    async def resolve_scope(self, scope: dict[str, Any]) -> None:
        """Look the session's user up; on an outage, anonymous with the refusal.

        A socket without a session cookie (API clients, bots: they pass ``?token=``) is
        anonymous here without a trip to the database thread: Channels' lookup would find no
        user in an empty session anyway, after queueing behind every other socket's database
        work (one trip per socket in a burst)."""
        if not scope["session"].session_key:
            scope["user"]._wrapped = AnonymousUser()
            return
        try:
            await super().resolve_scope(scope)
        except Exception as error:
            if not is_database_outage(error):
                raise
            logger.warning("websocket user lookup failed, database unavailable: %s", error)
            scope["user"]._wrapped = AnonymousUser()
            scope["auth_refusal"] = UNAVAILABLE_REFUSAL


class SocketSessionMiddleware(SessionMiddleware):
    """Channels' session middleware, without its wrapper around every message a WebSocket
    sends.

    Channels wraps ``send`` to save the session and set its cookie on an HTTP response's
    start (``save_message_types``); for every other message its wrapper still reads the lazy
    session twice (``modified``, ``is_empty()``) and adds a coroutine to the path of every
    frame (about 37 a peer in a call's set-up, 3 % of the event loop in a burst of 200 joins:
    bench/README.md, call set-up). A WebSocket never sends an HTTP response start, so its
    application gets the server's ``send`` itself; the session in the scope is the same.
    """

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        """Resolve the session into the scope; the wrapped ``send`` only for HTTP."""
        wrapper = InstanceSessionWrapper(scope, send)
        await wrapper.resolve_session()
        saves_on_websocket = any(kind.startswith("websocket")
                                 for kind in wrapper.save_message_types)
        if scope.get("type") == "websocket" and not saves_on_websocket:
            return await self.inner(wrapper.scope, receive, send)
        return await self.inner(wrapper.scope, receive, wrapper.send)


def auth_stack(inner: Any) -> Any:
    """Channels' ``AuthMiddlewareStack`` with :class:`SocketSessionMiddleware` and
    :class:`SessionAuthMiddleware`."""
    return CookieMiddleware(SocketSessionMiddleware(SessionAuthMiddleware(inner)))

MAX_TOKEN_LENGTH = 64


TOKEN_BATCH = 100
"""Most tokens looked up in one query."""


def _users_for_tokens(keys: list[str]) -> dict[str, Any]:
    """The active users owning the DRF tokens ``keys``, by key (one query)."""
    from rest_framework.authtoken.models import Token

    tokens = Token.objects.select_related("user").filter(key__in=keys)
    return {token.key: token.user for token in tokens if token.user.is_active}


def _lookup_tokens(keys: list[str]) -> list[Any]:
    """On the database thread, a batch of lookups (a key may come more than once): each
    one's user, or anonymous."""
    users = _users_for_tokens(list(dict.fromkeys(keys)))
    return [users.get(key) or AnonymousUser() for key in keys]


_token_lookups: ThreadBatches[str, Any] = db_batches(_lookup_tokens, max_size=TOKEN_BATCH)
"""Token lookups, made together when they arrive together: in a burst of sockets (200 users
opening their sockets in the same second) a few trips to the database thread instead of one
per socket, which would otherwise queue with the joins."""


async def user_for_token(key: str) -> Any:
    """The active user owning DRF token `key`, or AnonymousUser (looked up together with the
    other sockets' tokens of the moment: `conference.batching.Batches`)."""
    return await _token_lookups.submit(key)


async def join_token_scope(token: str, path: str) -> dict[str, Any]:
    """The scope entries for a join token presented on the socket at `path`."""
    if not apps.is_installed("integrations"):
        return {"user": AnonymousUser(), "join_grant": None,
                "auth_refusal": {"code": str(ErrorCode.TOKEN_UNSUPPORTED),
                                 "reason": "join tokens are off", "closeCode": 4401}}
    from integrations.identity import authenticate_websocket

    outcome = await authenticate_websocket(token, path)
    if outcome.refusal is not None:
        refusal = outcome.refusal
        return {"user": AnonymousUser(), "join_grant": None,
                "auth_refusal": {"code": str(refusal.code), "reason": refusal.message,
                                 "closeCode": refusal.close_code}}
    return {"user": outcome.user, "join_grant": outcome.grant, "auth_refusal": None}


def _looks_like_jwt(value: str) -> bool:
    parts = value.split(".")
    return len(parts) == 3 and all(parts[:2]) and len(value) > MAX_TOKEN_LENGTH


class TokenAuthMiddleware(BaseMiddleware):
    """Sets `scope["user"]` from a `token` (or join token) query parameter when present."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        jwts = query.get("access_token") or [k for k in query.get("token", [])[:1]
                                              if _looks_like_jwt(k)]
        keys = query.get("token")
        try:
            if jwts:
                extra = await join_token_scope(jwts[0], scope.get("path", ""))
                scope = dict(scope, **extra)
            elif keys:
                key = keys[0]
                if 0 < len(key) <= MAX_TOKEN_LENGTH:
                    user = await user_for_token(key)
                else:
                    user = AnonymousUser()
                if not user.is_authenticated:
                    logger.info("websocket token rejected path=%s", scope.get("path"))
                scope = dict(scope, user=user)
        except Exception as error:
            if not is_database_outage(error):
                raise
            logger.warning("websocket token lookup failed, database unavailable: %s", error)
            scope = dict(scope, user=AnonymousUser(), join_grant=None,
                         auth_refusal=UNAVAILABLE_REFUSAL)
        return await super().__call__(scope, receive, send)
