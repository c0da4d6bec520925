"""DirectTransport: RTP, RTCP and data exchanged with Python itself through the channel."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import FBS.Transport.SendRtcpNotification as FbsSendRtcp
import flatbuffers
from FBS.DirectTransport.DirectTransportOptions import DirectTransportOptionsT
from FBS.DirectTransport.DumpResponse import DumpResponse
from FBS.DirectTransport.GetStatsResponse import GetStatsResponse
from FBS.DirectTransport.RtcpNotification import RtcpNotification
from FBS.Notification.Body import Body as NotificationBody
from FBS.Notification.Event import Event
from FBS.Notification.Notification import Notification
from FBS.Request.Body import Body as RequestBody
from FBS.Request.Method import Method
from FBS.Router.CreateDirectTransportRequest import CreateDirectTransportRequestT

from .channel import body_of, notification_body
from .errors import InvalidParameterError
from .fbs_transport import parse_base_dump, parse_base_stats, transport_options
from .fbs_utils import check_app_data, new_id, raw_bytes
from .transport import Transport

if TYPE_CHECKING:
    from .router import Router

__all__ = ["DirectTransport", "create_direct_transport"]


async def create_direct_transport(router: Router, *, max_message_size: int = 262144,
                                  app_data: dict[str, Any] | None = None) -> DirectTransport:
    """Create a DirectTransport (use the Router method)."""
    if not isinstance(max_message_size, int) or max_message_size < 0:
        raise InvalidParameterError("max_message_size must be a non-negative integer")
    check_app_data(app_data)
    transport_id = new_id()
    options = DirectTransportOptionsT(
        base=transport_options(direct=True, max_message_size=max_message_size))
    response = await router._create_request(
        Method.ROUTER_CREATE_DIRECTTRANSPORT, RequestBody.Router_CreateDirectTransportRequest,
        CreateDirectTransportRequestT(transportId=transport_id, options=options))
    data = parse_base_dump(body_of(response, DumpResponse).Base())
    return DirectTransport(router=router, transport_id=transport_id, data=data,
                           app_data=app_data)


class DirectTransport(Transport):
    """No network: ``producer.send()``, ``data_producer.send()``, consumer ``rtp`` events.

    Events (besides the base ones): ``rtcp`` (bytes).
    """

    type = "direct"
    _DUMP_CLASS = DumpResponse
    _STATS_CLASS = GetStatsResponse

    def _parse_dump(self, table: Any) -> dict[str, Any]:
        return parse_base_dump(table.Base())

    def _parse_stats(self, table: Any) -> dict[str, Any]:
        out = parse_base_stats(table.Base())
        out["type"] = "direct-transport"
        return out

    async def connect(self) -> None:
        """Nothing to connect (kept for API symmetry)."""

    async def set_max_incoming_bitrate(self, bitrate: int) -> None:
        """Not available on a DirectTransport (as in mediasoup)."""
        raise InvalidParameterError("set_max_incoming_bitrate() not implemented in DirectTransport")

    async def set_max_outgoing_bitrate(self, bitrate: int) -> None:
        """Not available on a DirectTransport (as in mediasoup)."""
        raise InvalidParameterError("set_max_outgoing_bitrate() not implemented in DirectTransport")

    async def set_min_outgoing_bitrate(self, bitrate: int) -> None:
        """Not available on a DirectTransport (as in mediasoup)."""
        raise InvalidParameterError("set_min_outgoing_bitrate() not implemented in DirectTransport")

    def send_rtcp(self, rtcp_packet: bytes) -> None:
        """Inject an RTCP packet."""
        self._check_open()
        if not isinstance(rtcp_packet, bytes | bytearray | memoryview):
            raise InvalidParameterError("rtcp_packet must be bytes")
        data = bytes(rtcp_packet)

        def build(builder: flatbuffers.Builder) -> int:
            vector = builder.CreateByteVector(data)
            FbsSendRtcp.Start(builder)
            FbsSendRtcp.AddData(builder, vector)
            offset: int = FbsSendRtcp.End(builder)
            return offset

        self._channel.notify(Event.TRANSPORT_SEND_RTCP, self.id,
                             NotificationBody.Transport_SendRtcpNotification, build)

    def _handle_notification(self, event: int, notification: Notification) -> bool:
        if event != Event.DIRECTTRANSPORT_RTCP:
            return False
        self.emit("rtcp", raw_bytes(notification_body(notification, RtcpNotification), 4))
        return True
