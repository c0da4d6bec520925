"""Django app config for integrations."""

from __future__ import annotations

from django.apps import AppConfig


class IntegrationsConfig(AppConfig):
    """Connects the webhook event receivers to the meetings and rtc signals."""

    name = "integrations"
    verbose_name = "Integrations"

    def ready(self) -> None:
        """Connect the signal receivers that turn meeting and call events into webhooks."""
        from integrations import (
            events,
            live_rooms,  # noqa: F401  (registers its cluster operations)
        )

        events.connect_receivers()
