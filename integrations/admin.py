"""Admin: integrations (secret shown once), their meetings and identities, webhook deliveries.

A new integration's key and secret are generated on save; the secret is shown once in a
message and stored only encrypted. "Rotate secret" does the same for an existing one.
Deliveries are read-only, with a "retry now" action that makes them due at once.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db import models, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from integrations import services
from integrations.delivery import retry_now
from integrations.dispatcher import dispatcher
from integrations.models import (
    ExternalIdentity,
    Integration,
    IntegrationMeeting,
    RevokedToken,
    WebhookDelivery,
)


def _show_secret(request: HttpRequest, integration: Integration, secret: str) -> None:
    messages.warning(
        request,
        format_html(
            "API key <code>{}</code>, secret <code>{}</code>. Copy the secret now: it is "
            "stored encrypted and will not be shown again.",
            integration.api_key, secret,
        ),
    )


class IntegrationMeetingInline(admin.TabularInline):
    """The meetings the integration owns."""

    model = IntegrationMeeting
    extra = 0
    raw_id_fields = ["meeting"]
    readonly_fields = ["created_at"]


@admin.register(Integration)
class IntegrationAdmin(admin.ModelAdmin):
    """Integrations; adding one generates its key and shows its secret once."""

    list_display = ["name", "api_key", "owner", "is_active", "webhook_url", "created_at"]
    list_filter = ["is_active", "created_at"]
    search_fields = ["name", "api_key", "owner__username"]
    raw_id_fields = ["owner"]
    readonly_fields = ["api_key", "revoked_at", "created_at", "updated_at"]
    fields = ["name", "owner", "webhook_url", "webhook_chat_messages", "is_active", "api_key",
              "revoked_at", "created_at", "updated_at"]
    inlines = [IntegrationMeetingInline]
    actions = ["rotate_secret", "revoke"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def save_model(self, request: HttpRequest, obj: Integration, form: Any, change: bool) -> None:
        """New: generate key and secret (shown once). Existing: a plain save."""
        if change:
            if not obj.is_active and obj.revoked_at is None:
                services.integration_revoke(integration=obj)
            elif obj.is_active:
                obj.revoked_at = None
            super().save_model(request, obj, form, change)
            return
        secret = services.new_secret()
        obj.api_key = services.new_api_key()
        obj.set_secret(secret)
        super().save_model(request, obj, form, change)
        _show_secret(request, obj, secret)

    @admin.action(description="Rotate the secret (shows the new one once)")
    def rotate_secret(self, request: HttpRequest, queryset: QuerySet[Integration]) -> None:
        """New secrets; tokens and signatures made with the old ones stop working."""
        with transaction.atomic():
            for integration in queryset:
                _show_secret(request, integration,
                             services.integration_rotate_secret(integration=integration))

    @admin.action(description="Revoke (refuse its tokens, API calls and webhooks)")
    def revoke(self, request: HttpRequest, queryset: QuerySet[Integration]) -> None:
        """Turn the integrations off."""
        for integration in queryset:
            services.integration_revoke(integration=integration)
        messages.success(request, f"Revoked {queryset.count()} integration(s).")


@admin.register(ExternalIdentity)
class ExternalIdentityAdmin(admin.ModelAdmin):
    """The integrations' users and their shadow accounts."""

    list_display = ["subject", "display_name", "integration", "user", "last_seen_at"]
    search_fields = ["subject", "display_name", "user__username", "integration__name"]
    list_filter = ["integration"]
    raw_id_fields = ["user", "integration"]
    readonly_fields = ["created_at", "last_seen_at"]


@admin.register(RevokedToken)
class RevokedTokenAdmin(admin.ModelAdmin):
    """Join token ids refused until they expire."""

    list_display = ["jti", "integration", "expires_at", "created_at"]
    search_fields = ["jti", "integration__name", "integration__api_key"]
    raw_id_fields = ["integration"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    """Every webhook event and how its delivery went."""

    list_display = ["event_type", "integration", "status", "attempts", "response_code",
                    "next_attempt_at", "created_at"]
    list_filter = ["status", "event_type", "integration"]
    search_fields = ["event_id", "meeting_id", "last_error"]
    date_hierarchy = "created_at"
    readonly_fields = ["event_id", "integration", "event_type", "meeting_id", "payload",
                       "status", "attempts", "next_attempt_at", "last_attempt_at",
                       "last_error", "response_code", "created_at", "delivered_at"]
    actions = ["retry"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Events come from meetings, not from the admin."""
        return False

    @admin.action(description="Retry now")
    def retry(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]) -> None:
        """Make the deliveries due now (a failed one gets one more attempt) and wake the
        dispatcher."""
        count = retry_now(queryset)
        transaction.on_commit(dispatcher.wake)
        messages.success(request, f"{count} deliver{'y' if count == 1 else 'ies'} due now.")
