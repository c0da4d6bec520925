"""RTP stream stats and dumps (producers, consumers) as mediasoup's dicts."""

from __future__ import annotations

from typing import Any

from FBS.RtpStream.BaseStats import BaseStats
from FBS.RtpStream.RecvStats import RecvStats
from FBS.RtpStream.SendStats import SendStats
from FBS.RtpStream.StatsData import StatsData

from .fbs_rtp import kind_from_fbs
from .fbs_utils import fields

__all__ = ["parse_rtp_stream_stats", "parse_rtp_stream_dump"]

_BASE_KEYS = (
    "timestamp", "ssrc", "rtxSsrc", "rid", "kind", "mimeType", "packetsLost", "fractionLost",
    "packetsDiscarded", "packetsRetransmitted", "packetsRepaired", "nackCount",
    "nackPacketCount", "pliCount", "firCount", "score", "roundTripTime",
    "rtxPacketsDiscarded",
)


def _union(table: Any, cls: type[Any]) -> Any:
    union = table.Data()
    obj = cls()
    obj.Init(union.Bytes, union.Pos)
    return obj


def _base(stats_table: Any) -> dict[str, Any]:
    base = fields(_union(stats_table, BaseStats), _BASE_KEYS)
    base["kind"] = kind_from_fbs(base["kind"])
    if not base.get("rtxPacketsDiscarded"):
        base.pop("rtxPacketsDiscarded", None)
    return base


def parse_rtp_stream_stats(table: Any) -> dict[str, Any]:
    """One ``RtpStream.Stats``: ``inbound-rtp`` (receive) or ``outbound-rtp`` (send)."""
    if table.DataType() == StatsData.RecvStats:
        recv = _union(table, RecvStats)
        out = _base(recv.Base())
        out["type"] = "inbound-rtp"
        out.update(fields(recv, ("jitter", "byteCount", "packetCount", "bitrate")))
        out["bitrateByLayer"] = {
            recv.BitrateByLayer(i).Layer().decode(): recv.BitrateByLayer(i).Bitrate()
            for i in range(recv.BitrateByLayerLength())
        }
        return out
    send = _union(table, SendStats)
    out = _base(send.Base())
    out["type"] = "outbound-rtp"
    out.update(fields(send, ("byteCount", "packetCount", "bitrate")))
    return out


_PARAMS_KEYS = (
    "encodingIdx", "ssrc", "payloadType", "mimeType", "clockRate", "rid", "cname", "rtxSsrc",
    "rtxPayloadType", "useNack", "usePli", "useFir", "useInBandFec", "useDtx", "spatialLayers",
    "temporalLayers",
)


def parse_rtp_stream_dump(table: Any) -> dict[str, Any]:
    """One ``RtpStream.Dump`` (params, score, RTX stream)."""
    params = fields(table.Params(), _PARAMS_KEYS)
    if params.get("rid") == "":
        del params["rid"]
    out: dict[str, Any] = {"params": params, "score": table.Score()}
    rtx = table.RtxStream()
    if rtx is not None:
        rtx_params = fields(rtx.Params(), ("ssrc", "payloadType", "mimeType", "clockRate",
                                           "rrid", "cname"))
        if rtx_params.get("rrid") == "":
            del rtx_params["rrid"]
        out["rtxStream"] = {"params": rtx_params}
    return out
