"""WebRtcTransport: ICE-lite + DTLS + SRTP (+ SCTP data channels) towards a WebRTC endpoint."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import FBS.WebRtcTransport.ConnectRequest as FbsConnectRequest
import FBS.WebRtcTransport.DtlsParameters as FbsDtlsParameters
import FBS.WebRtcTransport.Fingerprint as FbsFingerprint
import flatbuffers
from FBS.Notification.Event import Event
from FBS.Notification.Notification import Notification
from FBS.Request.Body import Body as RequestBody
from FBS.Request.Method import Method
from FBS.Router.CreateWebRtcTransportRequest import CreateWebRtcTransportRequestT
from FBS.Transport.RestartIceResponse import RestartIceResponse
from FBS.WebRtcTransport.ConnectResponse import ConnectResponse
from FBS.WebRtcTransport.DtlsRole import DtlsRole
from FBS.WebRtcTransport.DtlsState import DtlsState
from FBS.WebRtcTransport.DtlsStateChangeNotification import DtlsStateChangeNotification
from FBS.WebRtcTransport.DumpResponse import DumpResponse
from FBS.WebRtcTransport.FingerprintAlgorithm import FingerprintAlgorithm
from FBS.WebRtcTransport.GetStatsResponse import GetStatsResponse
from FBS.WebRtcTransport.IceCandidate import IceCandidate
from FBS.WebRtcTransport.IceParameters import IceParameters
from FBS.WebRtcTransport.IceSelectedTupleChangeNotification import (
    IceSelectedTupleChangeNotification,
)
from FBS.WebRtcTransport.IceState import IceState
from FBS.WebRtcTransport.IceStateChangeNotification import IceStateChangeNotification
from FBS.WebRtcTransport.Listen import Listen
from FBS.WebRtcTransport.ListenIndividual import ListenIndividualT
from FBS.WebRtcTransport.ListenServer import ListenServerT
from FBS.WebRtcTransport.WebRtcTransportOptions import WebRtcTransportOptionsT

from .channel import body_of, body_table, notification_body
from .errors import InvalidParameterError, InvalidStateError
from .fbs_read import Table, of, slots
from .fbs_rtp import offsets_vector
from .fbs_template import Templated, template_store
from .fbs_transport import (
    PROTOCOLS,
    check_listen_info,
    check_num_sctp_streams,
    listen_info_to_fbs,
    parse_base_dump,
    parse_base_stats,
    parse_tuple,
    transport_options,
)
from .fbs_utils import check_app_data, new_id
from .transport import Transport

if TYPE_CHECKING:
    from .router import Router
    from .webrtc_server import WebRtcServer

__all__ = ["WebRtcTransport", "create_webrtc_transport"]

logger = logging.getLogger(__name__)

ICE_STATES = {IceState.NEW: "new", IceState.CONNECTED: "connected",
              IceState.COMPLETED: "completed", IceState.DISCONNECTED: "disconnected"}
DTLS_STATES = {DtlsState.NEW: "new", DtlsState.CONNECTING: "connecting",
               DtlsState.CONNECTED: "connected", DtlsState.FAILED: "failed",
               DtlsState.CLOSED: "closed"}
DTLS_ROLES = {"auto": DtlsRole.AUTO, "client": DtlsRole.CLIENT, "server": DtlsRole.SERVER}
_DTLS_ROLE_NAMES = {v: k for k, v in DTLS_ROLES.items()}
FINGERPRINT_ALGORITHMS = {
    "sha-1": FingerprintAlgorithm.SHA1, "sha-224": FingerprintAlgorithm.SHA224,
    "sha-256": FingerprintAlgorithm.SHA256, "sha-384": FingerprintAlgorithm.SHA384,
    "sha-512": FingerprintAlgorithm.SHA512,
}
_ALGORITHM_NAMES = {v: k for k, v in FINGERPRINT_ALGORITHMS.items()}
_DUMP = slots(DumpResponse)
_ICE = slots(IceParameters)
_CANDIDATE = slots(IceCandidate)
_DTLS = slots(FbsDtlsParameters.DtlsParameters)
_FINGERPRINT = slots(FbsFingerprint.Fingerprint)
_TEMPLATES: dict[bytes, dict[Any, Any]] = {}
_CONNECT_TEMPLATES: dict[Any, Any] = {}


async def create_webrtc_transport(
    router: Router,
    *,
    listen_infos: list[dict[str, Any]] | None = None,
    webrtc_server: WebRtcServer | None = None,
    enable_udp: bool | None = None,
    enable_tcp: bool | None = None,
    prefer_udp: bool = False,
    prefer_tcp: bool = False,
    initial_available_outgoing_bitrate: int = 600000,
    enable_sctp: bool = False,
    num_sctp_streams: dict[str, int] | None = None,
    max_sctp_message_size: int = 262144,
    sctp_send_buffer_size: int = 262144,
    ice_consent_timeout: int = 30,
    app_data: dict[str, Any] | None = None,
) -> WebRtcTransport:
    """Create a WebRtcTransport on its own sockets or on a WebRtcServer (use the Router method).

    Give exactly one of ``listen_infos`` (``[{"protocol": "udp"|"tcp", "ip": ...,
    "announcedAddress": ..., "port": ..., "portRange": {"min", "max"}}]``; protocols not
    enabled are ignored by the worker) and ``webrtc_server`` (a :class:`WebRtcServer` of the
    router's worker, whose sockets the transport shares). ``enable_udp`` defaults to True;
    ``enable_tcp`` to True with a server and False without, as in mediasoup.
    """
    if webrtc_server is None and listen_infos is None:
        raise InvalidParameterError("missing webrtc_server and listen_infos (one is mandatory)")
    if webrtc_server is not None and listen_infos is not None:
        raise InvalidParameterError("only one of webrtc_server and listen_infos must be given")
    if webrtc_server is not None:
        _check_webrtc_server(router, webrtc_server)
    else:
        if not isinstance(listen_infos, list) or not listen_infos:
            raise InvalidParameterError("listen_infos must be a non-empty list")
        for index, info in enumerate(listen_infos):
            check_listen_info(info, f"listen_infos[{index}]")
    enable_udp = True if enable_udp is None else enable_udp
    enable_tcp = (webrtc_server is not None) if enable_tcp is None else enable_tcp
    num_sctp_streams = num_sctp_streams or {"OS": 1024, "MIS": 1024}
    check_num_sctp_streams(num_sctp_streams)
    check_app_data(app_data)
    for name, value in (("initial_available_outgoing_bitrate", initial_available_outgoing_bitrate),
                        ("max_sctp_message_size", max_sctp_message_size),
                        ("sctp_send_buffer_size", sctp_send_buffer_size)):
        if not isinstance(value, int) or value < 0:
            raise InvalidParameterError(f"{name} must be a non-negative integer")
    if not isinstance(ice_consent_timeout, int) or not 0 <= ice_consent_timeout <= 255:
        raise InvalidParameterError("ice_consent_timeout must be 0..255 seconds")
    transport_id = new_id()

    def build(builder: flatbuffers.Builder, values: tuple[Any, ...]) -> int:
        options = WebRtcTransportOptionsT(
            base=transport_options(
                initial_available_outgoing_bitrate=initial_available_outgoing_bitrate,
                enable_sctp=bool(enable_sctp), num_sctp_streams=num_sctp_streams,
                max_sctp_message_size=max_sctp_message_size,
                sctp_send_buffer_size=sctp_send_buffer_size, is_data_channel=True),
            listenType=Listen.ListenIndividual if webrtc_server is None else Listen.ListenServer,
            listen=(ListenIndividualT(listenInfos=[listen_info_to_fbs(i)
                                                   for i in listen_infos or ()])
                    if webrtc_server is None else ListenServerT(webRtcServerId=webrtc_server.id)),
            enableUdp=bool(enable_udp), enableTcp=bool(enable_tcp), preferUdp=bool(prefer_udp),
            preferTcp=bool(prefer_tcp), iceConsentTimeout=ice_consent_timeout,
        )
        return int(CreateWebRtcTransportRequestT(transportId=values[0], options=options)
                   .Pack(builder))

    # Transports of an application are created with the same options: the request is copied
    # from a template of those options with the new transport's id written in.
    store = template_store(
        _TEMPLATES, (listen_infos, webrtc_server.id if webrtc_server is not None else None,
                     enable_udp, enable_tcp, prefer_udp, prefer_tcp,
                     initial_available_outgoing_bitrate, enable_sctp, num_sctp_streams,
                     max_sctp_message_size, sctp_send_buffer_size, ice_consent_timeout))
    body: Any = (Templated(store, None, build, (transport_id,)) if store is not None
                 else lambda builder: build(builder, (transport_id,)))
    response = await router._create_request(
        Method.ROUTER_CREATE_WEBRTCTRANSPORT if webrtc_server is None
        else Method.ROUTER_CREATE_WEBRTCTRANSPORT_WITH_SERVER,
        RequestBody.Router_CreateWebRtcTransportRequest, body)
    data = _parse_dump(body_table(response))
    return WebRtcTransport(router=router, transport_id=transport_id, data=data,
                           app_data=app_data)


def _check_webrtc_server(router: Router, server: Any) -> None:
    from .webrtc_server import WebRtcServer

    if not isinstance(server, WebRtcServer):
        raise InvalidParameterError("webrtc_server must be a WebRtcServer")
    if server.closed:
        raise InvalidStateError(f"WebRtcServer closed [id:{server.id}]")
    if server._channel is not router._channel:
        raise InvalidParameterError("webrtc_server belongs to another worker than the router")


def _parse_ice_candidate(table: Table) -> dict[str, Any]:
    address = table.str(_CANDIDATE.Address)
    out: dict[str, Any] = {
        "foundation": table.str(_CANDIDATE.Foundation),
        "priority": table.u32(_CANDIDATE.Priority),
        "ip": address,
        "address": address,
        "protocol": PROTOCOLS.get(table.u8(_CANDIDATE.Protocol), "udp"),
        "port": table.u16(_CANDIDATE.Port),
        "type": "host",
    }
    if table.u8(_CANDIDATE.TcpType) is not None:
        out["tcpType"] = "passive"
    return out


def _parse_dtls_parameters(table: Table) -> dict[str, Any]:
    return {
        "fingerprints": [
            {"algorithm": _ALGORITHM_NAMES[fp.u8(_FINGERPRINT.Algorithm)],
             "value": fp.str(_FINGERPRINT.Value)}
            for fp in table.tables(_DTLS.Fingerprints)
        ],
        "role": _DTLS_ROLE_NAMES[table.u8(_DTLS.Role)],
    }


def _parse_dump(table: Any) -> dict[str, Any]:
    table = of(table)
    out = parse_base_dump(table.table(_DUMP.Base))
    ice = table.table(_DUMP.IceParameters)
    out["iceRole"] = "controlled"
    out["iceParameters"] = {"usernameFragment": ice.str(_ICE.UsernameFragment),
                            "password": ice.str(_ICE.Password), "iceLite": ice.bool(_ICE.IceLite)}
    out["iceCandidates"] = [_parse_ice_candidate(candidate)
                            for candidate in table.tables(_DUMP.IceCandidates)]
    out["iceState"] = ICE_STATES[table.u8(_DUMP.IceState)]
    selected = table.table(_DUMP.IceSelectedTuple)
    if selected is not None:
        out["iceSelectedTuple"] = parse_tuple(selected)
    out["dtlsParameters"] = _parse_dtls_parameters(table.table(_DUMP.DtlsParameters))
    out["dtlsState"] = DTLS_STATES[table.u8(_DUMP.DtlsState)]
    return out


def _check_dtls_parameters(params: Any) -> None:
    if not isinstance(params, dict) or not isinstance(params.get("fingerprints"), list):
        raise InvalidParameterError("dtls_parameters must have a fingerprints list")
    if not params["fingerprints"]:
        raise InvalidParameterError("dtls_parameters.fingerprints is empty")
    for fp in params["fingerprints"]:
        if not isinstance(fp, dict) or fp.get("algorithm") not in FINGERPRINT_ALGORITHMS or \
                not isinstance(fp.get("value"), str):
            raise InvalidParameterError(f"invalid DTLS fingerprint {fp!r}")
    if params.get("role") is not None and params["role"] not in DTLS_ROLES:
        raise InvalidParameterError(f"invalid DTLS role {params['role']!r}")


class WebRtcTransport(Transport):
    """A transport towards a WebRTC endpoint (browser, mediasoup-client, pymediasoup).

    Events (besides the base ones): ``icestatechange``, ``iceselectedtuplechange``,
    ``dtlsstatechange`` (the observer emits them too), and ``listenserverclose`` when the
    WebRtcServer it listens through closes (the transport is closed then).
    """

    type = "webrtc"
    _DUMP_CLASS = DumpResponse
    _STATS_CLASS = GetStatsResponse

    @property
    def ice_role(self) -> str:
        """Always ``controlled`` (the worker is ICE-lite)."""
        return "controlled"

    @property
    def ice_parameters(self) -> dict[str, Any]:
        """``{usernameFragment, password, iceLite}`` for the remote endpoint."""
        value: dict[str, Any] = self._data["iceParameters"]
        return value

    @property
    def ice_candidates(self) -> list[dict[str, Any]]:
        """The worker's host candidates for the remote endpoint."""
        value: list[dict[str, Any]] = self._data["iceCandidates"]
        return value

    @property
    def ice_state(self) -> str:
        """new, connected, completed, disconnected or closed."""
        value: str = self._data["iceState"]
        return value

    @property
    def ice_selected_tuple(self) -> dict[str, Any] | None:
        """The 5-tuple in use once ICE connects."""
        return self._data.get("iceSelectedTuple")

    @property
    def dtls_parameters(self) -> dict[str, Any]:
        """``{fingerprints, role}`` for the remote endpoint (role set after connect)."""
        value: dict[str, Any] = self._data["dtlsParameters"]
        return value

    @property
    def dtls_state(self) -> str:
        """new, connecting, connected, failed or closed."""
        value: str = self._data["dtlsState"]
        return value

    @property
    def dtls_remote_cert(self) -> str | None:
        """The remote certificate (PEM) once DTLS is connected."""
        return self._data.get("dtlsRemoteCert")

    def _closing(self) -> None:
        self._data["iceState"] = "closed"
        self._data.pop("iceSelectedTuple", None)
        self._data["dtlsState"] = "closed"
        super()._closing()

    def _parse_dump(self, table: Any) -> dict[str, Any]:
        return _parse_dump(table)

    def _parse_stats(self, table: Any) -> dict[str, Any]:
        out = parse_base_stats(table.Base())
        out["type"] = "webrtc-transport"
        out["iceRole"] = "controlled" if table.IceRole() == 0 else "controlling"
        out["iceState"] = ICE_STATES[table.IceState()]
        if table.IceSelectedTuple() is not None:
            out["iceSelectedTuple"] = parse_tuple(table.IceSelectedTuple())
        out["dtlsState"] = DTLS_STATES[table.DtlsState()]
        return out

    async def connect(self, *, dtls_parameters: dict[str, Any]) -> None:
        """Give the remote DTLS parameters (its fingerprints and role)."""
        _check_dtls_parameters(dtls_parameters)
        fingerprints = dtls_parameters["fingerprints"]
        algorithms = tuple(FINGERPRINT_ALGORITHMS[fp["algorithm"]] for fp in fingerprints)
        role = DTLS_ROLES[dtls_parameters.get("role") or "auto"]

        def build(builder: flatbuffers.Builder, values: tuple[Any, ...]) -> int:
            offsets = []
            for algorithm, fingerprint in zip(algorithms, values, strict=True):
                value = builder.CreateString(fingerprint)
                FbsFingerprint.Start(builder)
                FbsFingerprint.AddAlgorithm(builder, algorithm)
                FbsFingerprint.AddValue(builder, value)
                offsets.append(FbsFingerprint.End(builder))
            vector = offsets_vector(builder, offsets)
            FbsDtlsParameters.Start(builder)
            FbsDtlsParameters.AddFingerprints(builder, vector)
            FbsDtlsParameters.AddRole(builder, role)
            dtls = FbsDtlsParameters.End(builder)
            FbsConnectRequest.Start(builder)
            FbsConnectRequest.AddDtlsParameters(builder, dtls)
            request: int = FbsConnectRequest.End(builder)
            return request

        # Every endpoint's request differs only in its fingerprints' values (and lengths):
        # copied from a template per (role, algorithms), the values written in.
        body = Templated(_CONNECT_TEMPLATES, (role, algorithms), build,
                         tuple(fp["value"] for fp in fingerprints))
        response = await self._request(Method.WEBRTCTRANSPORT_CONNECT,
                                       RequestBody.WebRtcTransport_ConnectRequest, body)
        role = body_of(response, ConnectResponse).DtlsLocalRole()
        self._data["dtlsParameters"]["role"] = _DTLS_ROLE_NAMES[role]

    async def restart_ice(self) -> dict[str, Any]:
        """New ICE username fragment and password; give them to the remote endpoint."""
        response = await self._request(Method.TRANSPORT_RESTART_ICE)
        body = body_of(response, RestartIceResponse)
        params = {"usernameFragment": body.UsernameFragment().decode(),
                  "password": body.Password().decode(), "iceLite": body.IceLite()}
        self._data["iceParameters"] = params
        return params

    def _handle_notification(self, event: int, notification: Notification) -> bool:
        if event == Event.WEBRTCTRANSPORT_ICE_STATE_CHANGE:
            body = notification_body(notification, IceStateChangeNotification)
            self._set_state("iceState", "icestatechange", ICE_STATES[body.IceState()])
        elif event == Event.WEBRTCTRANSPORT_ICE_SELECTED_TUPLE_CHANGE:
            body = notification_body(notification, IceSelectedTupleChangeNotification)
            selected = parse_tuple(body.Tuple())
            self._data["iceSelectedTuple"] = selected
            self.emit("iceselectedtuplechange", selected)
            self.observer.emit("iceselectedtuplechange", selected)
        elif event == Event.WEBRTCTRANSPORT_DTLS_STATE_CHANGE:
            body = notification_body(notification, DtlsStateChangeNotification)
            state = DTLS_STATES[body.DtlsState()]
            if state == "connected" and body.RemoteCert() is not None:
                self._data["dtlsRemoteCert"] = body.RemoteCert().decode()
            self._set_state("dtlsState", "dtlsstatechange", state)
        else:
            return False
        return True

    def _set_state(self, key: str, event: str, state: str) -> None:
        logger.debug("%s -> %s [transport:%s]", key, state, self.id)
        self._data[key] = state
        self.emit(event, state)
        self.observer.emit(event, state)
