"""Serializers of the integrations API (snake_case, like the meetings API)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from integrations.models import MAX_JTI_LENGTH
from integrations.tokens import MAX_NAME, MAX_SUBJECT
from meetings.models import MAX_CAPACITY, TITLE_MAX_LENGTH, Meeting
from rtc.policy.grants import PUBLISH_SOURCES


class GrantsSerializer(serializers.Serializer):
    """What a peer may do in a call."""

    publish = serializers.ListField(child=serializers.ChoiceField(choices=PUBLISH_SOURCES),
                                    max_length=len(PUBLISH_SOURCES),
                                    default=list(PUBLISH_SOURCES),
                                    help_text="Sources it may send: mic, webcam, screen.")
    subscribe = serializers.BooleanField(default=True,
                                         help_text="May receive the others' tracks.")
    hidden = serializers.BooleanField(default=False,
                                      help_text="Invisible to the others; cannot publish.")
    host = serializers.BooleanField(default=False,
                                    help_text="May mute others and remove peers.")
    record = serializers.BooleanField(default=False,
                                      help_text="May start and stop the call's recording.")
    chat = serializers.BooleanField(default=True,
                                    help_text="May chat, raise a hand and send reactions.")
    whiteboard = serializers.BooleanField(default=True,
                                          help_text="May draw on the shared whiteboard.")


class GrantsChangeSerializer(GrantsSerializer):
    """A partial change of a connected peer's grants (`hidden` cannot change)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("partial", True)
        super().__init__(*args, **kwargs)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        """At least one grant named; publish without duplicates."""
        if not attrs:
            raise serializers.ValidationError("Name at least one grant to change.")
        if "publish" in attrs:
            attrs["publish"] = list(dict.fromkeys(attrs["publish"]))
        return attrs


class IntegrationMeetingSerializer(serializers.ModelSerializer):
    """A meeting owned by the integration."""

    title = serializers.CharField(max_length=TITLE_MAX_LENGTH, trim_whitespace=True)
    capacity = serializers.IntegerField(min_value=1, max_value=MAX_CAPACITY, required=False)
    ws_path = serializers.SerializerMethodField(help_text="Path of the meeting's WebSocket.")

    class Meta:
        model = Meeting
        fields = ["id", "title", "status", "capacity", "scheduled_start", "scheduled_end",
                  "started_at", "ended_at", "created_at", "ws_path"]
        read_only_fields = ["id", "status", "started_at", "ended_at", "created_at", "ws_path"]

    def get_ws_path(self, meeting: Meeting) -> str:
        """Where clients connect, with `?access_token=<join token>`."""
        return f"/ws/meetings/{meeting.id}/"


class TrackSerializer(serializers.Serializer):
    """A track (producer) of a live call."""

    id = serializers.CharField()
    kind = serializers.CharField()
    source = serializers.CharField()
    paused = serializers.BooleanField()


class LivePeerSerializer(serializers.Serializer):
    """A peer of a live call."""

    peer_id = serializers.CharField()
    user_id = serializers.IntegerField()
    identity = serializers.CharField(help_text="The token's `sub`, or the username.")
    display_name = serializers.CharField()
    role = serializers.CharField()
    hidden = serializers.BooleanField()
    connected = serializers.BooleanField()
    grants = GrantsSerializer()
    tracks = TrackSerializer(many=True)


class LiveMeetingSerializer(serializers.Serializer):
    """A meeting with a live call (on any node of the cluster)."""

    meeting_id = serializers.UUIDField()
    title = serializers.CharField()
    node = serializers.CharField(allow_blank=True,
                                 help_text="The cluster node running the call (empty when the "
                                           "server is not a cluster).")
    peers = LivePeerSerializer(many=True)


class GrantsChangedSerializer(LivePeerSerializer):
    """A peer after a grants change, and what the change closed."""

    closed_producers = serializers.ListField(child=serializers.CharField())
    closed_consumers = serializers.ListField(child=serializers.CharField())


class TokenRequestSerializer(serializers.Serializer):
    """A join token to mint for one person and one meeting."""

    meeting_id = serializers.UUIDField()
    identity = serializers.CharField(max_length=MAX_SUBJECT)
    name = serializers.CharField(max_length=MAX_NAME, required=False)
    ttl = serializers.IntegerField(min_value=1, required=False, default=3600,
                                   help_text="Seconds the token opens the meeting.")
    grants = GrantsSerializer(required=False)


class TokenSerializer(serializers.Serializer):
    """A minted join token."""

    token = serializers.CharField()
    jti = serializers.CharField()
    expires_at = serializers.DateTimeField()
    ws_path = serializers.CharField()


class TokenRevokeSerializer(serializers.Serializer):
    """A join token id to refuse from now on."""

    jti = serializers.CharField(max_length=MAX_JTI_LENGTH)
    expires_at = serializers.DateTimeField(required=False, allow_null=True)
