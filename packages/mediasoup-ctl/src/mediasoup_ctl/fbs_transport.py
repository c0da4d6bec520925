"""Transport-level conversions: listen infos, tuples, SCTP/SRTP parameters, dumps, stats, traces."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from FBS.Common.TraceDirection import TraceDirection
from FBS.SctpAssociation.SctpState import SctpState
from FBS.SctpParameters.NumSctpStreams import NumSctpStreamsT
from FBS.SctpParameters.SctpParameters import SctpParameters
from FBS.SctpParameters.SctpStreamParameters import SctpStreamParametersT
from FBS.SrtpParameters.SrtpCryptoSuite import SrtpCryptoSuite
from FBS.SrtpParameters.SrtpParameters import SrtpParametersT
from FBS.Transport.BweTraceInfo import BweTraceInfo
from FBS.Transport.BweType import BweType
from FBS.Transport.Dump import Dump
from FBS.Transport.ListenInfo import ListenInfoT
from FBS.Transport.Options import OptionsT
from FBS.Transport.PortRange import PortRangeT
from FBS.Transport.Protocol import Protocol
from FBS.Transport.RecvRtpHeaderExtensions import RecvRtpHeaderExtensions
from FBS.Transport.RtpListener import RtpListener
from FBS.Transport.SctpListener import SctpListener
from FBS.Transport.SocketFlags import SocketFlagsT
from FBS.Transport.TraceEventType import TraceEventType
from FBS.Transport.Tuple import Tuple

from .errors import InvalidParameterError
from .fbs_read import of, slots
from .fbs_utils import U16_KEYS, U32_KEYS, fields, read_key_values

__all__ = [
    "SCTP_STATES", "listen_info_to_fbs", "transport_options", "parse_tuple", "parse_base_dump",
    "parse_base_stats", "parse_sctp_parameters", "parse_sctp_stream_parameters",
    "sctp_stream_parameters_to_fbs", "srtp_parameters_to_fbs", "parse_srtp_parameters",
    "crypto_suite_to_fbs", "parse_trace", "TRACE_EVENT_TYPES", "check_listen_info",
    "check_num_sctp_streams", "PROTOCOLS",
]

SCTP_STATES = {SctpState.NEW: "new", SctpState.CONNECTING: "connecting",
               SctpState.CONNECTED: "connected", SctpState.FAILED: "failed",
               SctpState.CLOSED: "closed"}
PROTOCOLS = {Protocol.UDP: "udp", Protocol.TCP: "tcp"}
CRYPTO_SUITES: dict[str, int] = {
    "AEAD_AES_256_GCM": SrtpCryptoSuite.AEAD_AES_256_GCM,
    "AEAD_AES_128_GCM": SrtpCryptoSuite.AEAD_AES_128_GCM,
    "AES_CM_128_HMAC_SHA1_80": SrtpCryptoSuite.AES_CM_128_HMAC_SHA1_80,
    "AES_CM_128_HMAC_SHA1_32": SrtpCryptoSuite.AES_CM_128_HMAC_SHA1_32,
}
_CRYPTO_NAMES = {v: k for k, v in CRYPTO_SUITES.items()}
TRACE_EVENT_TYPES = {"probation": TraceEventType.PROBATION, "bwe": TraceEventType.BWE}
_TRACE_NAMES = {v: k for k, v in TRACE_EVENT_TYPES.items()}
_DUMP = slots(Dump)
_EXTENSIONS = slots(RecvRtpHeaderExtensions)
_EXTENSION_KEYS = (("mid", _EXTENSIONS.Mid), ("rid", _EXTENSIONS.Rid),
                   ("rrid", _EXTENSIONS.Rrid), ("absSendTime", _EXTENSIONS.AbsSendTime),
                   ("transportWideCc01", _EXTENSIONS.TransportWideCc01))
_LISTENER = slots(RtpListener)
_SCTP_LISTENER = slots(SctpListener)
_SCTP = slots(SctpParameters)
_TUPLE = slots(Tuple)


def check_listen_info(info: Any, name: str = "listen_info") -> None:
    """A listen info is ``{"protocol": "udp"|"tcp", "ip": str, ...}``."""
    if not isinstance(info, dict):
        raise InvalidParameterError(f"{name} must be a dict")
    if info.get("protocol") not in ("udp", "tcp"):
        raise InvalidParameterError(f"{name}.protocol must be 'udp' or 'tcp'")
    if not isinstance(info.get("ip"), str) or not info["ip"]:
        raise InvalidParameterError(f"{name}.ip must be a non-empty string")
    port = info.get("port")
    if port is not None and (not isinstance(port, int) or not 0 <= port <= 65535):
        raise InvalidParameterError(f"{name}.port must be a port number")


def listen_info_to_fbs(info: dict[str, Any]) -> ListenInfoT:
    """A mediasoup ``TransportListenInfo`` dict as the FlatBuffers object."""
    port_range = info.get("portRange") or {}
    flags = info.get("flags") or {}
    return ListenInfoT(
        protocol=Protocol.UDP if info["protocol"] == "udp" else Protocol.TCP,
        ip=info["ip"],
        announcedAddress=info.get("announcedAddress") or info.get("announcedIp"),
        port=info.get("port") or 0,
        portRange=PortRangeT(min=port_range.get("min", 0), max=port_range.get("max", 0)),
        flags=SocketFlagsT(ipv6Only=bool(flags.get("ipv6Only")),
                           udpReusePort=bool(flags.get("udpReusePort"))),
        sendBufferSize=info.get("sendBufferSize") or 0,
        recvBufferSize=info.get("recvBufferSize") or 0,
    )


def transport_options(
    *,
    direct: bool = False,
    max_message_size: int | None = None,
    initial_available_outgoing_bitrate: int | None = None,
    enable_sctp: bool = False,
    num_sctp_streams: dict[str, int] | None = None,
    max_sctp_message_size: int = 262144,
    sctp_send_buffer_size: int = 262144,
    is_data_channel: bool = False,
) -> OptionsT:
    """The base ``Transport.Options`` every create-transport request carries."""
    streams = num_sctp_streams or {"OS": 1024, "MIS": 1024}
    return OptionsT(
        direct=direct,
        maxMessageSize=max_message_size,
        initialAvailableOutgoingBitrate=initial_available_outgoing_bitrate,
        enableSctp=enable_sctp,
        numSctpStreams=None if direct else NumSctpStreamsT(os=streams["OS"], mis=streams["MIS"]),
        maxSctpMessageSize=0 if direct else max_sctp_message_size,
        sctpSendBufferSize=0 if direct else sctp_send_buffer_size,
        isDataChannel=is_data_channel,
    )


def check_num_sctp_streams(value: Any) -> None:
    """``{"OS": int, "MIS": int}``."""
    if not isinstance(value, dict) or not all(
        isinstance(value.get(k), int) and 1 <= value[k] <= 65535 for k in ("OS", "MIS")
    ):
        raise InvalidParameterError("num_sctp_streams must be {'OS': int, 'MIS': int}")


def parse_tuple(table: Any) -> dict[str, Any]:
    """A ``Transport.Tuple`` as mediasoup's ``TransportTuple``."""
    table = of(table)
    local = table.str(_TUPLE.LocalAddress)
    out: dict[str, Any] = {"localIp": local, "localAddress": local,
                           "localPort": table.u16(_TUPLE.LocalPort)}
    remote_ip = table.str(_TUPLE.RemoteIp)
    if remote_ip is not None:
        out["remoteIp"] = remote_ip
        out["remotePort"] = table.u16(_TUPLE.RemotePort)
    out["protocol"] = PROTOCOLS.get(table.u8(_TUPLE.Protocol), "udp")
    return out


