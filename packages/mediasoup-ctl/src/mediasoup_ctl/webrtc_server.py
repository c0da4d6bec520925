"""WebRtcServer: one set of UDP/TCP sockets shared by many WebRtcTransports of a worker.

Without it every WebRtcTransport binds its own port from a range; with it the worker
demultiplexes ICE by username fragment and then by 5-tuple, so a deployment behind a firewall
opens one UDP (and one TCP) port per worker. Closing the server closes its transports
(``listenserverclose``); closing the worker closes the server (``workerclose``).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import FBS.Worker.CloseWebRtcServerRequest as FbsCloseWebRtcServer
from FBS.Request.Body import Body as RequestBody
from FBS.Request.Method import Method
from FBS.WebRtcServer.DumpResponse import DumpResponse
from FBS.WebRtcServer.IceUserNameFragment import IceUserNameFragment
from FBS.WebRtcServer.IpPort import IpPort
from FBS.WebRtcServer.TupleHash import TupleHash
from FBS.Worker.CreateWebRtcServerRequest import CreateWebRtcServerRequestT

from .channel import Channel, reply_body
from .errors import InvalidParameterError, InvalidStateError
from .events import EventEmitter
from .fbs_read import slots
from .fbs_table import StringTable, table_spec
from .fbs_transport import check_listen_info, listen_info_to_fbs
from .fbs_utils import check_app_data, new_id

if TYPE_CHECKING:
    from .webrtc_transport import WebRtcTransport

__all__ = ["WebRtcServer", "create_webrtc_server", "MAX_LISTEN_INFOS"]

logger = logging.getLogger(__name__)

MAX_LISTEN_INFOS = 8
"""The worker refuses more listen infos than this (``WebRtcServer.cpp``)."""
_CLOSE = table_spec(FbsCloseWebRtcServer, "WebRtcServerId")
_DUMP = slots(DumpResponse)
_IP_PORT = slots(IpPort)
_UFRAG = slots(IceUserNameFragment)
_TUPLE_HASH = slots(TupleHash)


def check_webrtc_server_listen_infos(listen_infos: Any) -> None:
    """A non-empty list (at most 8) of listen infos, ``protocol`` udp or tcp, ``ip`` given.

    A ``port`` of 0 or none (and no ``portRange``) lets the worker pick one from its own
    ``rtc_min_port``..``rtc_max_port``, as mediasoup still allows.
    """
    if not isinstance(listen_infos, list) or not listen_infos:
        raise InvalidParameterError("listen_infos must be a non-empty list")
    if len(listen_infos) > MAX_LISTEN_INFOS:
        raise InvalidParameterError(f"listen_infos has more than {MAX_LISTEN_INFOS} entries")
    for index, info in enumerate(listen_infos):
        check_listen_info(info, f"listen_infos[{index}]")


async def create_webrtc_server(
    channel: Channel,
    *,
    listen_infos: list[dict[str, Any]],
    app_data: dict[str, Any] | None = None,
) -> WebRtcServer:
    """Create a WebRtcServer in the worker behind ``channel`` (use the Worker method)."""
    check_webrtc_server_listen_infos(listen_infos)
    check_app_data(app_data)
    server_id = new_id()
    await channel.request(
        Method.WORKER_CREATE_WEBRTCSERVER,
        body_type=RequestBody.Worker_CreateWebRtcServerRequest,
        body=CreateWebRtcServerRequestT(
            webRtcServerId=server_id,
            listenInfos=[listen_info_to_fbs(info) for info in listen_infos]),
    )
    return WebRtcServer(server_id=server_id, channel=channel, app_data=app_data)


class WebRtcServer(EventEmitter):
    """Shared ICE sockets of one worker.

    Events: ``workerclose``. Observer events: ``close``, ``webrtctransporthandled``,
    ``webrtctransportunhandled``.
    """

    def __init__(self, *, server_id: str, channel: Channel,
                 app_data: dict[str, Any] | None) -> None:
        super().__init__()
        self.id = server_id
        self.closed = False
        self.app_data: dict[str, Any] = app_data if app_data is not None else {}
        self.observer = EventEmitter()
        self._channel = channel
        self._transports: dict[str, WebRtcTransport] = {}

    @property
    def webrtc_transports(self) -> dict[str, WebRtcTransport]:
        """Open transports listening through this server, by id (read it, do not change it)."""
        return self._transports

    def _check_open(self) -> None:
        if self.closed:
            raise InvalidStateError(f"WebRtcServer closed [id:{self.id}]")

    # -- closing ------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the server: one request; its transports close locally (``listenserverclose``).

        The worker closes those transports itself when the server goes, so none of them
        sends its own close request.
        """
        self._close(event=None)

    def _close(self, *, event: str | None) -> None:
        """The one close cascade: by the user (``event`` None) or by the worker closing.

        When the worker closes, its routers already closed the transports (``routerclose``).
        """
        if self.closed:
            return
        logger.debug("close [webrtcserver:%s, by:%s]", self.id, event or "user")
        self.closed = True
        if event is None:
            self._channel.request_nowait(
                Method.WORKER_WEBRTCSERVER_CLOSE,
                body_type=RequestBody.Worker_CloseWebRtcServerRequest,
                body=StringTable(_CLOSE, self.id),
            )
            for transport in list(self._transports.values()):
                # Its "@close" listener (see _handle) drops it and emits "unhandled".
                transport._close(event="listenserverclose")
        self._transports.clear()
        self.emit("@close")
        if event is not None:
            self.emit(event)
        self.observer.emit("close")

    # -- transports ---------------------------------------------------------------------------

    def _handle(self, transport: WebRtcTransport) -> None:
        """A transport of some router of this worker now listens through this server."""
        self._transports[transport.id] = transport
        self.observer.emit("webrtctransporthandled", transport)

        def on_close() -> None:
            if self._transports.pop(transport.id, None) is not None:
                self.observer.emit("webrtctransportunhandled", transport)

        transport.on("@close", on_close)

    # -- requests -----------------------------------------------------------------------------

    async def dump(self) -> dict[str, Any]:
        """The worker's view: sockets, transport ids, ICE username fragments, tuple hashes."""
        self._check_open()
        dump = reply_body(await self._channel.request(Method.WEBRTCSERVER_DUMP, self.id))

        def ip_ports(slot: int) -> list[dict[str, Any]]:
            return [{"ip": t.str(_IP_PORT.Ip), "port": t.u16(_IP_PORT.Port)}
                    for t in dump.tables(slot)]

        return {
            "id": dump.str(_DUMP.Id),
            "udpSockets": ip_ports(_DUMP.UdpSockets),
            "tcpServers": ip_ports(_DUMP.TcpServers),
            "webRtcTransportIds": dump.strs(_DUMP.WebRtcTransportIds),
            "localIceUsernameFragments": [
                {"localIceUsernameFragment": t.str(_UFRAG.LocalIceUsernameFragment),
                 "webRtcTransportId": t.str(_UFRAG.WebRtcTransportId)}
                for t in dump.tables(_DUMP.LocalIceUsernameFragments)],
            "tupleHashes": [
                {"tupleHash": t.u64(_TUPLE_HASH.TupleHash),
                 "webRtcTransportId": t.str(_TUPLE_HASH.WebRtcTransportId)}
                for t in dump.tables(_DUMP.TupleHashes)],
        }

    def __repr__(self) -> str:
        return f"<WebRtcServer id={self.id} closed={self.closed}>"
