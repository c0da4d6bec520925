"""AudioLevelObserver: the loudest audio producers of a router, at an interval."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from FBS.AudioLevelObserver.AudioLevelObserverOptions import AudioLevelObserverOptionsT
from FBS.AudioLevelObserver.VolumesNotification import VolumesNotification
from FBS.Notification.Event import Event
from FBS.Notification.Notification import Notification
from FBS.Request.Body import Body as RequestBody
from FBS.Request.Method import Method
from FBS.Router.CreateAudioLevelObserverRequest import CreateAudioLevelObserverRequestT

from .channel import EVENT_NAMES, notification_body
from .errors import InvalidParameterError
from .fbs_utils import check_app_data, new_id
from .rtp_observer import RtpObserver

if TYPE_CHECKING:
    from .router import Router

__all__ = ["AudioLevelObserver", "create_audio_level_observer"]

logger = logging.getLogger(__name__)


async def create_audio_level_observer(router: Router, *, max_entries: int, threshold: int,
                                      interval: int,
                                      app_data: dict[str, Any] | None) -> AudioLevelObserver:
    """Create it in the worker (use ``Router.create_audio_level_observer``)."""
    if not isinstance(max_entries, int) or max_entries <= 0:
        raise InvalidParameterError("max_entries must be a positive integer")
    if not isinstance(threshold, int) or not -127 <= threshold <= 0:
        raise InvalidParameterError("threshold must be an integer from -127 to 0 (dBvo)")
    if not isinstance(interval, int) or interval <= 0:
        raise InvalidParameterError("interval must be a positive integer (ms)")
    check_app_data(app_data)
    observer_id = new_id()
    options = AudioLevelObserverOptionsT(maxEntries=max_entries, threshold=threshold,
                                         interval=interval)
    await router._create_request(
        Method.ROUTER_CREATE_AUDIOLEVELOBSERVER, RequestBody.Router_CreateAudioLevelObserverRequest,
        CreateAudioLevelObserverRequestT(rtpObserverId=observer_id, options=options))
    return AudioLevelObserver(router=router, rtp_observer_id=observer_id, app_data=app_data)


class AudioLevelObserver(RtpObserver):
    """Events: ``volumes`` (``[{"producer", "volume"}]``, loudest first), ``silence``."""

    def _on_notification(self, event: int, notification: Notification) -> None:
        if event == Event.AUDIOLEVELOBSERVER_VOLUMES:
            body = notification_body(notification, VolumesNotification)
            volumes = []
            for i in range(body.VolumesLength()):
                item = body.Volumes(i)
                producer = self._producer(item.ProducerId().decode())
                if producer is not None:
                    volumes.append({"producer": producer, "volume": item.Volume()})
            if volumes:
                self.emit("volumes", volumes)
                self.observer.emit("volumes", volumes)
        elif event == Event.AUDIOLEVELOBSERVER_SILENCE:
            self.emit("silence")
            self.observer.emit("silence")
        else:
            logger.error("ignoring unknown event %s [observer:%s]",
                         EVENT_NAMES.get(event, event), self.id)
