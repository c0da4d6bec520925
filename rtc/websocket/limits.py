"""How many meeting sockets each user and each client address holds open in this process.

A signed-in meeting socket takes a :class:`SocketSlot` from :data:`open_sockets` in its
``connect``, before any database work, and is refused (close ``4430``,
``CloseCode.TOO_MANY_SOCKETS``) when its user already holds ``MAX_SOCKETS_PER_USER`` open
sockets, all meetings together, or its client address ``MAX_SOCKETS_PER_ADDRESS`` (limits of
`rtc.services.config`, 0 means unlimited). Without this bound one account could hold any
number of sockets, each a task, a channel and a group membership.

The slot is given back exactly once however the socket ends: :meth:`OpenSockets.release` is
idempotent, and `MeetingConsumer` calls it when it closes the socket, when the client's close
arrives, and when the socket's task ends for any reason (an exception in ``connect``, a task
cancelled by the server).

Addresses are counted in one spelling per client, as sign-in throttling does
(``conference/login_throttle.py``): IPv4-mapped IPv6 as IPv4, IPv6 per /64 (one host or
household holds a whole /64). Loopback is not counted: it is the server's own host (bots,
benchmarks, or a reverse proxy whose forwarded address daphne was not told to use, where the
one address would cap the whole service). Sockets without an address (a UNIX socket) count per
user only. Log lines never carry an address: :func:`address_tag` is a digest keyed with
``SECRET_KEY``, enough to see that refusals come from one address.

The counts here cover one process. In a cluster every socket is also counted in Redis
(`rtc.cluster.limits`), for all nodes together, right after it passed the count here: the
limits then hold for the whole service. Callers run on the event loop and nothing here awaits,
so no other ``connect`` can slip in between a check and its count.
"""

from __future__ import annotations

import ipaddress
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from django.utils.crypto import salted_hmac
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from rtc.operations.metrics import REGISTRY
from rtc.services.config import limits

__all__ = [
    "IPV6_PREFIX",
    "OpenSockets",
    "SocketCounts",
    "SocketLimit",
    "SocketSlot",
    "address_tag",
    "canonical_address",
    "client_address",
    "open_sockets",
]

logger = logging.getLogger(__name__)

IPV6_PREFIX = 64
"""IPv6 clients are counted per /64, like sign-in failures."""


class SocketLimit(StrEnum):
    """Which limit refused a socket."""

    USER = "user"
    ADDRESS = "address"


@dataclass(slots=True, eq=False)
class SocketSlot:
    """One open socket's place in the counts."""

    user_id: str
    """The user it counts against (``str(user.pk)``)."""
    address: str | None
    """The canonical client address it counts against; None when it counts per user only."""
    released: bool = False
    """Given back already: a second release changes nothing."""
    shared: Any = None
    """Where the cluster counted it too (`rtc.cluster.limits`), given back with it."""


@dataclass(frozen=True, slots=True)
class SocketCounts:
    """A read-only snapshot of :class:`OpenSockets` (tests, diagnostics, metrics)."""

    total: int
    """Open sockets holding a slot."""
    per_user: Mapping[str, int]
    """Open sockets by user id (users with none left out)."""
    per_address: Mapping[str, int]
    """Open sockets by canonical address (addresses with none left out)."""
    refused: Mapping[str, int]
    """Sockets refused since the process started, by :class:`SocketLimit` value."""


def _decrement(counter: Counter[str], key: str) -> None:
    counter[key] -= 1
    if counter[key] <= 0:
        del counter[key]  # so the table holds only who has sockets now


