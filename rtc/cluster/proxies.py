"""Proxies of media objects on another node, as the owner of a cascaded call uses them.

:mod:`rtc.services.media_ops` and :mod:`rtc.services.spread` work on mediasoup_ctl objects;
for a router of the call on another node (:mod:`rtc.cluster.cascade`) they get these instead:
:class:`RemoteRouter`, :class:`RemoteTransport`, :class:`RemoteProducer`,
:class:`RemoteConsumer` duck-type what they use (ids, ``closed``, kinds, RTP and ICE/DTLS
parameters, a transport's ``producers``/``consumers`` maps, ``on``/``observer`` events). Each
method is the operation ``cascade.call`` on that node (through the proxy's
:class:`~rtc.cluster.cascade.Link`); the real object's events come back and
:meth:`RemoteObject.apply` mirrors them. A proxy closed here is closed at once, children
included (as the library closes a transport's producers), and on its node in the background.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mediasoup_ctl.errors import InvalidStateError
from mediasoup_ctl.events import EventEmitter
from mediasoup_ctl.ortc import can_consume

from rtc.cluster.remote import ATTRIBUTES

if TYPE_CHECKING:
    from mediasoup_ctl.types import RtpCapabilities

    from rtc.cluster.cascade import Link

__all__ = ["CLASSES", "RemoteConsumer", "RemoteObject", "RemoteProducer", "RemoteRouter",
           "RemoteTransport"]


class RemoteObject(EventEmitter):
    """A mediasoup object living on another node, as the owner's code uses it."""

    PARENT_EVENT: str | None = None
    """The event it gets when its parent (router, transport) closes under it."""

    def __init__(self, link: Link, data: dict[str, Any]) -> None:
        super().__init__()
        self.link = link
        self.id = str(data["id"])
        self.closed = False
        self.observer = EventEmitter()
        self.app_data: dict[str, Any] = dict(data.get("app_data") or {})
        self.children: set[RemoteObject] = set()
        self.parents: list[Any] = []
        self.producers: dict[str, Any] = {}
        """Open producers on it (a transport; the library's map, which `Peer` reads)."""
        self.consumers: dict[str, Any] = {}
        """Open consumers on it (a transport)."""
        for name in ATTRIBUTES:
            if name in data and name != "app_data":
                setattr(self, name, data[name])

    async def _call(self, method: str, **kwargs: Any) -> Any:
        if self.closed:
            raise InvalidStateError(f"{type(self).__name__} closed [id:{self.id}]")
        result = await self.link.call(self, method, kwargs)
        return result

    def close(self) -> None:
        """Close it here at once (as the library does) and on its node in the background."""
        if self.closed:
            return
        self._closed(None)
        self.link.call_soon(self.id, "close")

    def _closed(self, event: str | None) -> None:
        """Mark it (and its children) closed, emitting ``event`` and the observer's close."""
        if self.closed:
            return
        self.closed = True
        if self.link.proxies.get(self.id) is self:
            del self.link.proxies[self.id]
        for parent in self.parents:  # gone from its transport's maps first, as in the library
            parent.producers.pop(self.id, None)
            parent.consumers.pop(self.id, None)
        for child in list(self.children):
            child._closed(child.PARENT_EVENT)
        if event:
            self.emit(event)
        self.observer.emit("close")

    def apply(self, event: str, args: list[Any]) -> None:
        """An event of the real object (see :data:`rtc.cluster.remote.EVENTS`)."""
        if self.closed:
            return
        if event == "@close":
            self._closed(None)
        elif event in ("transportclose", "producerclose", "routerclose"):
            self._closed(event)
        else:
            self._on_event(event, args)

    def _on_event(self, event: str, args: list[Any]) -> None:
        if event == "score":
            self.score = args[0] if args else None
        self.emit(event, *args)
        self.observer.emit(event, *args)

    async def get_stats(self) -> Any:
        """The real object's stats (its worker's)."""
        return await self._call("get_stats")

    async def dump(self) -> Any:
        """The real object's dump."""
        return await self._call("dump")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} id={self.id} node={self.link.node_id} closed={self.closed}>"


class RemoteProducer(RemoteObject):
    """A producer (or pipe producer) on another node."""

    PARENT_EVENT = "transportclose"
    kind: str
    paused: bool = False

    async def pause(self) -> None:
        """Pause it (the observer says so, as the library's does)."""
        await self._call("pause")
        if not self.paused:
            self.paused = True
            self.observer.emit("pause")

    async def resume(self) -> None:
        """Resume it."""
        await self._call("resume")
        if self.paused:
            self.paused = False
            self.observer.emit("resume")


