"""Admin: recordings with their meeting, status, size and duration; filters by status, node
and date; deleting one also deletes its files."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.defaultfilters import filesizeformat

from recordings import services
from recordings.models import Recording


@admin.register(Recording)
class RecordingAdmin(admin.ModelAdmin):
    """The list of recordings."""

    list_display = ["id", "meeting", "status", "started_at", "duration_text", "size_text",
                    "started_by", "node"]
    list_filter = ["status", "node", "started_at"]
    search_fields = ["meeting__title", "id", "failure_reason"]
    date_hierarchy = "started_at"
    list_select_related = ["meeting", "started_by"]
    readonly_fields = ["id", "meeting", "started_by", "status", "failure_reason", "stop_reason",
                       "started_at", "ended_at", "duration", "size", "file", "work_dir", "node",
                       "details", "created_at", "updated_at"]
    actions = ["delete_with_files"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Recordings are made by calls, not by hand."""
        return False

    @admin.display(description="Duration", ordering="duration")
    def duration_text(self, recording: Recording) -> str:
        """Minutes and seconds."""
        if recording.duration is None:
            return "—"
        minutes, seconds = divmod(int(round(recording.duration)), 60)
        return f"{minutes}:{seconds:02d}"

    @admin.display(description="Size", ordering="size")
    def size_text(self, recording: Recording) -> str:
        """Human-readable bytes."""
        return filesizeformat(recording.size) if recording.size is not None else "—"

    def delete_model(self, request: HttpRequest, obj: Recording) -> None:
        """Delete through the service (files too)."""
        services.recording_delete(recording=obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Recording]) -> None:
        """Delete each through the service (files too)."""
        for recording in queryset:
            services.recording_delete(recording=recording)

    @admin.action(description="Delete the selected recordings and their files")
    def delete_with_files(self, request: HttpRequest, queryset: QuerySet[Recording]) -> Any:
        """Like delete, for recordings that are not running."""
        count = 0
        for recording in queryset.exclude(status=Recording.Status.RECORDING):
            services.recording_delete(recording=recording)
            count += 1
        self.message_user(request, f"Deleted {count} recordings.")
