"""Django app config of the in-call collaboration features."""

from __future__ import annotations

from django.apps import AppConfig


class CollabConfig(AppConfig):
    """Chat, hands, reactions, whiteboard and lobby (their handlers load via ``signaling``)."""

    name = "collab"
    verbose_name = "In-call collaboration"
    default_auto_field = "django.db.models.BigAutoField"
