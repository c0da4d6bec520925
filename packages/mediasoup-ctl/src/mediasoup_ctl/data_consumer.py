"""DataConsumer: a data producer's messages sent to the remote endpoint of a transport."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import FBS.DataConsumer.SendRequest as FbsSendRequest
import FBS.Transport.CloseDataConsumerRequest as FbsCloseDataConsumer
import FBS.Transport.ConsumeDataRequest as FbsConsumeDataRequest
import flatbuffers
from FBS.DataConsumer.AddSubchannelRequest import AddSubchannelRequestT
from FBS.DataConsumer.AddSubchannelResponse import AddSubchannelResponse
from FBS.DataConsumer.BufferedAmountLowNotification import BufferedAmountLowNotification
from FBS.DataConsumer.DumpResponse import DumpResponse
from FBS.DataConsumer.GetBufferedAmountResponse import GetBufferedAmountResponse
from FBS.DataConsumer.GetStatsResponse import GetStatsResponse
from FBS.DataConsumer.MessageNotification import MessageNotification
from FBS.DataConsumer.RemoveSubchannelRequest import RemoveSubchannelRequestT
from FBS.DataConsumer.RemoveSubchannelResponse import RemoveSubchannelResponse
from FBS.DataConsumer.SetBufferedAmountLowThresholdRequest import (
    SetBufferedAmountLowThresholdRequestT,
)
from FBS.DataConsumer.SetSubchannelsRequest import SetSubchannelsRequestT
from FBS.DataConsumer.SetSubchannelsResponse import SetSubchannelsResponse
from FBS.Notification.Event import Event
from FBS.Notification.Notification import Notification
from FBS.Request.Body import Body as RequestBody
from FBS.Request.Method import Method

from .channel import EVENT_NAMES, body_of, notification_body
from .data_producer import DATA_TYPE_NAMES, DATA_TYPES, message_ppid
from .errors import InvalidParameterError
from .fbs_rtp import number_vector
from .fbs_table import table_spec
from .fbs_transport import parse_sctp_stream_parameters, sctp_stream_parameters_to_fbs
from .fbs_utils import check_app_data, fields, new_id, raw_bytes
from .transport_child import TransportChild

if TYPE_CHECKING:
    from .data_producer import DataProducer
    from .transport import Transport

__all__ = ["DataConsumer", "create_data_consumer"]

logger = logging.getLogger(__name__)
_CLOSE_DATA_CONSUMER = table_spec(FbsCloseDataConsumer, "DataConsumerId")


async def create_data_consumer(
    transport: Transport, *, data_producer: DataProducer, ordered: bool | None,
    max_packet_life_time: int | None, max_retransmits: int | None, paused: bool,
    subchannels: list[int] | None, app_data: dict[str, Any] | None,
) -> tuple[DataConsumer, int | None]:
    """Pick SCTP stream parameters and ask the worker; use ``Transport.consume_data``.

    Returns the data consumer and the SCTP stream id it took (None on a DirectTransport).
    """
    check_app_data(app_data)
    if subchannels is not None and (
        not isinstance(subchannels, list) or any(not isinstance(s, int) for s in subchannels)
    ):
        raise InvalidParameterError("subchannels must be a list of integers")
    params: dict[str, Any] | None = None
    stream_id: int | None = None
    if transport.type == "direct":
        data_type = "direct"
    else:
        data_type = "sctp"
        stream_id = transport._take_sctp_stream_id()
        params = dict(data_producer.sctp_stream_parameters or {"ordered": True})
        params["streamId"] = stream_id
        if ordered is not None:
            params["ordered"] = ordered
            if ordered:
                params.pop("maxPacketLifeTime", None)
                params.pop("maxRetransmits", None)
        if not ordered:
            if max_packet_life_time is not None:
                params["ordered"] = False
                params["maxPacketLifeTime"] = max_packet_life_time
            if max_retransmits is not None:
                params["ordered"] = False
                params["maxRetransmits"] = max_retransmits
    data_consumer_id = new_id()
    channels = list(subchannels or [])

    def build(builder: flatbuffers.Builder) -> int:
        id_offset = builder.CreateString(data_consumer_id)
        producer_offset = builder.CreateString(data_producer.id)
        label_offset = builder.CreateString(data_producer.label)
        protocol_offset = builder.CreateString(data_producer.protocol)
        params_offset = sctp_stream_parameters_to_fbs(params).Pack(builder) if params else 0
        channels_offset = number_vector(builder, channels, 2, builder.PrependUint16)
        FbsConsumeDataRequest.Start(builder)
        FbsConsumeDataRequest.AddDataConsumerId(builder, id_offset)
        FbsConsumeDataRequest.AddDataProducerId(builder, producer_offset)
        FbsConsumeDataRequest.AddType(builder, DATA_TYPES[data_type])
        if params_offset:
            FbsConsumeDataRequest.AddSctpStreamParameters(builder, params_offset)
        FbsConsumeDataRequest.AddLabel(builder, label_offset)
        FbsConsumeDataRequest.AddProtocol(builder, protocol_offset)
        FbsConsumeDataRequest.AddPaused(builder, bool(paused))
        FbsConsumeDataRequest.AddSubchannels(builder, channels_offset)
        offset: int = FbsConsumeDataRequest.End(builder)
        return offset

    try:
        response = await transport._request(Method.TRANSPORT_CONSUME_DATA,
                                             RequestBody.Transport_ConsumeDataRequest, build)
        transport._check_open()
    except BaseException:
        if stream_id is not None and transport._sctp_stream_ids is not None:
            transport._sctp_stream_ids[stream_id] = 0
        raise
    dump = _parse_dump(body_of(response, DumpResponse))
    return DataConsumer(transport=transport, data_consumer_id=data_consumer_id, dump=dump,
                        app_data=app_data), stream_id


def _parse_dump(table: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": table.Id().decode(),
        "dataProducerId": table.DataProducerId().decode(),
        "type": DATA_TYPE_NAMES[table.Type()],
    }
    if table.SctpStreamParameters() is not None:
        out["sctpStreamParameters"] = parse_sctp_stream_parameters(table.SctpStreamParameters())
    out.update({
        "label": table.Label().decode(),
        "protocol": table.Protocol().decode(),
        "bufferedAmountLowThreshold": table.BufferedAmountLowThreshold(),
        "paused": table.Paused(),
        "dataProducerPaused": table.DataProducerPaused(),
        "subchannels": [table.Subchannels(i) for i in range(table.SubchannelsLength())],
    })
    return out


class DataConsumer(TransportChild):
    """Data sent to the remote endpoint.

    Events: ``transportclose``, ``dataproducerclose``, ``dataproducerpause``,
    ``dataproducerresume``, ``message`` (DirectTransport: ``(bytes, ppid)``),
    ``sctpsendbufferfull``, ``bufferedamountlow``. Observer: ``close``, ``pause``, ``resume``.
    """

    _noun = "data consumer"
    _close_method = Method.TRANSPORT_CLOSE_DATACONSUMER
    _close_body_type = RequestBody.Transport_CloseDataConsumerRequest
    _close_spec = _CLOSE_DATA_CONSUMER
    _registry = "_data_consumers"
    _upstream_paused = "data_producer_paused"

    def __init__(self, *, transport: Transport, data_consumer_id: str, dump: dict[str, Any],
                 app_data: dict[str, Any] | None) -> None:
        super().__init__()
        self.id = data_consumer_id
        self.data_producer_id: str = dump["dataProducerId"]
        self.type: str = dump["type"]
        self.sctp_stream_parameters: dict[str, Any] | None = dump.get("sctpStreamParameters")
        self.label: str = dump["label"]
        self.protocol: str = dump["protocol"]
        self.buffered_amount_low_threshold: int = dump["bufferedAmountLowThreshold"]
        self.paused: bool = dump["paused"]
        self.data_producer_paused: bool = dump["dataProducerPaused"]
        self.subchannels: list[int] = dump["subchannels"]
        self._attach(transport, app_data)

    async def dump(self) -> dict[str, Any]:
        """The worker's view of this data consumer."""
        return _parse_dump(body_of(await self._request(Method.DATACONSUMER_DUMP), DumpResponse))

    async def get_stats(self) -> list[dict[str, Any]]:
        """``data-consumer`` stats (messages and bytes sent)."""
        body = body_of(await self._request(Method.DATACONSUMER_GET_STATS), GetStatsResponse)
        stats = {"type": "data-consumer"}
        fields(body, ("timestamp", "label", "protocol", "messagesSent", "bytesSent",
                      "bufferedAmount"), stats)
        return [stats]

    async def pause(self) -> None:
        """Stop sending messages."""
        await self._set_paused(Method.DATACONSUMER_PAUSE, True,
                               upstream_paused=self.data_producer_paused)

    async def resume(self) -> None:
        """Send messages again."""
        await self._set_paused(Method.DATACONSUMER_RESUME, False,
                               upstream_paused=self.data_producer_paused)

    async def get_buffered_amount(self) -> int:
        """Bytes queued in the SCTP send buffer."""
        response = await self._request(Method.DATACONSUMER_GET_BUFFERED_AMOUNT)
        offset: int = body_of(response, GetBufferedAmountResponse).BufferedAmount()
        return offset

    async def set_buffered_amount_low_threshold(self, threshold: int) -> None:
        """Emit ``bufferedamountlow`` when the buffer drains below ``threshold`` bytes."""
        if not isinstance(threshold, int) or threshold < 0:
            raise InvalidParameterError("threshold must be a non-negative integer")
        await self._request(Method.DATACONSUMER_SET_BUFFERED_AMOUNT_LOW_THRESHOLD,
                            RequestBody.DataConsumer_SetBufferedAmountLowThresholdRequest,
                            SetBufferedAmountLowThresholdRequestT(threshold=threshold))
        self.buffered_amount_low_threshold = threshold

    async def send(self, message: str | bytes, ppid: int | None = None) -> None:
        """Send a message to the remote endpoint from Python (SCTP data consumers)."""
        data, ppid = message_ppid(message, ppid)

        def build(builder: flatbuffers.Builder) -> int:
            data_offset = builder.CreateByteVector(data)
            FbsSendRequest.Start(builder)
            FbsSendRequest.AddPpid(builder, ppid)
            FbsSendRequest.AddData(builder, data_offset)
            offset: int = FbsSendRequest.End(builder)
            return offset

        await self._request(Method.DATACONSUMER_SEND, RequestBody.DataConsumer_SendRequest, build)

    async def set_subchannels(self, subchannels: list[int]) -> None:
        """Receive only messages sent to these subchannels (or to none)."""
        await self._subchannels_request(
            Method.DATACONSUMER_SET_SUBCHANNELS, RequestBody.DataConsumer_SetSubchannelsRequest,
            SetSubchannelsRequestT(subchannels=list(subchannels)), SetSubchannelsResponse)

    async def add_subchannel(self, subchannel: int) -> None:
        """Add one subchannel."""
        await self._subchannels_request(
            Method.DATACONSUMER_ADD_SUBCHANNEL, RequestBody.DataConsumer_AddSubchannelRequest,
            AddSubchannelRequestT(subchannel=subchannel), AddSubchannelResponse)

    async def remove_subchannel(self, subchannel: int) -> None:
        """Remove one subchannel."""
        await self._subchannels_request(
            Method.DATACONSUMER_REMOVE_SUBCHANNEL,
            RequestBody.DataConsumer_RemoveSubchannelRequest,
            RemoveSubchannelRequestT(subchannel=subchannel), RemoveSubchannelResponse)

    async def _subchannels_request(self, method: int, body_type: int, body: Any,
                                   response_class: Any) -> None:
        """Change the subchannels; the worker answers with the whole new list, kept here."""
        reply = body_of(await self._request(method, body_type, body), response_class)
        self.subchannels = [reply.Subchannels(i) for i in range(reply.SubchannelsLength())]

    def _on_notification(self, event: int, notification: Notification) -> None:
        if event == Event.DATACONSUMER_DATAPRODUCER_CLOSE:
            self._close(event="dataproducerclose")
        elif event == Event.DATACONSUMER_DATAPRODUCER_PAUSE:
            self._on_upstream_pause(True, "dataproducerpause")
        elif event == Event.DATACONSUMER_DATAPRODUCER_RESUME:
            self._on_upstream_pause(False, "dataproducerresume")
        elif event == Event.DATACONSUMER_SCTP_SENDBUFFER_FULL:
            self.emit("sctpsendbufferfull")
        elif event == Event.DATACONSUMER_BUFFERED_AMOUNT_LOW:
            body = notification_body(notification, BufferedAmountLowNotification)
            self.emit("bufferedamountlow", body.BufferedAmount())
        elif event == Event.DATACONSUMER_MESSAGE:
            body = notification_body(notification, MessageNotification)
            self.emit("message", raw_bytes(body, 6), body.Ppid())
        else:
            logger.error("ignoring unknown event %s [data consumer:%s]",
                         EVENT_NAMES.get(event, event), self.id)

    def __repr__(self) -> str:
        return f"<DataConsumer id={self.id} type={self.type} closed={self.closed}>"
