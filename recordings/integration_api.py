"""The recordings API for integrations (``/api/integrations/meetings/<id>/recordings/``): the
same views, authenticated by the integration's key (or staff), on its own meetings only; a
meeting of another integration answers 404."""

from __future__ import annotations

import uuid
from typing import Any

from integrations.api import IntegrationAPIView
from integrations.permissions import caller_integration
from meetings.models import Meeting
from recordings import api

__all__ = ["IntegrationRecordingDetailView", "IntegrationRecordingFileView",
           "IntegrationRecordingListView", "IntegrationRecordingStopView"]


class _IntegrationRecordings(IntegrationAPIView):
    file_route = "integration-recording-file"

    def meeting(self, meeting_id: uuid.UUID, *, host: bool = False) -> Meeting:  # type: ignore[override]
        """The integration's meeting (it acts as the host of its meetings)."""
        return super().meeting(meeting_id)

    def actor(self) -> tuple[Any, str]:
        """An integration acts as its meeting's host account; a staff user as itself."""
        integration = caller_integration(self.request)
        if integration is not None:
            return integration.owner_id, integration.name[:64]
        return self.request.user.pk, api.display_name_of(self.request.user)


class IntegrationRecordingListView(_IntegrationRecordings, api.RecordingListView):
    """List or start recordings of the integration's meeting."""


class IntegrationRecordingDetailView(_IntegrationRecordings, api.RecordingDetailView):
    """Read or delete one recording."""


class IntegrationRecordingStopView(_IntegrationRecordings, api.RecordingStopView):
    """Stop a running recording."""


class IntegrationRecordingFileView(_IntegrationRecordings, api.RecordingFileView):
    """Download the composed file (with ranges)."""