def parse_sctp_parameters(table: Any) -> dict[str, Any]:
    """``SctpParameters`` as mediasoup's dict (``port``, ``OS``, ``MIS``, ...)."""
    table = of(table)
    return {
        "port": table.u16(_SCTP.Port),
        "OS": table.u16(_SCTP.Os),
        "MIS": table.u16(_SCTP.Mis),
        "maxMessageSize": table.u32(_SCTP.MaxMessageSize),
        "sendBufferSize": table.u32(_SCTP.SendBufferSize),
        "sctpBufferedAmount": table.u32(_SCTP.SctpBufferedAmount),
        "isDataChannel": table.bool(_SCTP.IsDataChannel),
    }


def parse_sctp_stream_parameters(table: Any) -> dict[str, Any]:
    """``SctpStreamParameters`` as a dict (absent optional fields left out)."""
    return fields(table, ("streamId", "ordered", "maxPacketLifeTime", "maxRetransmits"))


def sctp_stream_parameters_to_fbs(params: Mapping[str, Any]) -> SctpStreamParametersT:
    """Validated SCTP stream parameters as the FlatBuffers object."""
    return SctpStreamParametersT(
        streamId=params["streamId"],
        ordered=params.get("ordered"),
        maxPacketLifeTime=params.get("maxPacketLifeTime"),
        maxRetransmits=params.get("maxRetransmits"),
    )


def crypto_suite_to_fbs(name: str) -> int:
    """An SRTP crypto suite name as the FlatBuffers enum."""
    try:
        return CRYPTO_SUITES[name]
    except KeyError:
        raise InvalidParameterError(f"invalid SRTP crypto suite {name!r}") from None


