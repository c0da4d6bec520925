"""Integrations, the meetings they own, their external identities, revoked tokens, webhooks.

An Integration is a product embedding calls: its API key (public, the JWT ``kid``) and secret
(encrypted at rest, see :mod:`integrations.crypto`) sign join tokens and webhooks. The meetings
app is left untouched: the link from a meeting to its integration, and from an integration's
user identity to the shadow Django user that represents it in `Participant` rows, are tables
of this app.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from integrations.crypto import decrypt_secret, encrypt_secret
from integrations.validators import MAX_WEBHOOK_URL_LENGTH, validate_webhook_url

__all__ = [
    "ExternalIdentity",
    "Integration",
    "IntegrationMeeting",
    "RevokedToken",
    "WebhookDelivery",
    "WebhookStatus",
]

API_KEY_PREFIX = "ak_"
SECRET_PREFIX = "sk_"
MAX_SUBJECT_LENGTH = 128
MAX_JTI_LENGTH = 64


class Integration(models.Model):
    """A product allowed to mint join tokens, drive live calls and receive webhooks."""

    name = models.CharField(max_length=100)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="integrations",
        help_text="Hosts the meetings the integration creates.",
    )
    api_key = models.CharField(max_length=40, unique=True, editable=False,
                               help_text="Public key id: the `kid` of join tokens.")
    secret_encrypted = models.TextField(editable=False)
    is_active = models.BooleanField(
        default=True, help_text="Off: its tokens, API calls and webhooks are refused.")
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    webhook_url = models.URLField(
        max_length=MAX_WEBHOOK_URL_LENGTH, blank=True, validators=[validate_webhook_url],
        help_text="HTTPS endpoint receiving signed events (blank: no webhooks).",
    )
    webhook_chat_messages = models.BooleanField(
        default=False,
        help_text="Also send chat.message events (every chat message of its meetings).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(api_key__startswith=API_KEY_PREFIX),
                                   name="integration_api_key_prefix"),
            models.CheckConstraint(condition=~Q(name=""), name="integration_name_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.api_key})"

    @property
    def secret(self) -> str:
        """The plain secret (raises crypto.SecretUnavailable if the key changed)."""
        return decrypt_secret(self.secret_encrypted)

    def set_secret(self, secret: str) -> None:
        """Store `secret` encrypted (the caller saves)."""
        self.secret_encrypted = encrypt_secret(secret)


class IntegrationMeeting(models.Model):
    """A meeting owned by an integration: its tokens may join it, its API may drive it."""

    meeting = models.OneToOneField("meetings.Meeting", on_delete=models.CASCADE,
                                   related_name="integration_link")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE,
                                    related_name="meeting_links")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.meeting_id} of {self.integration_id}"


class ExternalIdentity(models.Model):
    """An integration's user (the token's `sub`) and the shadow Django user standing for it.

    The shadow user has an unusable password (it can only enter through a join token) and a
    username ``ext.<api key>.<subject>`` (hashed when the subject does not fit a username), so
    `Participant` rows, attendance and host removal keep working unchanged.
    """

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE,
                                    related_name="identities")
    subject = models.CharField(max_length=MAX_SUBJECT_LENGTH)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="external_identity")
    display_name = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "external identities"
        constraints = [
            models.UniqueConstraint(fields=["integration", "subject"],
                                    name="external_identity_unique_subject"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} of {self.integration_id}"


class RevokedToken(models.Model):
    """A join token id (`jti`) refused from now on, until its own expiry."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE,
                                    related_name="revoked_tokens")
    jti = models.CharField(max_length=MAX_JTI_LENGTH)
    expires_at = models.DateTimeField(
        null=True, blank=True, help_text="After this the row can go (the token expired).")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["integration", "jti"], name="revoked_token_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.jti} of {self.integration_id}"


class WebhookStatus(models.TextChoices):
    """Pending until a 2xx answer (delivered) or the last attempt failed (failed)."""

    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"


class WebhookDelivery(models.Model):
    """One event for one integration's endpoint, with its delivery attempts.

    Written in the same transaction as the change it reports (an outbox), so an event exists
    exactly when its change was committed; delivered afterwards, retried with backoff.
    """

    Status = WebhookStatus

    event_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False,
                                help_text="The `Webhook-Id` header and the body's `id`.")
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE,
                                    related_name="webhook_deliveries")
    event_type = models.CharField(max_length=40)
    meeting_id = models.UUIDField(null=True, blank=True, db_index=True)
    payload = models.JSONField(help_text="The event as sent: {id, type, created, data}.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    response_code = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "webhook deliveries"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhook_due_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=[choice.value for choice in WebhookStatus]),
                name="webhook_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} ({self.status})"
