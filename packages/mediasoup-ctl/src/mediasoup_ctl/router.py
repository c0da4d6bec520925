"""Router: RTP capabilities from media codecs, transports, RTP observers, pipe_to_router."""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import FBS.Router.CloseRtpObserverRequest as FbsCloseRtpObserver
import FBS.Router.CloseTransportRequest as FbsCloseTransport
import FBS.Worker.CloseRouterRequest as FbsCloseRouter
import FBS.Worker.CreateRouterRequest as FbsCreateRouter
from FBS.Request.Body import Body as RequestBody
from FBS.Request.Method import Method
from FBS.Router.DumpResponse import DumpResponse

from . import negotiation_cache, ortc
from .channel import Channel, reply_body
from .errors import InvalidParameterError, InvalidStateError, UnsupportedError
from .events import EventEmitter
from .fbs_read import slots
from .fbs_table import StringTable, table_spec
from .fbs_utils import check_app_data, new_id, read_key_value_arrays, read_key_values

if TYPE_CHECKING:
    from FBS.Response.Response import Response

    from .active_speaker_observer import ActiveSpeakerObserver
    from .audio_level_observer import AudioLevelObserver
    from .data_producer import DataProducer
    from .direct_transport import DirectTransport
    from .pipe_transport import PipeTransport
    from .plain_transport import PlainTransport
    from .producer import Producer
    from .rtp_observer import RtpObserver
    from .transport import Transport
    from .types import RtpCapabilities
    from .webrtc_transport import WebRtcTransport

__all__ = ["Router", "create_router"]

logger = logging.getLogger(__name__)
_CLOSE_ROUTER = table_spec(FbsCloseRouter, "RouterId")
_CLOSE_TRANSPORT = table_spec(FbsCloseTransport, "TransportId")
_CLOSE_RTP_OBSERVER = table_spec(FbsCloseRtpObserver, "RtpObserverId")
_CREATE_ROUTER = table_spec(FbsCreateRouter, "RouterId")
_DUMP = slots(DumpResponse)
_T = TypeVar("_T", bound="Transport")


async def create_router(
    channel: Channel,
    *,
    media_codecs: list[dict[str, Any]] | None = None,
    app_data: dict[str, Any] | None = None,
) -> Router:
    """Create a router in the worker behind ``channel`` (use ``Worker.create_router``)."""
    check_app_data(app_data)
    rtp_capabilities = ortc.generate_router_rtp_capabilities(media_codecs)
    router_id = new_id()
    await channel.request(
        Method.WORKER_CREATE_ROUTER,
        body_type=RequestBody.Worker_CreateRouterRequest,
        body=StringTable(_CREATE_ROUTER, router_id),
    )
    return Router(router_id=router_id, channel=channel, rtp_capabilities=rtp_capabilities,
                  app_data=app_data)