def srtp_parameters_to_fbs(params: Any) -> SrtpParametersT:
    """``{"cryptoSuite", "keyBase64"}`` as the FlatBuffers object."""
    if not isinstance(params, dict) or not isinstance(params.get("keyBase64"), str):
        raise InvalidParameterError("srtp_parameters must be {'cryptoSuite', 'keyBase64'}")
    return SrtpParametersT(cryptoSuite=crypto_suite_to_fbs(params.get("cryptoSuite", "")),
                           keyBase64=params["keyBase64"])


def parse_srtp_parameters(table: Any) -> dict[str, Any]:
    """``SrtpParameters`` as a dict."""
    return {"cryptoSuite": _CRYPTO_NAMES[table.CryptoSuite()],
            "keyBase64": table.KeyBase64().decode()}


def parse_base_dump(table: Any) -> dict[str, Any]:
    """The ``Transport.Dump`` part shared by every transport dump."""
    table = of(table)
    ext = table.table(_DUMP.RecvRtpHeaderExtensions)
    listener = table.table(_DUMP.RtpListener)
    extensions: dict[str, Any] = {}
    for name, slot in _EXTENSION_KEYS:
        value = ext.u8(slot)
        if value is not None:
            extensions[name] = value
    out: dict[str, Any] = {
        "id": table.str(_DUMP.Id),
        "direct": table.bool(_DUMP.Direct),
        "producerIds": table.strs(_DUMP.ProducerIds),
        "consumerIds": table.strs(_DUMP.ConsumerIds),
        "mapSsrcConsumerId": read_key_values(table, _DUMP.MapSsrcConsumerId, U32_KEYS),
        "mapRtxSsrcConsumerId": read_key_values(table, _DUMP.MapRtxSsrcConsumerId, U32_KEYS),
        "dataProducerIds": table.strs(_DUMP.DataProducerIds),
        "dataConsumerIds": table.strs(_DUMP.DataConsumerIds),
        "recvRtpHeaderExtensions": extensions,
        "rtpListener": {
            "ssrcTable": read_key_values(listener, _LISTENER.SsrcTable, U32_KEYS),
            "midTable": read_key_values(listener, _LISTENER.MidTable),
            "ridTable": read_key_values(listener, _LISTENER.RidTable),
        },
        "maxMessageSize": table.u32(_DUMP.MaxMessageSize),
    }
    sctp = table.table(_DUMP.SctpParameters)
    if sctp is not None:
        out["sctpParameters"] = parse_sctp_parameters(sctp)
    sctp_state = table.u8(_DUMP.SctpState)
    if sctp_state is not None:
        out["sctpState"] = SCTP_STATES[sctp_state]
    sctp_listener = table.table(_DUMP.SctpListener)
    if sctp_listener is not None:
        out["sctpListener"] = {"streamIdTable": read_key_values(
            sctp_listener, _SCTP_LISTENER.StreamIdTable, U16_KEYS)}
    out["traceEventTypes"] = [_TRACE_NAMES[t] for t in table.u8s(_DUMP.TraceEventTypes)]
    return out


_STATS_KEYS = (
    "transportId", "timestamp", "sctpState", "bytesReceived", "recvBitrate", "bytesSent",
    "sendBitrate", "rtpBytesReceived", "rtpRecvBitrate", "rtpBytesSent", "rtpSendBitrate",
    "rtxBytesReceived", "rtxRecvBitrate", "rtxBytesSent", "rtxSendBitrate",
    "probationBytesSent", "probationSendBitrate", "availableOutgoingBitrate",
    "availableIncomingBitrate", "maxIncomingBitrate", "maxOutgoingBitrate",
    "minOutgoingBitrate", "rtpPacketLossReceived", "rtpPacketLossSent",
)


def parse_base_stats(table: Any) -> dict[str, Any]:
    """The ``Transport.Stats`` part shared by every transport's stats."""
    out = fields(table, _STATS_KEYS)
    if "sctpState" in out:
        out["sctpState"] = SCTP_STATES[out["sctpState"]]
    return out


def parse_trace(table: Any) -> dict[str, Any]:
    """A transport ``TraceNotification`` as mediasoup's trace event data."""
    trace_type = _TRACE_NAMES.get(table.Type(), str(table.Type()))
    out: dict[str, Any] = {
        "type": trace_type,
        "timestamp": table.Timestamp(),
        "direction": "in" if table.Direction() == TraceDirection.DIRECTION_IN else "out",
        "info": {},
    }
    union = table.Info()
    if trace_type == "bwe" and union is not None:
        info = BweTraceInfo()
        info.Init(union.Bytes, union.Pos)
        out["info"] = fields(info, (
            "desiredBitrate", "effectiveDesiredBitrate", "minBitrate", "maxBitrate",
            "startBitrate", "maxPaddingBitrate", "availableBitrate"))
        out["info"]["bweType"] = (
            "transport-cc" if info.BweType() == BweType.TRANSPORT_CC else "remb")
    return out
