"""Producer: media a transport receives from its remote endpoint."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

import FBS.Producer.SendNotification as FbsSend
import FBS.Transport.CloseProducerRequest as FbsCloseProducer
import FBS.Transport.ProduceRequest as FbsProduceRequest
import flatbuffers
from FBS.Common.TraceDirection import TraceDirection
from FBS.Notification.Body import Body as NotificationBody
from FBS.Notification.Event import Event
from FBS.Notification.Notification import Notification
from FBS.Producer.DumpResponse import DumpResponse
from FBS.Producer.EnableTraceEventRequest import EnableTraceEventRequestT
from FBS.Producer.GetStatsResponse import GetStatsResponse
from FBS.Producer.ScoreNotification import ScoreNotification
from FBS.Producer.TraceEventType import TraceEventType
from FBS.Producer.TraceNotification import TraceNotification, TraceNotificationT
from FBS.Producer.VideoOrientationChangeNotification import VideoOrientationChangeNotification
from FBS.Request.Body import Body as RequestBody
from FBS.Request.Method import Method
from FBS.Transport.ProduceResponse import ProduceResponse

from .channel import EVENT_NAMES, body_of, notification_body, reply_body
from .errors import InvalidParameterError
from .fbs_builder import Builder
from .fbs_read import slots
from .fbs_rtp import (
    kind_from_fbs,
    kind_to_fbs,
    parse_rtp_parameters,
    producer_type_from_fbs,
    serialize_rtp_mapping,
    serialize_rtp_parameters,
)
from .fbs_stats import parse_rtp_stream_dump, parse_rtp_stream_stats
from .fbs_table import table_spec
from .fbs_template import Templated
from .fbs_utils import check_app_data, fields, new_id, to_dict, trace_event_types
from .negotiation_cache import ProducePlan, produce_plan
from .transport_child import TransportChild

if TYPE_CHECKING:
    from .transport import Transport
    from .types import MediaKind, RtpMapping, RtpParameters

__all__ = ["Producer", "create_producer", "parse_media_trace"]

logger = logging.getLogger(__name__)
_CLOSE_PRODUCER = table_spec(FbsCloseProducer, "ProducerId")

PRODUCER_TRACE_TYPES = {"keyframe": TraceEventType.KEYFRAME, "fir": TraceEventType.FIR,
                        "nack": TraceEventType.NACK, "pli": TraceEventType.PLI,
                        "rtp": TraceEventType.RTP, "sr": TraceEventType.SR}
_TRACE_NAMES = {v: k for k, v in PRODUCER_TRACE_TYPES.items()}
_PRODUCE_RESPONSE = slots(ProduceResponse)
_PRODUCE_REQUEST = table_spec(FbsProduceRequest, "ProducerId", "Kind", "RtpParameters",
                              "RtpMapping", "KeyFrameRequestDelay", "Paused")


def parse_media_trace(table: Any, t_class: type[Any], names: dict[int, str]) -> dict[str, Any]:
    """A producer/consumer ``TraceNotification`` as mediasoup's trace event data."""
    trace = t_class.InitFromObj(table)
    return {
        "type": names.get(trace.type, str(trace.type)),
        "timestamp": trace.timestamp,
        "direction": "in" if trace.direction == TraceDirection.DIRECTION_IN else "out",
        "info": to_dict(trace.info) if trace.info is not None else None,
    }


