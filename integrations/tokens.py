"""Join tokens: JWTs an integration's backend mints so its users can enter one meeting.

Format (HS256, signed with the integration's secret)::

    header  {"alg": "HS256", "typ": "JWT", "kid": "<api key>"}
    claims  {"iss": "<api key>", "aud": "conference.join", "sub": "<identity>",
             "name": "<display name>", "meeting": "<meeting uuid>", "iat": ..., "exp": ...,
             "jti": "<unique id>", "grants": {"publish": ["mic", "webcam", "screen"],
             "subscribe": true, "hidden": false, "host": false, "record": false,
             "chat": true, "whiteboard": true}}

`mint_join_token` makes one (it needs nothing but PyJWT); `verify_join_token` checks one for a
meeting and returns a :class:`JoinGrant` or raises :class:`JoinTokenError`, whose `code` says
exactly why (expired, forged, unknown key, revoked, wrong meeting, ended, malformed).
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from conference.errors import ApplicationError, ErrorCode
from rtc.policy.grants import PUBLISH_SOURCES, Grants

__all__ = [
    "AUDIENCE",
    "JoinGrant",
    "JoinTokenError",
    "looks_like_jwt",
    "mint_join_token",
    "verify_join_token",
]

AUDIENCE = "conference.join"
ALGORITHM = "HS256"
MAX_TOKEN_CHARS = 4096
MAX_SUBJECT = 128
MAX_NAME = 64
MAX_JTI = 64
API_KEY_PATTERN = re.compile(r"ak_[A-Za-z0-9_-]{8,37}")
JWT_PATTERN = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
CLAIM_KEYS = frozenset({"iss", "aud", "sub", "name", "meeting", "iat", "nbf", "exp", "jti",
                        "grants"})


_CLOSE_CODES = {
    ErrorCode.TOKEN_WRONG_MEETING: 4403,
    ErrorCode.MEETING_NOT_OWNED: 4403,
    ErrorCode.MEETING_ENDED: 4410,
}


class JoinTokenError(ApplicationError):
    """A join token that may not be used; `message` is safe to show to the client."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message, code=code)

    @property
    def close_code(self) -> int:
        """The WebSocket close code: 4401 (credentials), 4403 (meeting), 4410 (ended)."""
        return _CLOSE_CODES.get(self.code, 4401)

    def __repr__(self) -> str:
        return f"JoinTokenError({self.code.value!r}, {self.message!r})"


@dataclass(frozen=True, slots=True)
class JoinGrant:
    """A verified join token: who enters which meeting, with which grants."""

    integration_id: int
    """The Integration that signed it."""
    api_key: str
    """That integration's API key (the token's `kid`)."""
    meeting_id: uuid.UUID
    """The only meeting it opens."""
    identity: str
    """The integration's id for the person (`sub`)."""
    display_name: str
    """The name shown in the call (`name`, else the identity)."""
    grants: Grants
    """What the peer may do in the call."""
    jti: str
    """The token's unique id (revocable)."""
    expires_at: datetime
    """When the token stops opening the meeting (a connected peer stays)."""


def looks_like_jwt(value: str) -> bool:
    """Whether `value` has the shape of a compact JWS (three base64url parts)."""
    return len(value) <= MAX_TOKEN_CHARS and JWT_PATTERN.fullmatch(value) is not None


def mint_join_token(
    *,
    api_key: str,
    secret: str,
    meeting_id: uuid.UUID | str,
    identity: str,
    name: str | None = None,
    ttl: timedelta | int = 3600,
    publish: tuple[str, ...] | list[str] = PUBLISH_SOURCES,
    subscribe: bool = True,
    hidden: bool = False,
    host: bool = False,
    record: bool = False,
    chat: bool = True,
    whiteboard: bool = True,
    jti: str | None = None,
    now: datetime | None = None,
) -> str:
    """A join token for `identity` in meeting `meeting_id`, valid for `ttl` (seconds or delta).

    Integrators call this from their backend with their API key and secret.
    """
    issued = now or datetime.now(UTC)
    lifetime = ttl if isinstance(ttl, timedelta) else timedelta(seconds=int(ttl))
    grants = Grants.from_dict({"publish": list(publish), "subscribe": subscribe,
                               "hidden": hidden, "host": host, "record": record,
                               "chat": chat, "whiteboard": whiteboard})
    claims: dict[str, Any] = {
        "iss": api_key,
        "aud": AUDIENCE,
        "sub": identity,
        "meeting": str(meeting_id),
        "iat": int(issued.timestamp()),
        "exp": int((issued + lifetime).timestamp()),
        "jti": jti or secrets.token_urlsafe(16),
        "grants": grants.as_dict(),
    }
    if name is not None:
        claims["name"] = name
    return jwt.encode(claims, secret, algorithm=ALGORITHM, headers={"kid": api_key})


def _malformed(message: str) -> JoinTokenError:
    return JoinTokenError(ErrorCode.TOKEN_MALFORMED, message)


def _text(claims: dict[str, Any], key: str, max_length: int) -> str:
    value = claims.get(key)
    if not isinstance(value, str) or not 1 <= len(value) <= max_length:
        raise _malformed(f"claim {key} must be a string of 1-{max_length} characters")
    if any(not ch.isprintable() for ch in value):
        raise _malformed(f"claim {key} has control characters")
    return value


