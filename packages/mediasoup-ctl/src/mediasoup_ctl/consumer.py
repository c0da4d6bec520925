"""Consumer: a router's producer sent to the remote endpoint of a transport."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, cast

import FBS.Consumer.ConsumerLayers as FbsConsumerLayers
import FBS.Transport.CloseConsumerRequest as FbsCloseConsumer
import FBS.Transport.ConsumeRequest as FbsConsumeRequest
from FBS.Consumer.ConsumerLayers import ConsumerLayersT
from FBS.Consumer.ConsumerScore import ConsumerScore
from FBS.Consumer.DumpResponse import DumpResponse
from FBS.Consumer.EnableTraceEventRequest import EnableTraceEventRequestT
from FBS.Consumer.GetStatsResponse import GetStatsResponse
from FBS.Consumer.LayersChangeNotification import LayersChangeNotification
from FBS.Consumer.RtpNotification import RtpNotification
from FBS.Consumer.ScoreNotification import ScoreNotification
from FBS.Consumer.SetPreferredLayersRequest import SetPreferredLayersRequestT
from FBS.Consumer.SetPreferredLayersResponse import SetPreferredLayersResponse
from FBS.Consumer.SetPriorityRequest import SetPriorityRequestT
from FBS.Consumer.SetPriorityResponse import SetPriorityResponse
from FBS.Consumer.TraceEventType import TraceEventType
from FBS.Consumer.TraceNotification import TraceNotification, TraceNotificationT
from FBS.Notification.Event import Event
from FBS.Notification.Notification import Notification
from FBS.Request.Body import Body as RequestBody
from FBS.Request.Method import Method
from FBS.Transport.ConsumeResponse import ConsumeResponse

from . import ortc
from .channel import EVENT_NAMES, body_of, notification_body, reply_body
from .errors import InvalidParameterError
from .fbs_builder import Builder
from .fbs_read import Table, slots
from .fbs_rtp import (
    kind_from_fbs,
    kind_to_fbs,
    parse_encoding,
    parse_rtp_parameters,
    producer_type_from_fbs,
    producer_type_to_fbs,
    serialize_encodings,
    serialize_rtp_parameters,
)
from .fbs_stats import parse_rtp_stream_dump, parse_rtp_stream_stats
from .fbs_table import table_spec
from .fbs_template import Templated
from .fbs_utils import check_app_data, fields, new_id, raw_bytes, trace_event_types
from .negotiation_cache import ConsumePlan, consume_plan
from .producer import parse_media_trace
from .transport_child import TransportChild

if TYPE_CHECKING:
    from .producer import Producer
    from .transport import Transport
    from .types import RtpCapabilities, RtpParameters

__all__ = ["Consumer", "create_consumer", "write_consume_request"]

logger = logging.getLogger(__name__)
_CLOSE_CONSUMER = table_spec(FbsCloseConsumer, "ConsumerId")

CONSUMER_TRACE_TYPES = {"keyframe": TraceEventType.KEYFRAME, "fir": TraceEventType.FIR,
                        "nack": TraceEventType.NACK, "pli": TraceEventType.PLI,
                        "rtp": TraceEventType.RTP}
_TRACE_NAMES = {v: k for k, v in CONSUMER_TRACE_TYPES.items()}
_CONSUME_RESPONSE = slots(ConsumeResponse)
_SCORE = slots(ConsumerScore)
_LAYERS = slots(FbsConsumerLayers.ConsumerLayers)
_LAYERS_SPEC = table_spec(FbsConsumerLayers, "SpatialLayer", "TemporalLayer")
_CONSUME_REQUEST = table_spec(FbsConsumeRequest, "ConsumerId", "ProducerId", "Kind",
                              "RtpParameters", "Type", "ConsumableRtpEncodings", "Paused",
                              "PreferredLayers", "IgnoreDtx")


def _layers(table: Any) -> dict[str, int] | None:
    if table is None:
        return None
    return fields(table, ("spatialLayer", "temporalLayer"))


def _read_layers(table: Table | None) -> dict[str, int] | None:
    if table is None:
        return None
    layers = {"spatialLayer": table.u8(_LAYERS.SpatialLayer)}
    temporal = table.u8(_LAYERS.TemporalLayer)
    if temporal is not None:
        layers["temporalLayer"] = temporal
    return layers


def _check_layers(layers: Any) -> None:
    if not isinstance(layers, dict) or not isinstance(layers.get("spatialLayer"), int):
        raise InvalidParameterError("preferred layers need an integer spatialLayer")
    temporal = layers.get("temporalLayer")
    if temporal is not None and not isinstance(temporal, int):
        raise InvalidParameterError("if given, temporalLayer must be an integer")


def write_consume_request(builder: Builder, consumer_id: str, producer_id: str,
                          rtp_parameters: RtpParameters, encodings: list[Any],
                          flags: tuple[str, str, bool, tuple[int, int | None] | None, bool]
                          ) -> int:
    """A ``ConsumeRequest`` table; ``encodings`` are the producer's consumable ones, ``flags``
    its kind, the consumer's type, paused, preferred layers and ignore-DTX."""
    kind, consumer_type, paused, layers, ignore_dtx = flags
    params_offset = serialize_rtp_parameters(builder, rtp_parameters)
    id_offset = builder.CreateString(consumer_id)
    producer_offset = builder.CreateString(producer_id)
    encodings_offset = serialize_encodings(builder, encodings)
    layers_offset = 0
    if layers is not None:
        layers_offset = builder.table(_LAYERS_SPEC, layers)
    return builder.table(_CONSUME_REQUEST, (
        id_offset, producer_offset, kind_to_fbs(kind), params_offset,
        producer_type_to_fbs(consumer_type), encodings_offset, paused, layers_offset,
        ignore_dtx))


