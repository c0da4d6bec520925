"""The part every transport shares: producers, consumers, data channels, bitrates, closing.

Subclasses (WebRtc, Plain, Pipe, Direct) add their creation function, their connect(), their
dump/stats parsing and their notifications.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from FBS.Notification.Event import Event
from FBS.Notification.Notification import Notification
from FBS.Request.Body import Body as RequestBody
from FBS.Request.Method import Method
from FBS.Transport.EnableTraceEventRequest import EnableTraceEventRequestT
from FBS.Transport.SctpStateChangeNotification import SctpStateChangeNotification
from FBS.Transport.SetMaxIncomingBitrateRequest import SetMaxIncomingBitrateRequestT
from FBS.Transport.SetMaxOutgoingBitrateRequest import SetMaxOutgoingBitrateRequestT
from FBS.Transport.SetMinOutgoingBitrateRequest import SetMinOutgoingBitrateRequestT
from FBS.Transport.TraceNotification import TraceNotification

from .channel import EVENT_NAMES, body_of, notification_body
from .errors import InvalidParameterError, InvalidStateError, UnsupportedError
from .events import EventEmitter
from .fbs_transport import SCTP_STATES, TRACE_EVENT_TYPES, parse_trace
from .fbs_utils import new_id, trace_event_types

if TYPE_CHECKING:
    from FBS.Response.Response import Response

    from .consumer import Consumer
    from .data_consumer import DataConsumer
    from .data_producer import DataProducer
    from .producer import Producer
    from .router import Router

__all__ = ["Transport"]

logger = logging.getLogger(__name__)


_DUMP_ONLY = ("producerIds", "consumerIds", "mapSsrcConsumerId", "mapRtxSsrcConsumerId",
              "dataProducerIds", "dataConsumerIds", "recvRtpHeaderExtensions", "rtpListener",
              "sctpListener", "traceEventTypes", "maxMessageSize", "direct", "id")
"""Keys of the creation reply's dump that describe the moment of creation, not the state a
transport keeps (``dump()`` asks the worker for them): about ten lists and dicts per
transport that the garbage collector would otherwise walk for the transport's life."""


