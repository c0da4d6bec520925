"""Settings the RTC service layer reads, each with a default so no settings file is required.

Read on every use (cheap), so tests can change them with pytest-django's ``settings`` fixture.

* ``settings.MEDIASOUP`` (foundation): ``WORKER_NUM``, ``LISTEN_IP``, ``ANNOUNCED_IP``,
  ``RTC_MIN_PORT``, ``RTC_MAX_PORT``, ``WORKER_BIN``, ``LOG_LEVEL``.
* ``settings.RTC_LIMITS``: the keys of :class:`RtcLimits` in upper case, e.g.
  ``{"MAX_PEERS_PER_MEETING": 100, "RECONNECT_GRACE_SECONDS": 15}``. ``conference/settings.py``
  fills it from the ``RTC_<KEY>`` environment variables.
* ``settings.RTC_MEDIA_CODECS``: the routers' media codecs (mediasoup RtpCodecCapability list).
* ``settings.RTC_TRANSPORT``: ``ENABLE_TCP``, ``INITIAL_AVAILABLE_OUTGOING_BITRATE``,
  ``MAX_INCOMING_BITRATE``.
* ``settings.RTC_DYNACAST``: ``ENABLED``, ``RAISE_DELAY``, ``LOWER_DELAY`` (seconds), see
  :mod:`rtc.services.dynacast`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

__all__ = [
    "DEFAULT_MEDIA_CODECS",
    "DynacastOptions",
    "RtcLimits",
    "TransportOptions",
    "dynacast_options",
    "limits",
    "media_codecs",
    "mediasoup_settings",
    "transport_options",
]


@dataclass(frozen=True, slots=True)
class RtcLimits:
    """Configurable limits; each exceeded limit is answered with error code ``limit``
    (``room_full`` for the peers of a meeting)."""

    max_peers_per_meeting: int = 100
    """Peers in one call, on top of the meeting's own capacity (the smaller wins)."""
    max_transports_per_peer: int = 4
    """Open WebRTC transports of one peer (a send and a recv transport, plus spares)."""
    max_producers_per_peer: int = 6
    """Tracks one peer sends at once (mic, webcam, screen, screen audio, ...)."""
    max_consumers_per_peer: int = 300
    """Tracks one peer receives at once."""
    max_producers_per_meeting: int = 300
    """Tracks sent in one call, all peers together."""
    max_rooms_per_worker: int = 500
    """Meetings (routers) on one mediasoup worker; a new meeting beyond it is refused."""
    spare_routers_per_worker: int = 8
    """Idle routers kept on each worker so a meeting's room opens without a worker round
    trip (:mod:`rtc.services.router_reserve`; 0: none, each room waits for its router)."""
    peers_per_router: int = 50
    """Peers whose transports one router of a call takes before the call gets another router
    on another worker, its producers piped between them (:mod:`rtc.services.spread`)."""
    peers_per_node: int = 0
    """Peers of a call on its owner node before more peers' transports go on another node's
    router, media piped between the nodes (:mod:`rtc.cluster.cascade`; 0: never, a call
    stays on its owner)."""
    requests_per_second: float = 50.0
    """Sustained rtc:* requests per connection (a token bucket)."""
    request_burst: int = 100
    """Requests a connection may send at once before the rate applies."""
    reconnect_grace_seconds: float = 15.0
    """How long a peer whose socket dropped is kept for the client to resume it."""
    transport_connect_timeout_seconds: float = 30.0
    """A transport whose DTLS is not connected by then is closed (0 disables)."""
    max_sockets_per_user: int = 10
    """Open meeting sockets of one user in this process, all meetings together (a few tabs
    and devices); one more is closed with 4430 (0: unlimited)."""
    max_sockets_per_address: int = 50
    """Open meeting sockets from one client address in this process (a whole office may sit
    behind one NAT; loopback is not counted); one more is closed with 4430 (0: unlimited)."""
    max_pending_connects: int = 2000
    """Meeting sockets of this process being set up at once (accepted, waiting for the
    channel layer and the database); one more is refused at once as busy (close 4529, with
    a retry hint) rather than queued without bound."""


@dataclass(frozen=True, slots=True)
class TransportOptions:
    """How WebRTC transports are created."""

    listen_infos: list[dict[str, Any]]
    enable_tcp: bool
    initial_available_outgoing_bitrate: int
    max_incoming_bitrate: int | None


@dataclass(frozen=True, slots=True)
class DynacastOptions:
    """Whether senders are told which simulcast layers anybody consumes, and how fast."""

    enabled: bool = True
    raise_delay: float = 0.05
    """Seconds before a sender is told to encode a higher layer (a few resizes coalesce)."""
    lower_delay: float = 2.0
    """Seconds the lower layers must have been enough before a sender drops a higher one."""