class Router(EventEmitter):
    """A router: where producers are routed to consumers.

    Events: ``workerclose``. Observer events: ``close``, ``newtransport``, ``newrtpobserver``.
    """

    def __init__(self, *, router_id: str, channel: Channel, rtp_capabilities: RtpCapabilities,
                 app_data: dict[str, Any] | None) -> None:
        super().__init__()
        self.id = router_id
        self.closed = False
        self.app_data: dict[str, Any] = app_data if app_data is not None else {}
        self.observer = EventEmitter()
        self._rtp_capabilities = rtp_capabilities
        self._channel = channel
        self._transports: dict[str, Transport] = {}
        self._producers: dict[str, Producer] = {}
        self._data_producers: dict[str, DataProducer] = {}
        self._rtp_observers: dict[str, RtpObserver] = {}
        self._pipe_pairs: dict[str, asyncio.Future[dict[str, PipeTransport]]] = {}
        # negotiation_cache: produce negotiations of this router's capabilities
        self._produce_plans: dict[Any, Any] = {}

    @property
    def rtp_capabilities(self) -> RtpCapabilities:
        """The router's RTP capabilities (give them to clients: ``device.load()``)."""
        return self._rtp_capabilities

    @property
    def transports(self) -> dict[str, Transport]:
        """Open transports by id (read it, do not change it)."""
        return self._transports

    def _check_open(self) -> None:
        if self.closed:
            raise InvalidStateError(f"router closed [id:{self.id}]")

    # -- closing ------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the router: one request to the worker, local cleanup of everything under it."""
        self._close(event=None)

    def _close(self, *, event: str | None) -> None:
        """The one close cascade: by the user (``event`` None) or by the worker closing."""
        if self.closed:
            return
        logger.debug("close [id:%s, by:%s]", self.id, event or "user")
        self.closed = True
        if event is None:
            self._channel.request_nowait(
                Method.WORKER_CLOSE_ROUTER,
                body_type=RequestBody.Worker_CloseRouterRequest,
                body=StringTable(_CLOSE_ROUTER, self.id),
            )
        for transport in list(self._transports.values()):
            transport._close(event="routerclose")
        self._transports.clear()
        self._producers.clear()
        for rtp_observer in list(self._rtp_observers.values()):
            rtp_observer._close(event="routerclose")
        self._rtp_observers.clear()
        self._data_producers.clear()
        self.emit("@close")
        if event is not None:
            self.emit(event)
        self.observer.emit("close")

    # -- requests -----------------------------------------------------------------------------

    async def dump(self) -> dict[str, Any]:
        """The worker's view of this router (transport ids, producer→consumer maps, ...)."""
        self._check_open()
        dump = reply_body(await self._channel.request(Method.ROUTER_DUMP, self.id))
        return {
            "id": dump.str(_DUMP.Id),
            "transportIds": dump.strs(_DUMP.TransportIds),
            "rtpObserverIds": dump.strs(_DUMP.RtpObserverIds),
            "mapProducerIdConsumerIds": read_key_value_arrays(
                dump, _DUMP.MapProducerIdConsumerIds),
            "mapConsumerIdProducerId": read_key_values(dump, _DUMP.MapConsumerIdProducerId),
            "mapProducerIdObserverIds": read_key_value_arrays(
                dump, _DUMP.MapProducerIdObserverIds),
            "mapDataProducerIdDataConsumerIds": read_key_value_arrays(
                dump, _DUMP.MapDataProducerIdDataConsumerIds),
            "mapDataConsumerIdDataProducerId": read_key_values(
                dump, _DUMP.MapDataConsumerIdDataProducerId),
        }

    def can_consume(self, *, producer_id: str, rtp_capabilities: RtpCapabilities) -> bool:
        """Whether an endpoint with ``rtp_capabilities`` can consume the given producer."""
        producer = self._producers.get(producer_id)
        if producer is None:
            logger.error("can_consume() | no producer %s [router:%s]", producer_id, self.id)
            return False
        try:
            return negotiation_cache.can_consume(producer, rtp_capabilities)
        except InvalidParameterError as exc:
            logger.error("can_consume() | %s [router:%s]", exc, self.id)
            return False

    # -- transports ---------------------------------------------------------------------------

    def _transport_created(self, transport: Transport) -> None:
        """Bookkeeping shared by every create_*_transport."""
        # The transport keeps these dicts itself (Transport.produce, TransportChild._close,
        # Transport._close): five listener closures per transport cost 15 objects.
        self._transports[transport.id] = transport
        self.observer.emit("newtransport", transport)

    def _close_transport_request(self, transport_id: str) -> None:
        self._channel.request_nowait(
            Method.ROUTER_CLOSE_TRANSPORT, self.id,
            body_type=RequestBody.Router_CloseTransportRequest,
            body=StringTable(_CLOSE_TRANSPORT, transport_id),
        )

    def _close_rtp_observer_request(self, rtp_observer_id: str) -> None:
        self._channel.request_nowait(
            Method.ROUTER_CLOSE_RTPOBSERVER, self.id,
            body_type=RequestBody.Router_CloseRtpObserverRequest,
            body=StringTable(_CLOSE_RTP_OBSERVER, rtp_observer_id),
        )

    async def _new_transport(self, create: Callable[..., Awaitable[_T]],
                             options: dict[str, Any]) -> _T:
        """Run one of the ``create_*_transport`` functions and keep what it made."""
        self._check_open()
        transport = await create(self, **options)
        self._transport_created(transport)
        return transport

    async def _create_request(self, method: int, body_type: int, body: Any) -> Response:
        """A create request (transport, RTP observer): refused once the router is closed, and
        its answer refused too when the router closed while it was on the way."""
        self._check_open()
        response = await self._channel.request(method, self.id, body_type, body)
        self._check_open()
        return response

    async def create_webrtc_transport(self, **options: Any) -> WebRtcTransport:
        """Create a WebRtcTransport (on ``listen_infos`` or a ``webrtc_server`` of this worker).

        See :func:`webrtc_transport.create_webrtc_transport`.
        """
        from .webrtc_transport import create_webrtc_transport

        transport = await self._new_transport(create_webrtc_transport, options)
        server = options.get("webrtc_server")
        if server is not None:
            if server.closed:  # closed during the request: the worker closed the transport
                transport._close(event="listenserverclose")
            else:
                server._handle(transport)
        return transport

    async def create_plain_transport(self, **options: Any) -> PlainTransport:
        """Create a PlainTransport; see :func:`plain_transport.create_plain_transport`."""
        from .plain_transport import create_plain_transport

        return await self._new_transport(create_plain_transport, options)

    async def create_pipe_transport(self, **options: Any) -> PipeTransport:
        """Create a PipeTransport; see :func:`pipe_transport.create_pipe_transport`."""
        from .pipe_transport import create_pipe_transport

        return await self._new_transport(create_pipe_transport, options)

    async def create_direct_transport(self, **options: Any) -> DirectTransport:
        """Create a DirectTransport; see :func:`direct_transport.create_direct_transport`."""
        from .direct_transport import create_direct_transport

        return await self._new_transport(create_direct_transport, options)

    # -- RTP observers ------------------------------------------------------------------------

    def _rtp_observer_created(self, rtp_observer: RtpObserver) -> None:
        self._rtp_observers[rtp_observer.id] = rtp_observer
        rtp_observer.on("@close", lambda: self._rtp_observers.pop(rtp_observer.id, None))
        self.observer.emit("newrtpobserver", rtp_observer)

    async def create_active_speaker_observer(
        self, *, interval: int = 300, app_data: dict[str, Any] | None = None
    ) -> ActiveSpeakerObserver:
        """Create an ActiveSpeakerObserver (event ``dominantspeaker``)."""
        self._check_open()
        from .active_speaker_observer import create_active_speaker_observer

        observer = await create_active_speaker_observer(self, interval=interval,
                                                        app_data=app_data)
        self._rtp_observer_created(observer)
        return observer

    async def create_audio_level_observer(
        self, *, max_entries: int = 1, threshold: int = -80, interval: int = 1000,
        app_data: dict[str, Any] | None = None,
    ) -> AudioLevelObserver:
        """Create an AudioLevelObserver (events ``volumes``, ``silence``)."""
        self._check_open()
        from .audio_level_observer import create_audio_level_observer

        observer = await create_audio_level_observer(
            self, max_entries=max_entries, threshold=threshold, interval=interval,
            app_data=app_data)
        self._rtp_observer_created(observer)
        return observer

    # -- piping -------------------------------------------------------------------------------

    async def pipe_to_router(
        self,
        *,
        router: Router,
        producer_id: str | None = None,
        data_producer_id: str | None = None,
        listen_info: dict[str, Any] | None = None,
        enable_sctp: bool = True,
        num_sctp_streams: dict[str, int] | None = None,
        enable_rtx: bool = False,
        enable_srtp: bool = False,
    ) -> dict[str, Any]:
        """Make a producer (or data producer) of this router available in ``router``.

        Creates (once per router pair) two connected PipeTransports, then a pipe consumer
        here and a pipe producer there with the same id. Returns ``{"pipeConsumer",
        "pipeProducer"}`` or ``{"pipeDataConsumer", "pipeDataProducer"}``.
        """
        from .pipe import pipe_to_router

        self._check_open()
        if not isinstance(router, Router):
            raise InvalidParameterError("router must be a Router")
        if router is self:
            raise InvalidParameterError("cannot use this Router as destination")
        if bool(producer_id) == bool(data_producer_id):
            raise InvalidParameterError("give exactly one of producer_id and data_producer_id")
        if producer_id and producer_id not in self._producers:
            raise UnsupportedError(f"Producer with id {producer_id!r} not found")
        if data_producer_id and data_producer_id not in self._data_producers:
            raise UnsupportedError(f"DataProducer with id {data_producer_id!r} not found")
        return await pipe_to_router(
            self, router, producer_id=producer_id, data_producer_id=data_producer_id,
            listen_info=(copy.deepcopy(listen_info) if listen_info
                         else {"protocol": "udp", "ip": "127.0.0.1"}),
            enable_sctp=enable_sctp, num_sctp_streams=num_sctp_streams or {"OS": 1024,
                                                                           "MIS": 1024},
            enable_rtx=enable_rtx, enable_srtp=enable_srtp)

    def __repr__(self) -> str:
        return f"<Router id={self.id} closed={self.closed}>"
