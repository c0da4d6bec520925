"""The chat transcript over the REST API: ``GET /api/meetings/<id>/messages/``.

Participants (and the host) read the messages they may see, oldest first, paginated like the
rest of the API; anyone else, a removed participant included, gets 404 as for a meeting that
does not exist, so ids cannot be probed.
"""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers

from collab import chat
from collab.models import ChatMessage
from conference.errors import ApplicationError, ErrorCode
from meetings.models import Meeting

__all__ = ["ChatMessageSerializer", "MeetingMessagesView"]


class RecipientSerializer(serializers.Serializer):
    """The addressee of a private message."""

    user_id = serializers.IntegerField()
    display_name = serializers.CharField()


class ChatMessageSerializer(serializers.ModelSerializer):
    """A chat message; ``text`` exactly as sent (escape it where you show it)."""

    user_id = serializers.IntegerField(source="author_id")
    private = serializers.BooleanField(source="is_private")
    recipient = serializers.SerializerMethodField()

    class Meta:
        model = ChatMessage
        fields = ["id", "text", "display_name", "user_id", "sent_at", "private", "recipient"]

    def get_recipient(self, message: ChatMessage) -> dict[str, Any] | None:
        """``{"user_id", "display_name"}`` of a private message's addressee, else null."""
        if not message.is_private:
            return None
        return {"user_id": message.recipient_id, "display_name": message.recipient_name}


class MeetingMessagesView(generics.ListAPIView):
    """The chat messages of a meeting the caller may read (participants only), oldest first."""

    serializer_class = ChatMessageSerializer

    def get_queryset(self) -> Any:
        """The visible messages, or 404 for anyone who is not a participant."""
        meeting_id = self.kwargs["meeting_id"]
        meeting = Meeting.objects.filter(pk=meeting_id).select_related("host").first()
        if meeting is None or not chat.user_may_read_chat(meeting=meeting,
                                                          user=self.request.user):
            raise ApplicationError("Meeting not found.", code=ErrorCode.NOT_FOUND)
        return chat.messages_visible_to(meeting_id=meeting.pk, user=self.request.user)

    @extend_schema(operation_id="meetings_messages_list")
    def get(self, request: Any, meeting_id: uuid.UUID) -> Any:
        """List the messages (paginated: ``limit``, ``offset``)."""
        return super().get(request, meeting_id=meeting_id)
