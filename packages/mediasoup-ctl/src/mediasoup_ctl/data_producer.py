"""DataProducer: messages a transport receives (SCTP stream, or ``send()`` on a DirectTransport)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import FBS.DataProducer.SendNotification as FbsSend
import FBS.Transport.CloseDataProducerRequest as FbsCloseDataProducer
import FBS.Transport.ProduceDataRequest as FbsProduceDataRequest
import flatbuffers
from FBS.DataProducer.DumpResponse import DumpResponse
from FBS.DataProducer.GetStatsResponse import GetStatsResponse
from FBS.DataProducer.Type import Type as DataType
from FBS.Notification.Body import Body as NotificationBody
from FBS.Notification.Event import Event
from FBS.Request.Body import Body as RequestBody
from FBS.Request.Method import Method

from . import ortc
from .channel import body_of
from .errors import InvalidParameterError, InvalidStateError
from .fbs_rtp import number_vector
from .fbs_table import table_spec
from .fbs_transport import parse_sctp_stream_parameters, sctp_stream_parameters_to_fbs
from .fbs_utils import check_app_data, fields, new_id
from .transport_child import TransportChild

if TYPE_CHECKING:
    from .transport import Transport

__all__ = ["DataProducer", "create_data_producer", "message_ppid"]

logger = logging.getLogger(__name__)
_CLOSE_DATA_PRODUCER = table_spec(FbsCloseDataProducer, "DataProducerId")

DATA_TYPES = {"sctp": DataType.SCTP, "direct": DataType.DIRECT}
DATA_TYPE_NAMES = {v: k for k, v in DATA_TYPES.items()}


def message_ppid(message: str | bytes, ppid: int | None) -> tuple[bytes, int]:
    """The bytes and SCTP PPID of a message (WebRTC string 51, binary 53, empty 56/57)."""
    if not isinstance(message, str | bytes | bytearray | memoryview):
        raise InvalidParameterError("message must be str or bytes")
    if ppid is None:
        if isinstance(message, str):
            ppid = 51 if message else 56
        else:
            ppid = 53 if len(message) else 57
    if ppid == 56:
        return b" ", ppid
    if ppid == 57:
        return b"\x00", ppid
    return (message.encode() if isinstance(message, str) else bytes(message)), ppid


async def create_data_producer(transport: Transport, *,
                               sctp_stream_parameters: dict[str, Any] | None, label: str,
                               protocol: str, paused: bool, data_producer_id: str | None,
                               app_data: dict[str, Any] | None) -> DataProducer:
    """Validate and ask the worker; use ``Transport.produce_data``."""
    check_app_data(app_data)
    if not isinstance(label, str) or not isinstance(protocol, str):
        raise InvalidParameterError("label and protocol must be strings")
    if transport.type == "direct":
        data_type, params = "direct", None
    else:
        data_type = "sctp"
        params = ortc.validate_sctp_stream_parameters(sctp_stream_parameters)
    data_producer_id = data_producer_id or new_id()

    def build(builder: flatbuffers.Builder) -> int:
        id_offset = builder.CreateString(data_producer_id)
        label_offset = builder.CreateString(label)
        protocol_offset = builder.CreateString(protocol)
        params_offset = sctp_stream_parameters_to_fbs(params).Pack(builder) if params else 0
        FbsProduceDataRequest.Start(builder)
        FbsProduceDataRequest.AddDataProducerId(builder, id_offset)
        FbsProduceDataRequest.AddType(builder, DATA_TYPES[data_type])
        if params_offset:
            FbsProduceDataRequest.AddSctpStreamParameters(builder, params_offset)
        FbsProduceDataRequest.AddLabel(builder, label_offset)
        FbsProduceDataRequest.AddProtocol(builder, protocol_offset)
        FbsProduceDataRequest.AddPaused(builder, bool(paused))
        offset: int = FbsProduceDataRequest.End(builder)
        return offset

    response = await transport._request(Method.TRANSPORT_PRODUCE_DATA,
                                         RequestBody.Transport_ProduceDataRequest, build)
    transport._check_open()
    dump = _parse_dump(body_of(response, DumpResponse))
    return DataProducer(transport=transport, data_producer_id=data_producer_id, dump=dump,
                        app_data=app_data)


def _parse_dump(table: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"id": table.Id().decode(), "type": DATA_TYPE_NAMES[table.Type()]}
    if table.SctpStreamParameters() is not None:
        out["sctpStreamParameters"] = parse_sctp_stream_parameters(table.SctpStreamParameters())
    out["label"] = table.Label().decode()
    out["protocol"] = table.Protocol().decode()
    out["paused"] = table.Paused()
    return out


class DataProducer(TransportChild):
    """Data received from the remote endpoint. Events: ``transportclose``.

    Observer events: ``close``, ``pause``, ``resume``.
    """

    _noun = "data producer"
    _close_method = Method.TRANSPORT_CLOSE_DATAPRODUCER
    _close_body_type = RequestBody.Transport_CloseDataProducerRequest
    _close_spec = _CLOSE_DATA_PRODUCER
    _registry = "_data_producers"
    _router_registry = "_data_producers"

    def __init__(self, *, transport: Transport, data_producer_id: str, dump: dict[str, Any],
                 app_data: dict[str, Any] | None) -> None:
        super().__init__()
        self.id = data_producer_id
        self.type: str = dump["type"]
        self.sctp_stream_parameters: dict[str, Any] | None = dump.get("sctpStreamParameters")
        self.label: str = dump["label"]
        self.protocol: str = dump["protocol"]
        self.paused: bool = dump["paused"]
        self._attach(transport, app_data, notifications=False)

    async def dump(self) -> dict[str, Any]:
        """The worker's view of this data producer."""
        return _parse_dump(body_of(await self._request(Method.DATAPRODUCER_DUMP), DumpResponse))

    async def get_stats(self) -> list[dict[str, Any]]:
        """``data-producer`` stats (messages and bytes received)."""
        body = body_of(await self._request(Method.DATAPRODUCER_GET_STATS), GetStatsResponse)
        stats = {"type": "data-producer"}
        fields(body, ("timestamp", "label", "protocol", "messagesReceived", "bytesReceived",
                      "bufferedAmount"), stats)
        return [stats]

    async def pause(self) -> None:
        """Stop forwarding messages to data consumers."""
        await self._set_paused(Method.DATAPRODUCER_PAUSE, True)

    async def resume(self) -> None:
        """Forward messages again."""
        await self._set_paused(Method.DATAPRODUCER_RESUME, False)

    def send(self, message: str | bytes, ppid: int | None = None,
             subchannels: list[int] | None = None,
             required_subchannel: int | None = None) -> None:
        """Inject a message (data producers of a DirectTransport only)."""
        self._check_open()
        if self.type != "direct":
            raise InvalidStateError("send() is for data producers of a DirectTransport")
        data, ppid = message_ppid(message, ppid)
        channels = list(subchannels or [])

        def build(builder: flatbuffers.Builder) -> int:
            subchannels_offset = number_vector(builder, channels, 2, builder.PrependUint16)
            data_offset = builder.CreateByteVector(data)
            FbsSend.Start(builder)
            FbsSend.AddPpid(builder, ppid)
            FbsSend.AddData(builder, data_offset)
            FbsSend.AddSubchannels(builder, subchannels_offset)
            if required_subchannel is not None:
                FbsSend.AddRequiredSubchannel(builder, required_subchannel)
            offset: int = FbsSend.End(builder)
            return offset

        self._channel.notify(Event.DATAPRODUCER_SEND, self.id,
                             NotificationBody.DataProducer_SendNotification, build)

    def __repr__(self) -> str:
        return f"<DataProducer id={self.id} type={self.type} closed={self.closed}>"
