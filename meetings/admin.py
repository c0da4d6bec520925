"""Admin for meetings and participants.

Admin edits write the models directly (no service, no broadcast): connected clients only see
such changes when they reconnect.
"""

from django.contrib import admin

from meetings.models import Meeting, Participant


class ParticipantInline(admin.TabularInline):
    """Participants edited on their meeting's page."""

    model = Participant
    extra = 0
    raw_id_fields = ["user"]
    fields = ["user", "role", "invited_at", "joined_at", "left_at"]


@admin.register(Meeting)
class MeetingAdmin(admin.ModelAdmin):
    """Meetings, searchable by title, id and host."""

    list_display = [
        "title",
        "host",
        "status",
        "access",
        "capacity",
        "scheduled_start",
        "created_at",
    ]
    list_filter = ["status", "access", "created_at"]
    search_fields = ["title", "id", "host__username", "host__email"]
    raw_id_fields = ["host"]
    readonly_fields = ["id", "started_at", "ended_at", "created_at", "updated_at"]
    date_hierarchy = "created_at"
    inlines = [ParticipantInline]


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    """Participants across meetings, for attendance questions."""

    list_display = ["user", "meeting", "role", "invited_at", "joined_at", "left_at"]
    list_filter = ["role", "joined_at"]
    search_fields = ["user__username", "meeting__title", "meeting__id"]
    raw_id_fields = ["user", "meeting"]
    list_select_related = ["user", "meeting"]
