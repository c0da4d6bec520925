"""What producers, consumers and their data twins share: life under a transport.

Each is created by a transport, answers requests addressed to its own id, and closes along
one path: the user's ``close()`` sends one close request to the transport; a closing parent
(``event`` set, e.g. ``transportclose``) only cleans up locally, since the worker cascades.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar

from .errors import InvalidStateError
from .events import EventEmitter
from .fbs_table import StringTable

if TYPE_CHECKING:
    from FBS.Response.Response import Response

    from .transport import Transport

__all__ = ["TransportChild"]

logger = logging.getLogger(__name__)


class TransportChild(EventEmitter):
    """Base of Producer, Consumer, DataProducer and DataConsumer (not instantiated alone)."""

    _noun: ClassVar[str]
    """How log lines and errors name the object, e.g. ``"data consumer"``."""
    _close_method: ClassVar[int]
    _close_body_type: ClassVar[int]
    _close_spec: ClassVar[Any]
    """The transport's close request for this kind of child: method, body type, table spec."""
    _registry: ClassVar[str]
    _router_registry: ClassVar[str | None] = None
    """The dicts by id that hold an open child: its transport's (``_producers``, ...) and, for
    producers, its router's. Closing drops it from them directly: a closure listening to
    ``@close`` cost five objects per child (function, cells, closure tuple, listener list)."""
    _upstream_paused: ClassVar[str | None] = None
    """Consumers only: the attribute saying their upstream (producer, data producer) is paused."""

    id: str
    paused: bool

    def _attach(self, transport: Transport, app_data: dict[str, Any] | None, *,
                notifications: bool = True) -> None:
        """Common state; route the worker's notifications for ``self.id`` if it has any."""
        self.closed = False
        self.app_data: dict[str, Any] = app_data if app_data is not None else {}
        self.observer = EventEmitter()
        self._transport = transport
        self._channel = transport._channel
        if notifications:
            self._channel.subscribe(self.id, self._on_notification)

    def _on_notification(self, event: int, notification: Any) -> None:  # pragma: no cover
        raise NotImplementedError

    def _check_open(self) -> None:
        if self.closed:
            raise InvalidStateError(f"{self._noun} closed [id:{self.id}]")

    async def _request(self, method: int, body_type: int = 0, body: Any = None) -> Response:
        self._check_open()
        return await self._channel.request(method, self.id, body_type, body)

    async def _set_paused(self, method: int, paused: bool, *,
                          upstream_paused: bool = False) -> None:
        """Send the pause or resume ``method``, then tell the observer ``pause``/``resume``
        if that changed what flows: not when already so, nor while the upstream (a consumer's
        producer, a data consumer's data producer) is paused anyway."""
        await self._request(method)
        was_paused, self.paused = self.paused, paused
        if was_paused != paused and not upstream_paused:
            self.observer.emit("pause" if paused else "resume")

    def _on_upstream_pause(self, paused: bool, event: str) -> None:
        """The upstream paused or resumed: unless already so, record it (``_upstream_paused``),
        emit ``event`` and, unless this one is paused itself, ``pause``/``resume`` on the
        observer."""
        assert self._upstream_paused is not None
        if getattr(self, self._upstream_paused) == paused:
            return
        setattr(self, self._upstream_paused, paused)
        self.emit(event)
        if not self.paused:
            self.observer.emit("pause" if paused else "resume")

    def close(self) -> None:
        """Close it (one request to the worker; its own children follow there)."""
        self._close(event=None)

    def _close(self, *, event: str | None) -> None:
        """The one close path: by the user (``event`` None) or by a parent closing."""
        if self.closed:
            return
        logger.debug("close [%s:%s, by:%s]", self._noun, self.id, event or "user")
        self.closed = True
        self._channel.unsubscribe(self.id)
        if event is None:
            self._channel.request_nowait(
                self._close_method, self._transport.id, self._close_body_type,
                StringTable(self._close_spec, self.id))
        transport = self._transport
        getattr(transport, self._registry).pop(self.id, None)
        if self._router_registry is not None:
            getattr(transport._router, self._router_registry).pop(self.id, None)
        self.emit("@close")
        if event is not None:
            self.emit(event)
        self.observer.emit("close")
