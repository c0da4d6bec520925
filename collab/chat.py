"""Chat: store a message, delete one (host), and read the messages a person may see.

Synchronous services and selectors in the style of `meetings.services`/`selectors` (keyword
arguments, one transaction, `ApplicationError` on a broken rule); the socket handlers in
`collab.signaling` call them on the database thread and broadcast the result after the commit.
A private message is visible to its author and its recipient only, everywhere: the live
event, ``chat:history``, the meeting page's transcript and the API.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from collab import signals
from collab.access import require_host
from collab.models import ChatMessage
from conference.errors import ApplicationError, ErrorCode
from meetings import selectors as meeting_selectors
from meetings.models import Meeting, Participant

__all__ = [
    "chat_history",
    "chat_message_delete",
    "chat_message_send",
    "message_payload",
    "messages_visible_to",
    "user_may_read_chat",
]

logger = logging.getLogger(__name__)

UserLike = AbstractBaseUser | AnonymousUser


def message_payload(message: ChatMessage, *, peer_id: str | None = None,
                    to_peer_id: str | None = None) -> dict[str, Any]:
    """The message as clients see it (``chat:message``, ``chat:history``, the API)."""
    payload: dict[str, Any] = {
        "id": message.pk,
        "text": message.text,
        "displayName": message.display_name,
        "userId": message.author_id,
        "sentAt": message.sent_at.isoformat(),
        "private": message.is_private,
        "peerId": peer_id,
    }
    if message.is_private:
        payload["to"] = {"userId": message.recipient_id, "displayName": message.recipient_name,
                         "peerId": to_peer_id}
    return payload


def messages_visible_to(*, meeting_id: Any, user: UserLike) -> QuerySet[ChatMessage]:
    """The meeting's messages ``user`` may read: to everyone, or private from or to them;
    deleted ones left out; oldest first."""
    if not user.is_authenticated:
        return ChatMessage.objects.none()
    return ChatMessage.objects.filter(
        Q(recipient__isnull=True) | Q(author=user) | Q(recipient=user),
        meeting_id=meeting_id, deleted_at__isnull=True,
    ).order_by("sent_at", "id")


def chat_history(*, meeting_id: Any, user: UserLike, limit: int) -> list[dict[str, Any]]:
    """The last ``limit`` messages ``user`` may read, oldest first, as payloads."""
    newest = list(messages_visible_to(meeting_id=meeting_id, user=user)
                  .order_by("-sent_at", "-id")[:limit])
    return [message_payload(message) for message in reversed(newest)]


def user_may_read_chat(*, meeting: Meeting, user: UserLike) -> bool:
    """Whether ``user`` may read the meeting's transcript: its host and its participants
    (a removed participant has no row any more, so no transcript either)."""
    if not user.is_authenticated:
        return False
    return (meeting_selectors.user_is_host(meeting=meeting, user=user)
            or Participant.objects.filter(meeting=meeting, user=user).exists())


@transaction.atomic
def chat_message_send(*, meeting_id: Any, author: AbstractBaseUser, display_name: str,
                      text: str, recipient_id: Any = None,
                      recipient_name: str = "") -> ChatMessage:
    """Store a message (the text exactly as given) and tell the webhook receivers."""
    meeting = Meeting.objects.filter(pk=meeting_id).only("id", "status").first()
    if meeting is None:
        raise ApplicationError("Meeting not found.", code=ErrorCode.NOT_FOUND)
    if meeting.status == Meeting.Status.ENDED:
        raise ApplicationError("The meeting has ended.", code=ErrorCode.GONE)
    if not text.strip():
        raise ApplicationError("A message must not be empty.")
    message = ChatMessage.objects.create(
        meeting_id=meeting.pk, author=author, display_name=display_name[:64], text=text,
        recipient_id=recipient_id,
        recipient_name=recipient_name[:64] if recipient_id is not None else "")
    logger.info("meeting=%s user=%s chat message=%s private=%s", meeting.pk, author.pk,
                message.pk, message.is_private)
    signals.chat_message_sent.send(sender=ChatMessage, message=message)
    return message


@transaction.atomic
def chat_message_delete(*, meeting_id: Any, message_id: int, actor: AbstractBaseUser,
                        host_by_grant: bool | None = None) -> ChatMessage:
    """The host deletes a message for everyone: its text is dropped, its row kept (who
    deleted it, when). ``host_by_grant``: a join token's host grant (`collab.access`)."""
    meeting = Meeting.objects.filter(pk=meeting_id).first()
    message = (ChatMessage.objects.select_for_update()
               .filter(pk=message_id, meeting_id=meeting_id).first())
    if meeting is None or message is None or message.deleted_at is not None:
        raise ApplicationError("No such message.", code=ErrorCode.NOT_FOUND)
    require_host(meeting=meeting, user=actor, host_by_grant=host_by_grant,
                 action="delete messages")
    message.text = ""
    message.deleted_at = timezone.now()
    message.deleted_by = actor
    message.save(update_fields=["text", "deleted_at", "deleted_by"])
    logger.info("meeting=%s user=%s deleted chat message=%s", meeting_id, actor.pk, message.pk)
    return message