class Transport(EventEmitter):
    """Base class of every transport.

    Events: ``routerclose``, ``sctpstatechange``, ``trace``. Observer events: ``close``,
    ``newproducer``, ``newconsumer``, ``newdataproducer``, ``newdataconsumer``,
    ``sctpstatechange``, ``trace``.
    """

    type: ClassVar[str] = ""
    _DUMP_CLASS: ClassVar[builtins.type[Any]]
    _STATS_CLASS: ClassVar[builtins.type[Any]]

    def __init__(self, *, router: Router, transport_id: str, data: dict[str, Any],
                 app_data: dict[str, Any] | None) -> None:
        super().__init__()
        self.id = transport_id
        self.closed = False
        self.app_data: dict[str, Any] = app_data if app_data is not None else {}
        self.observer = EventEmitter()
        self._router = router
        self._channel = router._channel
        for key in _DUMP_ONLY:
            data.pop(key, None)
        self._data = data
        self._producers: dict[str, Producer] = {}
        self._consumers: dict[str, Consumer] = {}
        self._data_producers: dict[str, DataProducer] = {}
        self._data_consumers: dict[str, DataConsumer] = {}
        self._cname_for_producers: str | None = None
        self._next_mid = 0
        self._sctp_stream_ids: bytearray | None = None
        self._next_sctp_stream_id = 0
        self._channel.subscribe(self.id, self._on_notification)

    # -- state --------------------------------------------------------------------------------

    @property
    def router_id(self) -> str:
        """The id of the router this transport belongs to."""
        return self._router.id

    @property
    def sctp_parameters(self) -> dict[str, Any] | None:
        """SCTP parameters (``port``, ``OS``, ``MIS``, ...) when SCTP is enabled, else None."""
        return self._data.get("sctpParameters")

    @property
    def sctp_state(self) -> str | None:
        """SCTP association state when SCTP is enabled, else None."""
        return self._data.get("sctpState")

    @property
    def producers(self) -> dict[str, Producer]:
        """Open producers by id (read it, do not change it)."""
        return self._producers

    @property
    def consumers(self) -> dict[str, Consumer]:
        """Open consumers by id (read it, do not change it)."""
        return self._consumers

    @property
    def data_producers(self) -> dict[str, DataProducer]:
        """Open data producers by id."""
        return self._data_producers

    @property
    def data_consumers(self) -> dict[str, DataConsumer]:
        """Open data consumers by id."""
        return self._data_consumers

    def _check_open(self) -> None:
        if self.closed:
            raise InvalidStateError(f"{self.type} transport closed [id:{self.id}]")

    # -- closing ------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the transport: one request; its producers and consumers close locally."""
        self._close(event=None)

    def _closing(self) -> None:
        """Subclass hook: mark connection states closed."""
        if self._data.get("sctpState"):
            self._data["sctpState"] = "closed"

    def _close(self, *, event: str | None) -> None:
        """The one close cascade: by the user (``event`` None) or by the router closing."""
        if self.closed:
            return
        logger.debug("close [%s transport:%s, by:%s]", self.type, self.id, event or "user")
        self.closed = True
        self._closing()
        self._channel.unsubscribe(self.id)
        if event is None:
            self._router._close_transport_request(self.id)
        for producer in list(self._producers.values()):
            producer._close(event="transportclose")
        self._producers.clear()
        for consumer in list(self._consumers.values()):
            consumer._close(event="transportclose")
        self._consumers.clear()
        for data_producer in list(self._data_producers.values()):
            data_producer._close(event="transportclose")
        self._data_producers.clear()
        for data_consumer in list(self._data_consumers.values()):
            data_consumer._close(event="transportclose")
        self._data_consumers.clear()
        self._router._transports.pop(self.id, None)
        self.emit("@close")
        if event is not None:
            self.emit(event)
        self.observer.emit("close")

    # -- notifications ------------------------------------------------------------------------

    def _on_notification(self, event: int, notification: Notification) -> None:
        if event == Event.TRANSPORT_SCTP_STATE_CHANGE:
            body = notification_body(notification, SctpStateChangeNotification)
            state = SCTP_STATES[body.SctpState()]
            self._data["sctpState"] = state
            self.emit("sctpstatechange", state)
            self.observer.emit("sctpstatechange", state)
        elif event == Event.TRANSPORT_TRACE:
            trace = parse_trace(notification_body(notification, TraceNotification))
            self.emit("trace", trace)
            self.observer.emit("trace", trace)
        elif not self._handle_notification(event, notification):
            logger.error("ignoring unknown event %s [transport:%s]",
                         EVENT_NAMES.get(event, event), self.id)

    def _handle_notification(self, event: int, notification: Notification) -> bool:
        """Subclass hook for its own notifications; return whether it handled ``event``."""
        return False

    # -- requests -----------------------------------------------------------------------------

    async def _request(self, method: int, body_type: int = 0, body: Any = None) -> Response:
        self._check_open()
        return await self._channel.request(method, self.id, body_type, body)

    async def dump(self) -> dict[str, Any]:
        """The worker's view of this transport."""
        response = await self._request(Method.TRANSPORT_DUMP)
        return self._parse_dump(body_of(response, self._DUMP_CLASS))

    async def get_stats(self) -> list[dict[str, Any]]:
        """Transport stats (a one-item list, as in mediasoup)."""
        response = await self._request(Method.TRANSPORT_GET_STATS)
        return [self._parse_stats(body_of(response, self._STATS_CLASS))]

    def _parse_dump(self, table: Any) -> dict[str, Any]:
        raise NotImplementedError

    def _parse_stats(self, table: Any) -> dict[str, Any]:
        raise NotImplementedError

    @staticmethod
    def _check_bitrate(bitrate: Any) -> int:
        if not isinstance(bitrate, int) or isinstance(bitrate, bool) or bitrate < 0:
            raise InvalidParameterError("bitrate must be a non-negative integer (bps)")
        return bitrate

    async def set_max_incoming_bitrate(self, bitrate: int) -> None:
        """Limit what the remote may send (bps, 0 = no limit)."""
        value = self._check_bitrate(bitrate)
        await self._request(Method.TRANSPORT_SET_MAX_INCOMING_BITRATE,
                            RequestBody.Transport_SetMaxIncomingBitrateRequest,
                            SetMaxIncomingBitrateRequestT(maxIncomingBitrate=value))

    async def set_max_outgoing_bitrate(self, bitrate: int) -> None:
        """Limit what the worker sends (bps, 0 = no limit)."""
        value = self._check_bitrate(bitrate)
        await self._request(Method.TRANSPORT_SET_MAX_OUTGOING_BITRATE,
                            RequestBody.Transport_SetMaxOutgoingBitrateRequest,
                            SetMaxOutgoingBitrateRequestT(maxOutgoingBitrate=value))

    async def set_min_outgoing_bitrate(self, bitrate: int) -> None:
        """Floor of the worker's outgoing bitrate estimate (bps, 0 = none)."""
        value = self._check_bitrate(bitrate)
        await self._request(Method.TRANSPORT_SET_MIN_OUTGOING_BITRATE,
                            RequestBody.Transport_SetMinOutgoingBitrateRequest,
                            SetMinOutgoingBitrateRequestT(minOutgoingBitrate=value))

    async def enable_trace_event(self, types: list[str] | None = None) -> None:
        """Emit ``trace`` events of these types (``probation``, ``bwe``); [] disables."""
        events = trace_event_types(types, TRACE_EVENT_TYPES)
        await self._request(Method.TRANSPORT_ENABLE_TRACE_EVENT,
                            RequestBody.Transport_EnableTraceEventRequest,
                            EnableTraceEventRequestT(events=events))

    # -- producers and consumers --------------------------------------------------------------

    def _cname(self, rtp_parameters: dict[str, Any]) -> str:
        """The one RTCP CNAME all producers of this transport use (as in mediasoup)."""
        return self._cname_for((rtp_parameters.get("rtcp") or {}).get("cname"))

    def _cname_for(self, cname: Any) -> str:
        """``_cname`` of parameters whose validated ``rtcp.cname`` is ``cname``: the first
        producer's (or a random one) for every producer."""
        if self._cname_for_producers is None:
            self._cname_for_producers = cname or new_id()[:8]
        return self._cname_for_producers

    def _next_consumer_mid(self) -> str:
        mid = str(self._next_mid)
        self._next_mid = self._next_mid + 1 if self._next_mid < 99999999 else 0
        return mid

    async def produce(self, *, kind: str, rtp_parameters: Mapping[str, Any],
                      id: str | None = None,
                      paused: bool = False, key_frame_request_delay: int | None = None,
                      app_data: dict[str, Any] | None = None) -> Producer:
        """Receive media described by ``rtp_parameters`` from the remote endpoint."""
        from .producer import create_producer

        self._check_open()
        if id is not None and id in self._producers:
            raise InvalidParameterError(f"a Producer with same id {id!r} already exists")
        producer = await create_producer(
            self, kind=kind, rtp_parameters=rtp_parameters, producer_id=id, paused=paused,
            key_frame_request_delay=key_frame_request_delay, app_data=app_data)
        self._producers[producer.id] = producer
        self._router._producers[producer.id] = producer
        self.observer.emit("newproducer", producer)
        return producer

    async def consume(self, *, producer_id: str, rtp_capabilities: dict[str, Any] | None = None,
                      paused: bool = False, mid: str | None = None,
                      preferred_layers: dict[str, int] | None = None, ignore_dtx: bool = False,
                      enable_rtx: bool | None = None, pipe: bool = False,
                      app_data: dict[str, Any] | None = None) -> Consumer:
        """Send a producer of the router to the remote endpoint (``paused=True`` is usual)."""
        from .consumer import create_consumer

        self._check_open()
        if not isinstance(producer_id, str) or not producer_id:
            raise InvalidParameterError("missing producer_id")
        if mid is not None and (not isinstance(mid, str) or not mid):
            raise InvalidParameterError("if given, mid must be a non-empty string")
        producer = self._router._producers.get(producer_id)
        if producer is None:
            raise UnsupportedError(f"Producer with id {producer_id!r} not found")
        consumer = await create_consumer(
            self, producer=producer, rtp_capabilities=rtp_capabilities, paused=paused, mid=mid,
            preferred_layers=preferred_layers, ignore_dtx=ignore_dtx, enable_rtx=enable_rtx,
            pipe=pipe or self.type == "pipe", app_data=app_data)
        self._consumers[consumer.id] = consumer
        self.observer.emit("newconsumer", consumer)
        return consumer

    async def produce_data(self, *, sctp_stream_parameters: dict[str, Any] | None = None,
                           label: str = "", protocol: str = "", paused: bool = False,
                           id: str | None = None,
                           app_data: dict[str, Any] | None = None) -> DataProducer:
        """Receive data (SCTP stream, or direct messages on a DirectTransport)."""
        from .data_producer import create_data_producer

        self._check_open()
        if id is not None and id in self._data_producers:
            raise InvalidParameterError(f"a DataProducer with same id {id!r} already exists")
        data_producer = await create_data_producer(
            self, sctp_stream_parameters=sctp_stream_parameters, label=label, protocol=protocol,
            paused=paused, data_producer_id=id, app_data=app_data)
        self._data_producers[data_producer.id] = data_producer
        self._router._data_producers[data_producer.id] = data_producer
        self.observer.emit("newdataproducer", data_producer)
        return data_producer

    async def consume_data(self, *, data_producer_id: str, ordered: bool | None = None,
                           max_packet_life_time: int | None = None,
                           max_retransmits: int | None = None, paused: bool = False,
                           subchannels: list[int] | None = None,
                           app_data: dict[str, Any] | None = None) -> DataConsumer:
        """Send a data producer of the router to the remote endpoint."""
        from .data_consumer import create_data_consumer

        self._check_open()
        if not isinstance(data_producer_id, str) or not data_producer_id:
            raise InvalidParameterError("missing data_producer_id")
        data_producer = self._router._data_producers.get(data_producer_id)
        if data_producer is None:
            raise UnsupportedError(f"DataProducer with id {data_producer_id!r} not found")
        data_consumer, stream_id = await create_data_consumer(
            self, data_producer=data_producer, ordered=ordered,
            max_packet_life_time=max_packet_life_time, max_retransmits=max_retransmits,
            paused=paused, subchannels=subchannels, app_data=app_data)
        self._data_consumers[data_consumer.id] = data_consumer

        if stream_id is not None:
            def on_close() -> None:
                if self._sctp_stream_ids is not None:
                    self._sctp_stream_ids[stream_id] = 0

            data_consumer.on("@close", on_close)
        self.observer.emit("newdataconsumer", data_consumer)
        return data_consumer

    def _take_sctp_stream_id(self) -> int:
        """A free SCTP stream id for a new data consumer (round robin, as in mediasoup)."""
        params = self.sctp_parameters
        if not params or not isinstance(params.get("MIS"), int):
            raise UnsupportedError("SCTP is not enabled on this transport")
        if self._sctp_stream_ids is None:
            self._sctp_stream_ids = bytearray(params["MIS"])
        ids = self._sctp_stream_ids
        for index in range(len(ids)):
            stream_id = (self._next_sctp_stream_id + index) % len(ids)
            if not ids[stream_id]:
                ids[stream_id] = 1
                self._next_sctp_stream_id = stream_id + 1
                return stream_id
        raise UnsupportedError("no SCTP stream id available")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} id={self.id} closed={self.closed}>"