def _key_id(token: Any) -> str:
    if not isinstance(token, str) or not looks_like_jwt(token):
        raise _malformed("not a JWT")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise _malformed("unreadable JWT header") from None
    if header.get("alg") != ALGORITHM:
        raise _malformed(f"alg must be {ALGORITHM}")
    kid = header.get("kid")
    if not isinstance(kid, str) or not API_KEY_PATTERN.fullmatch(kid):
        raise _malformed("the kid header must be an API key")
    return kid


def _decode(token: str, secret: str, *, leeway: int) -> dict[str, Any]:
    try:
        return jwt.decode(
            token, secret, algorithms=[ALGORITHM], audience=AUDIENCE, leeway=leeway,
            options={"require": ["exp", "iat", "sub", "jti", "aud", "meeting", "grants"]},
        )
    except jwt.InvalidSignatureError:
        raise JoinTokenError(ErrorCode.TOKEN_BAD_SIGNATURE, "bad token signature") from None
    except jwt.ExpiredSignatureError:
        raise JoinTokenError(ErrorCode.TOKEN_EXPIRED, "the token has expired") from None
    except jwt.ImmatureSignatureError:
        raise JoinTokenError(ErrorCode.TOKEN_NOT_YET_VALID, "the token is not valid yet") from None
    except jwt.MissingRequiredClaimError as error:
        raise _malformed(f"missing claim {error.claim}") from None
    except jwt.InvalidAudienceError:
        raise _malformed(f"aud must be {AUDIENCE}") from None
    except jwt.PyJWTError:
        raise _malformed("invalid token claims") from None


def _check_claims(claims: dict[str, Any], *, kid: str, max_lifetime: int, leeway: int
                  ) -> Grants:
    unknown = set(claims) - CLAIM_KEYS
    if unknown:
        raise _malformed(f"unknown claims: {', '.join(sorted(unknown))[:80]}")
    if "iss" in claims and claims["iss"] != kid:
        raise _malformed("iss must be the API key of the kid header")
    _text(claims, "sub", MAX_SUBJECT)
    _text(claims, "jti", MAX_JTI)
    if "name" in claims:
        _text(claims, "name", MAX_NAME)
    if not isinstance(claims["iat"], int) or not isinstance(claims["exp"], int):
        raise _malformed("iat and exp must be integers")
    if claims["exp"] - claims["iat"] > max_lifetime + leeway:
        raise _malformed(f"the token lives longer than {max_lifetime} seconds")
    try:
        uuid.UUID(str(claims["meeting"]))
    except ValueError:
        raise _malformed("claim meeting must be a meeting id") from None
    try:
        return Grants.from_dict(claims["grants"])
    except ValueError as error:
        raise _malformed(str(error)) from None


def verify_join_token(token: str, meeting_id: uuid.UUID | str) -> JoinGrant:
    """The grant `token` gives for meeting `meeting_id`, or JoinTokenError saying why not.

    Checks, in order: shape and header, the key, the signature, expiry and lifetime, the
    claims, the integration and the token not revoked, the meeting named and owned by the
    integration, and not ended. Synchronous (database); async callers wrap it.
    """
    from integrations.config import integration_settings
    from integrations.crypto import SecretUnavailable
    from integrations.models import Integration, IntegrationMeeting, RevokedToken
    from meetings.models import Meeting

    config = integration_settings()
    kid = _key_id(token)
    integration = Integration.objects.filter(api_key=kid).first()
    if integration is None:
        raise JoinTokenError(ErrorCode.TOKEN_UNKNOWN_KEY, "unknown API key")
    try:
        secret = integration.secret
    except SecretUnavailable:
        raise JoinTokenError(ErrorCode.TOKEN_UNKNOWN_KEY,
                             "this API key cannot be used (secret unavailable)") from None
    claims = _decode(token, secret, leeway=config.token_leeway)
    grants = _check_claims(claims, kid=kid, max_lifetime=config.token_max_lifetime,
                           leeway=config.token_leeway)
    if not integration.is_active:
        raise JoinTokenError(ErrorCode.INTEGRATION_REVOKED, "the integration is revoked")
    if RevokedToken.objects.filter(integration=integration, jti=claims["jti"]).exists():
        raise JoinTokenError(ErrorCode.TOKEN_REVOKED, "the token was revoked")
    try:
        wanted = uuid.UUID(str(meeting_id))
    except ValueError:
        raise JoinTokenError(ErrorCode.TOKEN_WRONG_MEETING, "the token is for another meeting"
                             ) from None
    if uuid.UUID(str(claims["meeting"])) != wanted:
        raise JoinTokenError(ErrorCode.TOKEN_WRONG_MEETING, "the token is for another meeting")
    owned = IntegrationMeeting.objects.filter(meeting_id=wanted, integration=integration)
    meeting = Meeting.objects.filter(pk=wanted, pk__in=owned.values("meeting_id")).first()
    if meeting is None:
        raise JoinTokenError(ErrorCode.MEETING_NOT_OWNED,
                             "the meeting does not belong to this integration")
    if meeting.status == Meeting.Status.ENDED:
        raise JoinTokenError(ErrorCode.MEETING_ENDED, "the meeting has ended")
    return JoinGrant(
        integration_id=integration.pk,
        api_key=integration.api_key,
        meeting_id=wanted,
        identity=claims["sub"],
        display_name=claims.get("name") or claims["sub"],
        grants=grants,
        jti=claims["jti"],
        expires_at=datetime.fromtimestamp(claims["exp"], UTC),
    )