async def create_consumer(transport: Transport, *, producer: Producer,
                          rtp_capabilities: dict[str, Any] | None, paused: bool,
                          mid: str | None, preferred_layers: dict[str, int] | None,
                          ignore_dtx: bool, enable_rtx: bool | None, pipe: bool,
                          app_data: dict[str, Any] | None) -> Consumer:
    """Compute the consumer's RTP parameters and ask the worker; use ``Transport.consume``."""
    check_app_data(app_data)
    if preferred_layers is not None:
        _check_layers(preferred_layers)
    plan: ConsumePlan | None = None
    if transport.type == "pipe":
        rtp_parameters = ortc.get_pipe_consumer_rtp_parameters(
            consumable_rtp_parameters=producer.consumable_rtp_parameters,
            enable_rtx=bool(transport._data.get("rtx")))
    else:
        if rtp_capabilities is None:
            raise InvalidParameterError("missing rtp_capabilities")
        if enable_rtx is None:
            enable_rtx = producer.kind == "video"
        if pipe:
            # get_consumer_rtp_parameters validates the capabilities (whole) first.
            rtp_parameters = ortc.get_consumer_rtp_parameters(
                consumable_rtp_parameters=producer.consumable_rtp_parameters,
                remote_rtp_capabilities=cast("RtpCapabilities", rtp_capabilities), pipe=True,
                enable_rtx=enable_rtx)
        else:
            rtp_parameters, plan, shape = consume_plan(producer, rtp_capabilities, enable_rtx)
            rtp_parameters["mid"] = mid if mid else transport._next_consumer_mid()
    consumer_id = new_id()
    consumer_type = "pipe" if pipe else producer.type
    layers = (None if preferred_layers is None else
              (preferred_layers["spatialLayer"], preferred_layers.get("temporalLayer")))
    flags = (producer.kind, consumer_type, bool(paused), layers, bool(ignore_dtx))

    body: Any
    if plan is not None:
        # A consume of a known shape: its request from a template of the plan, with the ids,
        # MID, SSRCs, the producer's mapped SSRCs and its CNAME written in.
        templated = plan

        def build(builder: Builder, values: tuple[Any, ...]) -> int:
            return write_consume_request(builder, values[0], templated.producer_id(values),
                                         templated.filled(values),
                                         templated.encodings(values), flags)

        body = Templated(plan.templates, flags, build, plan.values(
            consumer_id, rtp_parameters, producer.id, shape.ssrcs, shape.cname))
    else:
        encodings = producer.consumable_rtp_parameters.get("encodings") or []
        body = lambda builder: write_consume_request(  # noqa: E731
            builder, consumer_id, producer.id, rtp_parameters, encodings, flags)
    response = await transport._request(Method.TRANSPORT_CONSUME,
                                         RequestBody.Transport_ConsumeRequest, body)
    transport._check_open()
    status = reply_body(response)
    score_table = status.required(_CONSUME_RESPONSE.Score)
    score = {"score": score_table.u8(_SCORE.Score),
             "producerScore": score_table.u8(_SCORE.ProducerScore),
             "producerScores": score_table.u8s(_SCORE.ProducerScores)}
    layers_table = status.table(_CONSUME_RESPONSE.PreferredLayers)
    return Consumer(transport=transport, consumer_id=consumer_id, producer=producer,
                    rtp_parameters=rtp_parameters, consumer_type=consumer_type,
                    paused=status.bool(_CONSUME_RESPONSE.Paused),
                    producer_paused=status.bool(_CONSUME_RESPONSE.ProducerPaused),
                    score=score, preferred_layers=_read_layers(layers_table), app_data=app_data)