async def create_producer(transport: Transport, *, kind: str, rtp_parameters: Mapping[str, Any],
                          producer_id: str | None, paused: bool,
                          key_frame_request_delay: int | None,
                          app_data: dict[str, Any] | None) -> Producer:
    """Validate, map onto the router, ask the worker; use ``Transport.produce``."""
    if kind not in ("audio", "video"):
        raise InvalidParameterError(f"invalid kind {kind!r}")
    check_app_data(app_data)
    if key_frame_request_delay is not None and (
        not isinstance(key_frame_request_delay, int) or key_frame_request_delay < 0
    ):
        raise InvalidParameterError("key_frame_request_delay must be a non-negative integer")
    params, consumable, mapping, ssrcs, plan, plan_values = produce_plan(
        transport, cast("MediaKind", kind), rtp_parameters)
    producer_id = producer_id or new_id()
    flags = (key_frame_request_delay or 0, bool(paused))

    def write(builder: Builder, rtp_parameters: RtpParameters, mapping: RtpMapping,
              producer_id: str) -> int:
        id_offset = builder.CreateString(producer_id)
        params_offset = serialize_rtp_parameters(builder, rtp_parameters)
        mapping_offset = serialize_rtp_mapping(builder, mapping)
        return builder.table(_PRODUCE_REQUEST, (
            id_offset, kind_to_fbs(kind), params_offset, mapping_offset, *flags))

    body: Any
    if plan is not None:
        # The request of a produce of a known shape is copied from a template of its plan,
        # with its id, mapped SSRCs, the endpoint's SSRCs and the CNAME written in.
        body = Templated(plan.templates, flags, _plan_writer(plan, write, len(ssrcs)),
                         (producer_id, *ssrcs, *plan_values))
    else:
        body = lambda builder: write(builder, params, mapping, producer_id)  # noqa: E731
    response = await transport._request(Method.TRANSPORT_PRODUCE,
                                         RequestBody.Transport_ProduceRequest, body)
    transport._check_open()  # closed while we waited: the worker dropped the producer too
    producer_type = reply_body(response).u8(_PRODUCE_RESPONSE.Type)
    return Producer(transport=transport, producer_id=producer_id, kind=kind,
                    rtp_parameters=params, producer_type=producer_type_from_fbs(producer_type),
                    consumable_rtp_parameters=consumable, paused=bool(paused),
                    app_data=app_data)


def _plan_writer(plan: ProducePlan, write: Callable[..., int], mapped_count: int
                 ) -> Callable[[Builder, tuple[Any, ...]], int]:
    """The body writer of a planned produce: ``values`` are the producer id, the mapped
    SSRCs, the endpoint's SSRCs and RTX SSRCs, then the CNAME when the plan writes one."""
    ssrc_end = 1 + mapped_count + len(plan.ssrc_slots)
    rtx_end = ssrc_end + len(plan.rtx_slots)

    def build(builder: Builder, values: tuple[Any, ...]) -> int:
        ssrcs = values[1 + mapped_count:ssrc_end]
        cname = values[rtx_end] if len(values) > rtx_end else None
        return write(builder, plan.params(cname, ssrcs, values[ssrc_end:rtx_end]),
                     plan.mapping(values[1:1 + mapped_count], ssrcs), values[0])

    return build


