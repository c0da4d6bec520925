"""Signals of the collaboration features, for other apps (integrations' webhooks).

Sent inside the transaction that stores the change, like `meetings.signals`: a receiver that
writes (an outbox row) commits or rolls back with it.
"""

from __future__ import annotations

from django.dispatch import Signal

__all__ = ["chat_message_sent"]

chat_message_sent = Signal()
"""A chat message was stored; keyword argument ``message`` (a `collab.models.ChatMessage`)."""
