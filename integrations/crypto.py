"""Encryption of integration secrets at rest (Fernet, from `cryptography`).

The secret itself is needed later (join tokens are HS256-signed with it, webhooks are
HMAC-signed with it), so it is encrypted rather than hashed. The key is
`settings.INTEGRATIONS_ENCRYPTION_KEY` (Fernet keys, comma-separated: the first encrypts, every
one decrypts, which allows rotation) or, when that is empty, a key derived from SECRET_KEY.
"""

from __future__ import annotations

import base64
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.crypto import salted_hmac

__all__ = ["SecretUnavailable", "decrypt_secret", "encrypt_secret"]

_DERIVATION_SALT = "conference.integrations.crypto"


class SecretUnavailable(Exception):
    """A stored secret cannot be decrypted with the configured key(s) (the key changed)."""


@functools.lru_cache(maxsize=8)
def _fernet(configured: str, secret_key: str) -> MultiFernet:
    if configured.strip():
        try:
            keys = [Fernet(k.strip()) for k in configured.split(",") if k.strip()]
        except ValueError as error:
            raise ImproperlyConfigured(
                "INTEGRATIONS_ENCRYPTION_KEY must be Fernet keys (Fernet.generate_key())"
            ) from error
        return MultiFernet(keys)
    digest = salted_hmac(_DERIVATION_SALT, "fernet-key", secret=secret_key,
                         algorithm="sha256").digest()
    return MultiFernet([Fernet(base64.urlsafe_b64encode(digest))])


def _current() -> MultiFernet:
    return _fernet(getattr(settings, "INTEGRATIONS_ENCRYPTION_KEY", "") or "", settings.SECRET_KEY)


def encrypt_secret(secret: str) -> str:
    """The Fernet token of `secret` (ASCII, safe to store in a text column)."""
    return _current().encrypt(secret.encode()).decode("ascii")


def decrypt_secret(token: str) -> str:
    """The secret stored as `token`; SecretUnavailable when no configured key opens it."""
    try:
        return _current().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, ValueError, UnicodeError):
        raise SecretUnavailable("the stored secret cannot be decrypted") from None
