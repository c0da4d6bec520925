"""PipeTransport: connects two routers (in one or two workers, or on two hosts)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from FBS.PipeTransport.ConnectRequest import ConnectRequestT
from FBS.PipeTransport.ConnectResponse import ConnectResponse
from FBS.PipeTransport.DumpResponse import DumpResponse
from FBS.PipeTransport.GetStatsResponse import GetStatsResponse
from FBS.PipeTransport.PipeTransportOptions import PipeTransportOptionsT
from FBS.Request.Body import Body as RequestBody
from FBS.Request.Method import Method
from FBS.Router.CreatePipeTransportRequest import CreatePipeTransportRequestT

from .channel import body_of
from .errors import InvalidParameterError
from .fbs_transport import (
    check_listen_info,
    check_num_sctp_streams,
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

__all__ = ["PipeTransport", "create_pipe_transport"]


async def create_pipe_transport(
    router: Router,
    *,
    listen_info: dict[str, Any],
    enable_sctp: bool = False,
    num_sctp_streams: dict[str, int] | None = None,
    max_sctp_message_size: int = 268435456,
    sctp_send_buffer_size: int = 268435456,
    enable_rtx: bool = False,
    enable_srtp: bool = False,
    app_data: dict[str, Any] | None = None,
) -> PipeTransport:
    """Create a PipeTransport (use the Router method or ``Router.pipe_to_router``)."""
    check_listen_info(listen_info)
    num_sctp_streams = num_sctp_streams or {"OS": 1024, "MIS": 1024}
    check_num_sctp_streams(num_sctp_streams)
    check_app_data(app_data)
    transport_id = new_id()
    options = PipeTransportOptionsT(
        base=transport_options(enable_sctp=bool(enable_sctp), num_sctp_streams=num_sctp_streams,
                               max_sctp_message_size=max_sctp_message_size,
                               sctp_send_buffer_size=sctp_send_buffer_size),
        listenInfo=listen_info_to_fbs(listen_info), enableRtx=bool(enable_rtx),
        enableSrtp=bool(enable_srtp),
    )
    response = await router._create_request(
        Method.ROUTER_CREATE_PIPETRANSPORT, RequestBody.Router_CreatePipeTransportRequest,
        CreatePipeTransportRequestT(transportId=transport_id, options=options))
    data = _parse_dump(body_of(response, DumpResponse))
    return PipeTransport(router=router, transport_id=transport_id, data=data, app_data=app_data)


def _parse_dump(table: Any) -> dict[str, Any]:
    out = parse_base_dump(table.Base())
    out["tuple"] = parse_tuple(table.Tuple())
    out["rtx"] = table.Rtx()
    if table.SrtpParameters() is not None:
        out["srtpParameters"] = parse_srtp_parameters(table.SrtpParameters())
    return out


class PipeTransport(Transport):
    """A router-to-router transport: ``consume()`` needs no RTP capabilities."""

    type = "pipe"
    _DUMP_CLASS = DumpResponse
    _STATS_CLASS = GetStatsResponse

    @property
    def tuple(self) -> dict[str, Any]:
        """Local (and, once connected, remote) address."""
        value: dict[str, Any] = self._data["tuple"]
        return value

    @property
    def srtp_parameters(self) -> dict[str, Any] | None:
        """Local SRTP parameters when SRTP is enabled (give them to the other side)."""
        return self._data.get("srtpParameters")

    def _parse_dump(self, table: Any) -> dict[str, Any]:
        return _parse_dump(table)

    def _parse_stats(self, table: Any) -> dict[str, Any]:
        out = parse_base_stats(table.Base())
        out["type"] = "pipe-transport"
        out["tuple"] = parse_tuple(table.Tuple())
        return out

    async def connect(self, *, ip: str, port: int,
                      srtp_parameters: dict[str, Any] | None = None) -> None:
        """Connect to the other PipeTransport's address (and SRTP parameters, if enabled)."""
        if not isinstance(ip, str) or not ip:
            raise InvalidParameterError("ip must be a non-empty string")
        if not isinstance(port, int) or not 0 < port < 65536:
            raise InvalidParameterError("port must be a port number")
        request = ConnectRequestT(
            ip=ip, port=port,
            srtpParameters=srtp_parameters_to_fbs(srtp_parameters) if srtp_parameters else None)
        response = await self._request(Method.PIPETRANSPORT_CONNECT,
                                       RequestBody.PipeTransport_ConnectRequest, request)
        self._data["tuple"] = parse_tuple(body_of(response, ConnectResponse).Tuple())