class OpenSockets:
    """Open meeting sockets per user and per client address."""

    on_release: Callable[[SocketSlot], None] | None = None
    """Called with each slot given back that the cluster counted too (`rtc.cluster.limits`)."""

    def __init__(self) -> None:
        self._users: Counter[str] = Counter()
        self._addresses: Counter[str] = Counter()
        self._total = 0
        self._refused: Counter[str] = Counter()

    def acquire(
        self, *, user_id: Any, address: str | None, max_per_user: float, max_per_address: float
    ) -> SocketSlot | SocketLimit:
        """Count one more socket of ``user_id`` from ``address`` (canonical, or None) and
        return its slot, or the limit it would exceed (nothing counted then). A limit of 0 is
        no limit."""
        user = str(user_id)
        if max_per_user and self._users[user] >= max_per_user:
            self._refused[SocketLimit.USER] += 1
            return SocketLimit.USER
        if address is not None and max_per_address and self._addresses[address] >= max_per_address:
            self._refused[SocketLimit.ADDRESS] += 1
            return SocketLimit.ADDRESS
        self._users[user] += 1
        if address is not None:
            self._addresses[address] += 1
        self._total += 1
        return SocketSlot(user_id=user, address=address)

    def release(self, slot: SocketSlot) -> bool:
        """Give a slot back; True the first time, False (and nothing changed) afterwards."""
        if slot.released:
            return False
        slot.released = True
        _decrement(self._users, slot.user_id)
        if slot.address is not None:
            _decrement(self._addresses, slot.address)
        self._total -= 1
        if slot.shared is not None and self.on_release is not None:
            try:
                self.on_release(slot)
            except Exception:
                logger.exception("socket slot not given back to the cluster")
        return True

    def note_refused(self, limit: SocketLimit) -> None:
        """Count a refusal decided elsewhere (the cluster-wide counts)."""
        self._refused[limit] += 1

    def of_user(self, user_id: Any) -> int:
        """Open sockets of a user."""
        return self._users[str(user_id)]

    def of_address(self, address: str) -> int:
        """Open sockets counted against an address (any spelling of it)."""
        canonical = canonical_address(address)
        return self._addresses[canonical] if canonical is not None else 0

    def counts(self) -> SocketCounts:
        """A snapshot of every count."""
        return SocketCounts(
            total=self._total,
            per_user=MappingProxyType(dict(self._users)),
            per_address=MappingProxyType(dict(self._addresses)),
            refused=MappingProxyType({str(k): v for k, v in self._refused.items()}),
        )

    def __len__(self) -> int:
        return self._total


open_sockets = OpenSockets()
"""The process's open meeting sockets."""


def canonical_address(value: str | None) -> str | None:
    """The address a client counts against: one spelling per client (IPv4-mapped IPv6 as IPv4,
    IPv6 as its /64 network); None for loopback and for anything that is not an address."""
    try:
        address = ipaddress.ip_address((value or "").strip())
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return None
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/{IPV6_PREFIX}", strict=False).network_address)
    return str(address)


def client_address(scope: Mapping[str, Any]) -> str | None:
    """The canonical address of an ASGI connection (``scope["client"][0]``; behind a reverse
    proxy, daphne's ``--proxy-headers`` puts the forwarded address there)."""
    client = scope.get("client")
    if not client:
        return None
    return canonical_address(str(client[0]))


def address_tag(address: str | None) -> str:
    """A stable, unreadable name of an address for log lines (a keyed digest: an unkeyed hash
    of an IPv4 address is undone by trying all 2**32)."""
    if address is None:
        return "-"
    return "#" + salted_hmac("rtc.socket_limits.address", address).hexdigest()[:12]


class _SocketCollector:
    """``conference_meeting_sockets_open`` and ``conference_meeting_sockets_refused_total``."""

    def describe(self) -> list[Metric]:
        return list(self.collect())

    def collect(self) -> Iterable[Metric]:
        counts = open_sockets.counts()
        yield GaugeMetricFamily("conference_meeting_sockets_open",
                                "Signed-in meeting sockets open in this process.",
                                value=counts.total)
        refused = CounterMetricFamily(
            "conference_meeting_sockets_refused",
            "Meeting sockets refused for MAX_SOCKETS_PER_USER or MAX_SOCKETS_PER_ADDRESS.",
            labels=["limit"])
        for limit in SocketLimit:
            refused.add_metric([limit.value], counts.refused.get(limit.value, 0))
        yield refused


REGISTRY.register(_SocketCollector())

# A malformed RTC_MAX_SOCKETS_PER_USER/_PER_ADDRESS stops the start-up (conference.asgi imports
# the meeting consumer, which imports this module), as every other RTC_* variable does.
limits()
