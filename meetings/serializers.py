"""Serializers of the meetings API: validation in, representation out."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from meetings.models import MAX_CAPACITY, TITLE_MAX_LENGTH, Meeting, Participant


class MeetingSerializer(serializers.ModelSerializer):
    """A meeting. Only `title` is required to create one."""

    host = serializers.CharField(source="host.username", read_only=True)
    title = serializers.CharField(max_length=TITLE_MAX_LENGTH, trim_whitespace=True)
    capacity = serializers.IntegerField(min_value=1, max_value=MAX_CAPACITY, required=False)
    ws_path = serializers.SerializerMethodField(help_text="Path of the meeting's WebSocket.")

    class Meta:
        model = Meeting
        fields = [
            "id",
            "title",
            "host",
            "status",
            "access",
            "capacity",
            "scheduled_start",
            "scheduled_end",
            "started_at",
            "ended_at",
            "created_at",
            "updated_at",
            "ws_path",
        ]
        read_only_fields = [
            "id",
            "host",
            "status",
            "started_at",
            "ended_at",
            "created_at",
            "updated_at",
        ]

    def get_ws_path(self, obj: Meeting) -> str:
        """The WebSocket path clients connect to for this meeting."""
        return f"/ws/meetings/{obj.id}/"

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """The scheduled end must come after the start (also across partial updates)."""
        start = attrs.get("scheduled_start", getattr(self.instance, "scheduled_start", None))
        end = attrs.get("scheduled_end", getattr(self.instance, "scheduled_end", None))
        if start and end and end <= start:
            raise serializers.ValidationError(
                {"scheduled_end": "The scheduled end must be after the start."}
            )
        return attrs


class ParticipantSerializer(serializers.ModelSerializer):
    """A participant with role, invitation and attendance (latest join and leave)."""

    username = serializers.CharField(source="user.username", read_only=True)
    user_id = serializers.IntegerField(read_only=True)
    present = serializers.BooleanField(source="is_present", read_only=True)

    class Meta:
        model = Participant
        fields = ["user_id", "username", "role", "invited_at", "joined_at", "left_at", "present"]
        read_only_fields = fields


class ParticipantInviteSerializer(serializers.Serializer):
    """Who to invite."""

    username = serializers.CharField(max_length=150)