class Consumer(TransportChild):
    """A producer's media sent to the remote endpoint of a transport.

    Events: ``transportclose``, ``producerclose``, ``producerpause``, ``producerresume``,
    ``score``, ``layerschange``, ``trace``, ``rtp`` (DirectTransport).
    Observer events: ``close``, ``pause``, ``resume``, ``score``, ``layerschange``, ``trace``.
    """

    _noun = "consumer"
    _close_method = Method.TRANSPORT_CLOSE_CONSUMER
    _close_body_type = RequestBody.Transport_CloseConsumerRequest
    _close_spec = _CLOSE_CONSUMER
    _registry = "_consumers"
    _upstream_paused = "producer_paused"

    def __init__(self, *, transport: Transport, consumer_id: str, producer: Producer,
                 rtp_parameters: RtpParameters, consumer_type: str, paused: bool,
                 producer_paused: bool, score: dict[str, Any],
                 preferred_layers: dict[str, int] | None,
                 app_data: dict[str, Any] | None) -> None:
        super().__init__()
        self.id = consumer_id
        self.producer_id = producer.id
        self.kind = producer.kind
        self.rtp_parameters = rtp_parameters
        self.type = consumer_type
        self.paused = paused
        self.producer_paused = producer_paused
        self.priority = 1
        self.score = score
        self.preferred_layers = preferred_layers
        self.current_layers: dict[str, int] | None = None
        self._attach(transport, app_data)

    async def dump(self) -> dict[str, Any]:
        """The worker's view of this consumer."""
        data = body_of(await self._request(Method.CONSUMER_DUMP), DumpResponse).Data()
        base = data.Base()
        out: dict[str, Any] = {
            "id": base.Id().decode(),
            "producerId": base.ProducerId().decode(),
            "kind": kind_from_fbs(base.Kind()),
            "type": producer_type_from_fbs(base.Type()),
            "rtpParameters": parse_rtp_parameters(base.RtpParameters()),
            "consumableRtpEncodings": [parse_encoding(base.ConsumableRtpEncodings(i))
                                       for i in range(base.ConsumableRtpEncodingsLength())],
            "supportedCodecPayloadTypes": [base.SupportedCodecPayloadTypes(i) for i in
                                           range(base.SupportedCodecPayloadTypesLength())],
            "traceEventTypes": [_TRACE_NAMES[base.TraceEventTypes(i)]
                                for i in range(base.TraceEventTypesLength())],
            "paused": base.Paused(),
            "producerPaused": base.ProducerPaused(),
            "priority": base.Priority(),
        }
        streams = [parse_rtp_stream_dump(data.RtpStreams(i))
                   for i in range(data.RtpStreamsLength())]
        if out["type"] == "pipe":
            out["rtpStreams"] = streams
        else:
            out["rtpStream"] = streams[0] if streams else None
        if out["type"] in ("simulcast", "svc"):
            fields(data, ("preferredSpatialLayer", "targetSpatialLayer", "currentSpatialLayer",
                          "preferredTemporalLayer", "targetTemporalLayer",
                          "currentTemporalLayer"), out)
        return out

    async def get_stats(self) -> list[dict[str, Any]]:
        """``outbound-rtp`` stats of this consumer, then ``inbound-rtp`` of its producer."""
        stats = body_of(await self._request(Method.CONSUMER_GET_STATS), GetStatsResponse)
        return [parse_rtp_stream_stats(stats.Stats(i)) for i in range(stats.StatsLength())]

    async def pause(self) -> None:
        """Stop sending to the remote endpoint."""
        await self._set_paused(Method.CONSUMER_PAUSE, True, upstream_paused=self.producer_paused)

    async def resume(self) -> None:
        """Start (or restart) sending; consumers are usually created paused."""
        await self._set_paused(Method.CONSUMER_RESUME, False,
                               upstream_paused=self.producer_paused)

    async def set_preferred_layers(self, *, spatial_layer: int,
                                   temporal_layer: int | None = None) -> None:
        """Prefer these simulcast/SVC layers (the worker picks what bandwidth allows)."""
        _check_layers({"spatialLayer": spatial_layer, "temporalLayer": temporal_layer})
        response = await self._request(
            Method.CONSUMER_SET_PREFERRED_LAYERS, RequestBody.Consumer_SetPreferredLayersRequest,
            SetPreferredLayersRequestT(preferredLayers=ConsumerLayersT(
                spatialLayer=spatial_layer, temporalLayer=temporal_layer)))
        body = body_of(response, SetPreferredLayersResponse)
        self.preferred_layers = _layers(body.PreferredLayers()) if body is not None else None

    async def set_priority(self, priority: int) -> None:
        """Bandwidth priority among the transport's consumers (1..255; default 1)."""
        if not isinstance(priority, int) or isinstance(priority, bool) or not 1 <= priority <= 255:
            raise InvalidParameterError("priority must be an integer from 1 to 255")
        response = await self._request(Method.CONSUMER_SET_PRIORITY,
                                       RequestBody.Consumer_SetPriorityRequest,
                                       SetPriorityRequestT(priority=priority))
        self.priority = body_of(response, SetPriorityResponse).Priority()

    async def unset_priority(self) -> None:
        """Back to the default priority (1)."""
        await self.set_priority(1)

    async def request_key_frame(self) -> None:
        """Ask the producer's endpoint for a key frame (video)."""
        await self._request(Method.CONSUMER_REQUEST_KEY_FRAME)

    async def enable_trace_event(self, types: list[str] | None = None) -> None:
        """Emit ``trace`` events of these types (keyframe, fir, nack, pli, rtp)."""
        events = trace_event_types(types, CONSUMER_TRACE_TYPES)
        await self._request(Method.CONSUMER_ENABLE_TRACE_EVENT,
                            RequestBody.Consumer_EnableTraceEventRequest,
                            EnableTraceEventRequestT(events=events))

    def _on_notification(self, event: int, notification: Notification) -> None:
        if event == Event.CONSUMER_PRODUCER_CLOSE:
            self._close(event="producerclose")
        elif event == Event.CONSUMER_PRODUCER_PAUSE:
            self._on_upstream_pause(True, "producerpause")
        elif event == Event.CONSUMER_PRODUCER_RESUME:
            self._on_upstream_pause(False, "producerresume")
        elif event == Event.CONSUMER_SCORE:
            table = notification_body(notification, ScoreNotification).Score()
            self.score = {"score": table.Score(), "producerScore": table.ProducerScore(),
                          "producerScores": [table.ProducerScores(i)
                                             for i in range(table.ProducerScoresLength())]}
            self.emit("score", self.score)
            self.observer.emit("score", self.score)
        elif event == Event.CONSUMER_LAYERS_CHANGE:
            body = notification_body(notification, LayersChangeNotification)
            self.current_layers = _layers(body.Layers()) if body is not None else None
            self.emit("layerschange", self.current_layers)
            self.observer.emit("layerschange", self.current_layers)
        elif event == Event.CONSUMER_TRACE:
            trace = parse_media_trace(notification_body(notification, TraceNotification),
                                      TraceNotificationT, _TRACE_NAMES)
            self.emit("trace", trace)
            self.observer.emit("trace", trace)
        elif event == Event.CONSUMER_RTP:
            self.emit("rtp", raw_bytes(notification_body(notification, RtpNotification), 4))
        else:
            logger.error("ignoring unknown event %s [consumer:%s]",
                         EVENT_NAMES.get(event, event), self.id)

    def __repr__(self) -> str:
        return f"<Consumer id={self.id} kind={self.kind} closed={self.closed}>"