DEFAULT_MEDIA_CODECS: list[dict[str, Any]] = [
    {"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2},
    {"kind": "video", "mimeType": "video/VP8", "clockRate": 90000,
     "parameters": {"x-google-start-bitrate": 1000}},
    {"kind": "video", "mimeType": "video/VP9", "clockRate": 90000,
     "parameters": {"profile-id": 2, "x-google-start-bitrate": 1000}},
    {"kind": "video", "mimeType": "video/H264", "clockRate": 90000,
     "parameters": {"packetization-mode": 1, "profile-level-id": "4d0032",
                    "level-asymmetry-allowed": 1, "x-google-start-bitrate": 1000}},
    {"kind": "video", "mimeType": "video/H264", "clockRate": 90000,
     "parameters": {"packetization-mode": 1, "profile-level-id": "42e01f",
                    "level-asymmetry-allowed": 1, "x-google-start-bitrate": 1000}},
]


_last_limits: tuple[dict[str, Any], RtcLimits] | None = None
"""The last ``RTC_LIMITS`` dict read and its limits: ``limits()`` runs a few times per socket
frame (building the dataclass cost 3.5 us each, a tenth of a millisecond per peer's set-up;
comparing the items, 1.5 % of the event loop in a burst); settings changed since (tests)
are another dict, so a fresh read."""
_NO_LIMITS: dict[str, Any] = {}


def limits() -> RtcLimits:
    """The limits from ``settings.RTC_LIMITS`` over the defaults; unknown keys are an error."""
    global _last_limits
    raw = getattr(settings, "RTC_LIMITS", None) or _NO_LIMITS
    last = _last_limits
    if last is not None and last[0] is raw:
        # Every frame reads the limits; settings are replaced, never changed in place (the
        # tests' ``settings`` fixture assigns a new dict), so the same dict means the same.
        return last[1]
    known = {f.name.upper(): f for f in fields(RtcLimits)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        spec = known.get(str(key).upper())
        if spec is None:
            raise ImproperlyConfigured(f"RTC_LIMITS has an unknown key {key!r}")
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ImproperlyConfigured(f"RTC_LIMITS[{key!r}] must be a number >= 0")
        values[spec.name] = value
    result = RtcLimits(**values)
    _last_limits = (raw, result)
    return result


def mediasoup_settings() -> dict[str, Any]:
    """``settings.MEDIASOUP`` over defaults that work on a single development machine."""
    defaults: dict[str, Any] = {
        "WORKER_NUM": os.cpu_count() or 1,
        "LISTEN_IP": "127.0.0.1",
        "ANNOUNCED_IP": None,
        "RTC_MIN_PORT": 40000,
        "RTC_MAX_PORT": 49999,
        "WORKER_BIN": None,
        "LOG_LEVEL": "warn",
    }
    return {**defaults, **(getattr(settings, "MEDIASOUP", None) or {})}


def media_codecs() -> list[dict[str, Any]]:
    """The routers' media codecs (``settings.RTC_MEDIA_CODECS`` or Opus, VP8, VP9, H264)."""
    codecs = getattr(settings, "RTC_MEDIA_CODECS", None)
    return [dict(codec) for codec in (codecs or DEFAULT_MEDIA_CODECS)]


_last_transport: tuple[tuple[Any, ...], TransportOptions] | None = None
"""The last ``MEDIASOUP`` and ``RTC_TRANSPORT`` items read and their options, as for
``limits()``: ``transport_options()`` runs for every ``rtc:createTransport`` (two a peer)."""


def transport_options() -> TransportOptions:
    """Listen addresses (UDP, and TCP unless disabled) and bitrates of WebRTC transports.

    Built once per settings: the same object while ``settings.MEDIASOUP`` and
    ``settings.RTC_TRANSPORT`` hold the same items (settings changed since, by tests, give
    other items, so a fresh read). Its ``listen_infos`` are shared: callers copy, never change.
    """
    global _last_transport
    raw = getattr(settings, "RTC_TRANSPORT", None) or {}
    key = (tuple((getattr(settings, "MEDIASOUP", None) or {}).items()), tuple(raw.items()))
    last = _last_transport
    if last is not None and last[0] == key:
        return last[1]
    ms = mediasoup_settings()
    listen: list[dict[str, Any]] = []
    protocols = ["udp", "tcp"] if raw.get("ENABLE_TCP", True) else ["udp"]
    for protocol in protocols:
        info: dict[str, Any] = {"protocol": protocol, "ip": ms["LISTEN_IP"]}
        if ms.get("ANNOUNCED_IP"):
            info["announcedAddress"] = ms["ANNOUNCED_IP"]
        listen.append(info)
    result = TransportOptions(
        listen_infos=listen,
        enable_tcp="tcp" in protocols,
        initial_available_outgoing_bitrate=int(
            raw.get("INITIAL_AVAILABLE_OUTGOING_BITRATE", 1_000_000)),
        max_incoming_bitrate=raw.get("MAX_INCOMING_BITRATE", 1_500_000),
    )
    _last_transport = (key, result)
    return result


def dynacast_options() -> DynacastOptions:
    """``settings.RTC_DYNACAST`` over the defaults."""
    raw = getattr(settings, "RTC_DYNACAST", None) or {}
    return DynacastOptions(
        enabled=bool(raw.get("ENABLED", True)),
        raise_delay=float(raw.get("RAISE_DELAY", 0.05)),
        lower_delay=float(raw.get("LOWER_DELAY", 2.0)),
    )
