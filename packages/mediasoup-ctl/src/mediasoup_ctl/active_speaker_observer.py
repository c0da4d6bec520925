"""ActiveSpeakerObserver: the dominant speaker among a router's audio producers."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from FBS.ActiveSpeakerObserver.ActiveSpeakerObserverOptions import (
    ActiveSpeakerObserverOptionsT,
)
from FBS.ActiveSpeakerObserver.DominantSpeakerNotification import DominantSpeakerNotification
from FBS.Notification.Event import Event
from FBS.Notification.Notification import Notification
from FBS.Request.Body import Body as RequestBody
from FBS.Request.Method import Method
from FBS.Router.CreateActiveSpeakerObserverRequest import CreateActiveSpeakerObserverRequestT

from .channel import EVENT_NAMES, notification_body
from .errors import InvalidParameterError
from .fbs_utils import check_app_data, new_id
from .rtp_observer import RtpObserver

if TYPE_CHECKING:
    from .router import Router

__all__ = ["ActiveSpeakerObserver", "create_active_speaker_observer"]

logger = logging.getLogger(__name__)


async def create_active_speaker_observer(
    router: Router, *, interval: int, app_data: dict[str, Any] | None
) -> ActiveSpeakerObserver:
    """Create it in the worker (use ``Router.create_active_speaker_observer``)."""
    if not isinstance(interval, int) or not 0 < interval < 65536:
        raise InvalidParameterError("interval must be a positive integer (ms)")
    check_app_data(app_data)
    observer_id = new_id()
    await router._create_request(
        Method.ROUTER_CREATE_ACTIVESPEAKEROBSERVER,
        RequestBody.Router_CreateActiveSpeakerObserverRequest,
        CreateActiveSpeakerObserverRequestT(
            rtpObserverId=observer_id, options=ActiveSpeakerObserverOptionsT(interval=interval)))
    return ActiveSpeakerObserver(router=router, rtp_observer_id=observer_id, app_data=app_data)


class ActiveSpeakerObserver(RtpObserver):
    """Event: ``dominantspeaker`` (``{"producer": Producer}``)."""

    def _on_notification(self, event: int, notification: Notification) -> None:
        if event != Event.ACTIVESPEAKEROBSERVER_DOMINANT_SPEAKER:
            logger.error("ignoring unknown event %s [observer:%s]",
                         EVENT_NAMES.get(event, event), self.id)
            return
        body = notification_body(notification, DominantSpeakerNotification)
        producer = self._producer(body.ProducerId().decode())
        if producer is None:
            return
        speaker = {"producer": producer}
        self.emit("dominantspeaker", speaker)
        self.observer.emit("dominantspeaker", speaker)
