"""RtpObserver: the part AudioLevelObserver and ActiveSpeakerObserver share."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from FBS.Notification.Notification import Notification
from FBS.Request.Body import Body as RequestBody
from FBS.Request.Method import Method
from FBS.RtpObserver.AddProducerRequest import AddProducerRequestT
from FBS.RtpObserver.RemoveProducerRequest import RemoveProducerRequestT

from .errors import InvalidStateError, UnsupportedError
from .events import EventEmitter

if TYPE_CHECKING:
    from .producer import Producer
    from .router import Router

__all__ = ["RtpObserver"]

logger = logging.getLogger(__name__)


class RtpObserver(EventEmitter):
    """Watches audio producers of a router. Events: ``routerclose``.

    Observer events: ``close``, ``pause``, ``resume``, ``addproducer``, ``removeproducer``.
    """

    def __init__(self, *, router: Router, rtp_observer_id: str,
                 app_data: dict[str, Any] | None) -> None:
        super().__init__()
        self.id = rtp_observer_id
        self.closed = False
        self.paused = False
        self.app_data: dict[str, Any] = app_data if app_data is not None else {}
        self.observer = EventEmitter()
        self._router = router
        self._channel = router._channel
        self._channel.subscribe(self.id, self._on_notification)

    def _on_notification(self, event: int, notification: Notification) -> None:
        raise NotImplementedError

    def _producer(self, producer_id: str) -> Producer | None:
        return self._router._producers.get(producer_id)

    def _check_open(self) -> None:
        if self.closed:
            raise InvalidStateError(f"rtp observer closed [id:{self.id}]")

    def close(self) -> None:
        """Close the observer (one request to the worker)."""
        self._close(event=None)

    def _close(self, *, event: str | None) -> None:
        """The one close path: by the user (``event`` None) or by the router closing."""
        if self.closed:
            return
        logger.debug("close [rtp observer:%s, by:%s]", self.id, event or "user")
        self.closed = True
        self._channel.unsubscribe(self.id)
        if event is None:
            self._router._close_rtp_observer_request(self.id)
        self.emit("@close")
        if event is not None:
            self.emit(event)
        self.observer.emit("close")

    async def pause(self) -> None:
        """Stop observing (no events until ``resume()``)."""
        await self._set_paused(Method.RTPOBSERVER_PAUSE, True)

    async def resume(self) -> None:
        """Observe again."""
        await self._set_paused(Method.RTPOBSERVER_RESUME, False)

    async def _set_paused(self, method: int, paused: bool) -> None:
        self._check_open()
        was_paused = self.paused
        await self._channel.request(method, self.id)
        self.paused = paused
        if was_paused != paused:
            self.observer.emit("pause" if paused else "resume")

    async def add_producer(self, *, producer_id: str) -> None:
        """Observe this (audio) producer of the router."""
        producer = await self._producer_request(
            producer_id, Method.RTPOBSERVER_ADD_PRODUCER,
            RequestBody.RtpObserver_AddProducerRequest, AddProducerRequestT(producerId=producer_id))
        self.observer.emit("addproducer", producer)

    async def remove_producer(self, *, producer_id: str) -> None:
        """Stop observing this producer."""
        producer = await self._producer_request(
            producer_id, Method.RTPOBSERVER_REMOVE_PRODUCER,
            RequestBody.RtpObserver_RemoveProducerRequest,
            RemoveProducerRequestT(producerId=producer_id))
        self.observer.emit("removeproducer", producer)

    async def _producer_request(self, producer_id: str, method: int, body_type: int,
                                body: Any) -> Producer:
        """Send an add/remove request about the router's producer ``producer_id``; refused
        (UnsupportedError, as in mediasoup) when the router has no such producer."""
        self._check_open()
        producer = self._producer(producer_id)
        if producer is None:
            raise UnsupportedError(f"Producer with id {producer_id!r} not found")
        await self._channel.request(method, self.id, body_type, body)
        return producer

    def __repr__(self) -> str:
        return f"<{type(self).__name__} id={self.id} closed={self.closed}>"