class RemoteConsumer(RemoteObject):
    """A consumer (or pipe consumer) on another node."""

    PARENT_EVENT = "transportclose"
    kind: str
    producer_id: str
    paused: bool = False
    producer_paused: bool = False
    preferred_layers: Any = None
    current_layers: Any = None

    async def pause(self) -> None:
        """Pause it."""
        await self._call("pause")
        was = self.paused or self.producer_paused
        self.paused = True
        if not was:
            self.observer.emit("pause")

    async def resume(self) -> None:
        """Resume it."""
        await self._call("resume")
        was = self.paused or self.producer_paused
        self.paused = False
        if was and not self.producer_paused:
            self.observer.emit("resume")

    async def set_preferred_layers(self, *, spatial_layer: int,
                                   temporal_layer: int | None = None) -> None:
        """Prefer simulcast/SVC layers."""
        await self._call("set_preferred_layers", spatial_layer=spatial_layer,
                         temporal_layer=temporal_layer)
        self.preferred_layers = {"spatialLayer": spatial_layer,
                                 **({"temporalLayer": temporal_layer}
                                    if temporal_layer is not None else {})}

    async def set_priority(self, priority: int) -> None:
        """Its share of the transport's bandwidth."""
        await self._call("set_priority", priority=priority)
        self.priority = priority

    async def request_key_frame(self) -> None:
        """Ask the producer for a key frame."""
        await self._call("request_key_frame")

    def _on_event(self, event: str, args: list[Any]) -> None:
        if event in ("producerpause", "producerresume"):
            pausing = event == "producerpause"
            if self.producer_paused == pausing:
                return
            self.producer_paused = pausing
            self.emit(event)
            if not self.paused:
                self.observer.emit("pause" if pausing else "resume")
            return
        if event == "layerschange":
            self.current_layers = args[0] if args else None
        super()._on_event(event, args)


class RemoteTransport(RemoteObject):
    """A WebRtcTransport or PipeTransport on another node."""

    PARENT_EVENT = "routerclose"
    dtls_state: str = "new"

    async def connect(self, **kwargs: Any) -> None:
        """DTLS parameters (WebRTC) or the other pipe's ip, port and SRTP key (pipe)."""
        await self._call("connect", **kwargs)

    async def produce(self, **kwargs: Any) -> RemoteProducer:
        """A producer on it."""
        return await self._call("produce", **kwargs)  # type: ignore[no-any-return]

    async def consume(self, **kwargs: Any) -> RemoteConsumer:
        """A consumer on it."""
        return await self._call("consume", **kwargs)  # type: ignore[no-any-return]

    async def set_max_incoming_bitrate(self, bitrate: int) -> None:
        """Cap what the client may send."""
        await self._call("set_max_incoming_bitrate", bitrate=bitrate)

    async def restart_ice(self) -> dict[str, Any]:
        """New ICE credentials."""
        self.ice_parameters = await self._call("restart_ice")
        return self.ice_parameters

    def _on_event(self, event: str, args: list[Any]) -> None:
        if event == "dtlsstatechange" and args:
            self.dtls_state = str(args[0])
        super()._on_event(event, args)


class RemoteRouter(RemoteObject):
    """The meeting's router on another node."""

    def __init__(self, link: Link, data: dict[str, Any]) -> None:
        super().__init__(link, data)
        self.rtp_capabilities: dict[str, Any] = data["rtp_capabilities"]

    async def create_webrtc_transport(self, **kwargs: Any) -> RemoteTransport:
        """A WebRtcTransport on the remote node's own addresses (or WebRtcServer)."""
        kwargs.pop("webrtc_server", None)
        kwargs.pop("listen_infos", None)
        return await self._call("create_webrtc_transport", **kwargs)  # type: ignore[no-any-return]

    async def create_pipe_transport(self, **kwargs: Any) -> RemoteTransport:
        """A PipeTransport listening on the remote node's own address."""
        kwargs.pop("listen_info", None)
        return await self._call("create_pipe_transport", **kwargs)  # type: ignore[no-any-return]

    def can_consume(self, *, producer_id: str, rtp_capabilities: RtpCapabilities) -> bool:
        """Whether ``rtp_capabilities`` can receive the producer (one of this router's)."""
        producer = self.link.proxies.get(producer_id)
        parameters = getattr(producer, "consumable_rtp_parameters", None)
        if parameters is None:
            return False
        try:
            return can_consume(parameters, rtp_capabilities)
        except Exception:
            return False

    def close(self) -> None:
        """Close it here and tell its node to close it (and everything on it)."""
        if self.closed:
            return
        self._closed(None)
        self.link.close()

    def apply(self, event: str, args: list[Any]) -> None:
        if event == "workerclose" and not self.closed:
            self.link.lost("its worker died")


CLASSES: dict[str, type[RemoteObject]] = {
    "WebRtcTransport": RemoteTransport, "PipeTransport": RemoteTransport,
    "Producer": RemoteProducer, "Consumer": RemoteConsumer,
}
"""The proxy class for each described class name (`rtc.cluster.remote`)."""
