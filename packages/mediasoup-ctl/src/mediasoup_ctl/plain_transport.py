"""PlainTransport: plain RTP/RTCP (optionally SRTP) over UDP, e.g. to FFmpeg or GStreamer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from FBS.Notification.Event import Event
from FBS.Notification.Notification import Notification
from FBS.PlainTransport.ConnectRequest import ConnectRequestT
from FBS.PlainTransport.ConnectResponse import ConnectResponse
from FBS.PlainTransport.DumpResponse import DumpResponse
from FBS.PlainTransport.GetStatsResponse import GetStatsResponse
from FBS.PlainTransport.PlainTransportOptions import PlainTransportOptionsT
from FBS.PlainTransport.RtcpTupleNotification import RtcpTupleNotification
from FBS.PlainTransport.TupleNotification import TupleNotification
from FBS.Request.Body import Body as RequestBody
from FBS.Request.Method import Method
from FBS.Router.CreatePlainTransportRequest import CreatePlainTransportRequestT

from .channel import body_of, notification_body
from .errors import InvalidParameterError
from .fbs_transport import (
    check_listen_info,
    check_num_sctp_streams,
    crypto_suite_to_fbs,
    listen_info_to_fbs,
    parse_base_dump,
    parse_base_stats,
    parse_srtp_parameters,
    parse_tuple,
    srtp_parameters_to_fbs,
    transport_options,
)
from .fbs_utils import check_app_data, new_id
from .transport import Transport

if TYPE_CHECKING:
    from .router import Router

__all__ = ["PlainTransport", "create_plain_transport"]


async def create_plain_transport(
    router: Router,
    *,
    listen_info: dict[str, Any],
    rtcp_listen_info: dict[str, Any] | None = None,
    rtcp_mux: bool = True,
    comedia: bool = False,
    enable_sctp: bool = False,
    num_sctp_streams: dict[str, int] | None = None,
    max_sctp_message_size: int = 262144,
    sctp_send_buffer_size: int = 262144,
    enable_srtp: bool = False,
    srtp_crypto_suite: str = "AES_CM_128_HMAC_SHA1_80",
    app_data: dict[str, Any] | None = None,
) -> PlainTransport:
    """Create a PlainTransport (use the Router method).

    ``comedia``: learn the remote address from the first packet received instead of
    ``connect()``. ``rtcp_mux`` False needs a second port (``rtcp_listen_info`` or automatic).
    """
    check_listen_info(listen_info)
    if rtcp_listen_info is not None:
        check_listen_info(rtcp_listen_info, "rtcp_listen_info")
        rtcp_mux = False  # a separate RTCP socket means no multiplexing (as in mediasoup)
    num_sctp_streams = num_sctp_streams or {"OS": 1024, "MIS": 1024}
    check_num_sctp_streams(num_sctp_streams)
    check_app_data(app_data)
    transport_id = new_id()
    options = PlainTransportOptionsT(
        base=transport_options(enable_sctp=bool(enable_sctp), num_sctp_streams=num_sctp_streams,
                               max_sctp_message_size=max_sctp_message_size,
                               sctp_send_buffer_size=sctp_send_buffer_size),
        listenInfo=listen_info_to_fbs(listen_info),
        rtcpListenInfo=listen_info_to_fbs(rtcp_listen_info) if rtcp_listen_info else None,
        rtcpMux=bool(rtcp_mux), comedia=bool(comedia), enableSrtp=bool(enable_srtp),
        srtpCryptoSuite=crypto_suite_to_fbs(srtp_crypto_suite),
    )
    response = await router._create_request(
        Method.ROUTER_CREATE_PLAINTRANSPORT, RequestBody.Router_CreatePlainTransportRequest,
        CreatePlainTransportRequestT(transportId=transport_id, options=options))
    data = _parse_dump(body_of(response, DumpResponse))
    return PlainTransport(router=router, transport_id=transport_id, data=data,
                          app_data=app_data)


def _parse_dump(table: Any) -> dict[str, Any]:
    out = parse_base_dump(table.Base())
    out["rtcpMux"] = table.RtcpMux()
    out["comedia"] = table.Comedia()
    out["tuple"] = parse_tuple(table.Tuple())
    if table.RtcpTuple() is not None:
        out["rtcpTuple"] = parse_tuple(table.RtcpTuple())
    if table.SrtpParameters() is not None:
        out["srtpParameters"] = parse_srtp_parameters(table.SrtpParameters())
    return out


class PlainTransport(Transport):
    """Plain RTP towards any endpoint. Events: ``tuple``, ``rtcptuple`` (+ base events)."""

    type = "plain"
    _DUMP_CLASS = DumpResponse
    _STATS_CLASS = GetStatsResponse

    @property
    def tuple(self) -> dict[str, Any]:
        """Local (and, once known, remote) address of the RTP socket."""
        value: dict[str, Any] = self._data["tuple"]
        return value

    @property
    def rtcp_tuple(self) -> dict[str, Any] | None:
        """Address of the RTCP socket when ``rtcp_mux`` is off."""
        return self._data.get("rtcpTuple")

    @property
    def rtcp_mux(self) -> bool:
        """Whether RTP and RTCP share one port."""
        return bool(self._data["rtcpMux"])

    @property
    def comedia(self) -> bool:
        """Whether the remote address is learnt from received packets."""
        return bool(self._data["comedia"])

    @property
    def srtp_parameters(self) -> dict[str, Any] | None:
        """Local SRTP parameters when SRTP is enabled."""
        return self._data.get("srtpParameters")

    def _parse_dump(self, table: Any) -> dict[str, Any]:
        return _parse_dump(table)

    def _parse_stats(self, table: Any) -> dict[str, Any]:
        out = parse_base_stats(table.Base())
        out["type"] = "plain-rtp-transport"
        out["rtcpMux"] = table.RtcpMux()
        out["comedia"] = table.Comedia()
        out["tuple"] = parse_tuple(table.Tuple())
        if table.RtcpTuple() is not None:
            out["rtcpTuple"] = parse_tuple(table.RtcpTuple())
        return out

    async def connect(self, *, ip: str | None = None, port: int | None = None,
                      rtcp_port: int | None = None,
                      srtp_parameters: dict[str, Any] | None = None) -> None:
        """Set the remote address (not with comedia) and the remote SRTP parameters."""
        if ip is not None and (not isinstance(ip, str) or not ip):
            raise InvalidParameterError("ip must be a non-empty string")
        for name, value in (("port", port), ("rtcp_port", rtcp_port)):
            if value is not None and (not isinstance(value, int) or not 0 < value < 65536):
                raise InvalidParameterError(f"{name} must be a port number")
        request = ConnectRequestT(
            ip=ip, port=port, rtcpPort=rtcp_port,
            srtpParameters=srtp_parameters_to_fbs(srtp_parameters) if srtp_parameters else None)
        response = await self._request(Method.PLAINTRANSPORT_CONNECT,
                                       RequestBody.PlainTransport_ConnectRequest, request)
        body = body_of(response, ConnectResponse)
        self._data["tuple"] = parse_tuple(body.Tuple())
        if body.RtcpTuple() is not None:
            self._data["rtcpTuple"] = parse_tuple(body.RtcpTuple())
        if body.SrtpParameters() is not None:
            self._data["srtpParameters"] = parse_srtp_parameters(body.SrtpParameters())

    def _handle_notification(self, event: int, notification: Notification) -> bool:
        if event == Event.PLAINTRANSPORT_TUPLE:
            value = parse_tuple(notification_body(notification, TupleNotification).Tuple())
            self._data["tuple"] = value
            self.emit("tuple", value)
            self.observer.emit("tuple", value)
        elif event == Event.PLAINTRANSPORT_RTCP_TUPLE:
            value = parse_tuple(notification_body(notification, RtcpTupleNotification).Tuple())
            self._data["rtcpTuple"] = value
            self.emit("rtcptuple", value)
            self.observer.emit("rtcptuple", value)
        else:
            return False
        return True