class Producer(TransportChild):
    """Media received from the remote endpoint of a transport.

    Events: ``transportclose``, ``score``, ``videoorientationchange``, ``trace``.
    Observer events: ``close``, ``pause``, ``resume``, ``score``, ``videoorientationchange``,
    ``trace``.
    """

    _noun = "producer"
    _close_method = Method.TRANSPORT_CLOSE_PRODUCER
    _close_body_type = RequestBody.Transport_CloseProducerRequest
    _close_spec = _CLOSE_PRODUCER
    _registry = "_producers"
    _router_registry = "_producers"

    def __init__(self, *, transport: Transport, producer_id: str, kind: str,
                 rtp_parameters: RtpParameters, producer_type: str,
                 consumable_rtp_parameters: RtpParameters, paused: bool,
                 app_data: dict[str, Any] | None) -> None:
        super().__init__()
        self.id = producer_id
        self.kind = kind
        self.rtp_parameters = rtp_parameters
        self.type = producer_type
        self.consumable_rtp_parameters = consumable_rtp_parameters
        self.paused = paused
        self.score: list[dict[str, Any]] = []
        # negotiation_cache: its consumable parameters' shape (made at its first consume)
        self._consumable_shape: Any = None
        self._attach(transport, app_data)

    async def dump(self) -> dict[str, Any]:
        """The worker's view of this producer (RTP streams, mapping, ...)."""
        dump = body_of(await self._request(Method.PRODUCER_DUMP), DumpResponse)
        mapping = dump.RtpMapping()
        return {
            "id": dump.Id().decode(),
            "kind": kind_from_fbs(dump.Kind()),
            "type": producer_type_from_fbs(dump.Type()),
            "rtpParameters": parse_rtp_parameters(dump.RtpParameters()),
            "rtpMapping": {
                "codecs": [fields(mapping.Codecs(i), ("payloadType", "mappedPayloadType"))
                           for i in range(mapping.CodecsLength())],
                "encodings": [fields(mapping.Encodings(i),
                                     ("rid", "ssrc", "scalabilityMode", "mappedSsrc"))
                              for i in range(mapping.EncodingsLength())],
            },
            "rtpStreams": [parse_rtp_stream_dump(dump.RtpStreams(i))
                           for i in range(dump.RtpStreamsLength())],
            "traceEventTypes": [_TRACE_NAMES[dump.TraceEventTypes(i)]
                                for i in range(dump.TraceEventTypesLength())],
            "paused": dump.Paused(),
        }

    async def get_stats(self) -> list[dict[str, Any]]:
        """``inbound-rtp`` stats, one per received stream."""
        stats = body_of(await self._request(Method.PRODUCER_GET_STATS), GetStatsResponse)
        return [parse_rtp_stream_stats(stats.Stats(i)) for i in range(stats.StatsLength())]

    async def pause(self) -> None:
        """Stop forwarding this producer's media to its consumers."""
        await self._set_paused(Method.PRODUCER_PAUSE, True)

    async def resume(self) -> None:
        """Forward this producer's media again."""
        await self._set_paused(Method.PRODUCER_RESUME, False)

    async def enable_trace_event(self, types: list[str] | None = None) -> None:
        """Emit ``trace`` events of these types (keyframe, fir, nack, pli, rtp, sr)."""
        events = trace_event_types(types, PRODUCER_TRACE_TYPES)
        await self._request(Method.PRODUCER_ENABLE_TRACE_EVENT,
                            RequestBody.Producer_EnableTraceEventRequest,
                            EnableTraceEventRequestT(events=events))

    def send(self, rtp_packet: bytes) -> None:
        """Inject an RTP packet (producers of a DirectTransport only)."""
        self._check_open()
        if not isinstance(rtp_packet, bytes | bytearray | memoryview):
            raise InvalidParameterError("rtp_packet must be bytes")
        data = bytes(rtp_packet)
        self._channel.notify(Event.PRODUCER_SEND, self.id,
                             NotificationBody.Producer_SendNotification,
                             lambda builder: _send_body(builder, data))

    def _on_notification(self, event: int, notification: Notification) -> None:
        if event == Event.PRODUCER_SCORE:
            body = notification_body(notification, ScoreNotification)
            score = []
            for i in range(body.ScoresLength()):
                item = fields(body.Scores(i), ("encodingIdx", "ssrc", "rid", "score"))
                score.append(item)
            self.score = score
            self.emit("score", score)
            self.observer.emit("score", score)
        elif event == Event.PRODUCER_VIDEO_ORIENTATION_CHANGE:
            body = notification_body(notification, VideoOrientationChangeNotification)
            orientation = {"camera": body.Camera(), "flip": body.Flip(),
                           "rotation": body.Rotation()}
            self.emit("videoorientationchange", orientation)
            self.observer.emit("videoorientationchange", orientation)
        elif event == Event.PRODUCER_TRACE:
            trace = parse_media_trace(notification_body(notification, TraceNotification),
                                      TraceNotificationT, _TRACE_NAMES)
            self.emit("trace", trace)
            self.observer.emit("trace", trace)
        else:
            logger.error("ignoring unknown event %s [producer:%s]",
                         EVENT_NAMES.get(event, event), self.id)

    def __repr__(self) -> str:
        return f"<Producer id={self.id} kind={self.kind} closed={self.closed}>"


def _send_body(builder: flatbuffers.Builder, data: bytes) -> int:
    """A ``Producer.SendNotification`` (and DataProducer's: same layout) with ``data``."""
    vector = builder.CreateByteVector(data)
    FbsSend.Start(builder)
    FbsSend.AddData(builder, vector)
    offset: int = FbsSend.End(builder)
    return offset
