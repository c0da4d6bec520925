"""Keep Python (aiortc/pymediasoup) peers on the loopback interface.

aiortc, left alone, gathers ICE host candidates on every interface except loopback and adds
Google's public STUN server when no ICE servers are configured. The project's tests, bots and
benchmarks talk only to a server on this machine, and may send traffic only to loopback
addresses, so they call :func:`restrict_aiortc_to_loopback` before creating any peer:
candidates are gathered on 127.0.0.1 only and no STUN/TURN server is contacted.
"""

from __future__ import annotations

from collections.abc import Callable

import aioice.ice
from aiortc.rtcicetransport import RTCIceGatherer

__all__ = ["restrict_aiortc_to_loopback", "LOOPBACK_ADDRESSES"]

LOOPBACK_ADDRESSES = ["127.0.0.1"]

_original: tuple[Callable[..., list[str]], object] | None = None


def _loopback_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return list(LOOPBACK_ADDRESSES) if use_ipv4 else []


def _no_default_ice_servers(cls: type) -> list:
    return []


def restrict_aiortc_to_loopback() -> None:
    """Patch aioice/aiortc process-wide (idempotent): loopback candidates, no default STUN."""
    global _original
    if _original is None:
        _original = (aioice.ice.get_host_addresses, RTCIceGatherer.__dict__["getDefaultIceServers"])
    aioice.ice.get_host_addresses = _loopback_host_addresses
    RTCIceGatherer.getDefaultIceServers = classmethod(_no_default_ice_servers)
