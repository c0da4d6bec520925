"""Prometheus metrics of the process: calls, workers, media quality, signaling.

Everything is in :data:`REGISTRY` (not prometheus_client's global one, so nothing else leaks in)
and served by :func:`metrics_view` at ``/metrics``. Live figures are read at scrape time:

* :class:`LiveCollector` reads the RoomService's in-memory model (rooms, peers, producers,
  consumers, scores that the worker pushes with ``score`` events) and the worker pool.
* Figures only the worker knows (bytes, bitrates, packet loss, CPU) come from a
  :class:`MediaSampler` sample (:func:`rtc.operations.media_sampling.sample_media`), refreshed by
  the async view before it renders when older than ``settings.METRICS_STATS_MAX_AGE`` seconds;
  concurrent scrapes share one refresh. Byte and packet totals are true counters: each sample adds
  what every object gained since the previous one (what an object gains between its last sample and
  its close is not counted).
* Signaling requests are counted and timed at the meeting socket's dispatch point
  (:func:`observe_request`).

Metric names (all prefixed ``conference_``), by family:

* calls: ``rooms_active``, ``peers_active``, ``peers_reconnecting``, ``transports_active``,
  ``producers_active{kind}``, ``consumers_active{kind}``, ``producers_by_score{kind,score}``,
  ``consumers_by_score{kind,score}``, ``producer_score_min{kind}``, ``consumer_score_min{kind}``
* workers: ``workers_alive``, ``workers_configured``, ``worker_restarts_total``,
  ``worker_routers{pid}``, ``worker_cpu_seconds_total{pid,mode}``,
  ``worker_max_resident_memory_bytes{pid}``, ``worker_resident_memory_bytes{pid}``
* media: ``transport_bytes_received_total``, ``transport_bytes_sent_total``,
  ``transport_recv_bitrate_bps``, ``transport_send_bitrate_bps``,
  ``rtp_packets_total{direction}``, ``rtp_packets_lost_total{direction}``,
  ``rtp_fraction_lost_max{direction}``, ``media_sample_age_seconds``,
  ``media_sample_duration_seconds``, ``media_sample_errors``
* signaling: ``signaling_requests_total{type,outcome}``, ``signaling_request_seconds{type}``,
  and (registered by ``rtc.websocket.limits``) ``meeting_sockets_open``,
  ``meeting_sockets_refused_total{limit}``

``direction="in"`` is media the server receives from clients (producers' streams),
``direction="out"`` what it sends to them (consumers' streams, loss from the receivers' RTCP).
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import re
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from prometheus_client import (
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder

from rtc.operations.media_sampling import (
    MediaSample,
    best_producer_score,
    consumer_score,
    sample_media,
)
from rtc.services import get_room_service, mediasoup_settings

if TYPE_CHECKING:
    from rtc.services import RoomService

__all__ = [
    "REGISTRY",
    "LiveCollector",
    "MediaSampler",
    "metrics_view",
    "observe_request",
    "sampler",
]

logger = logging.getLogger(__name__)

REGISTRY = CollectorRegistry()
"""Every metric of the project; ``/metrics`` renders this registry."""

ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

KINDS = ("audio", "video")
DIRECTIONS = ("in", "out")
_OUTCOME = re.compile(r"[a-z_]{1,32}")

SIGNALING_REQUESTS = Counter(
    "conference_signaling_requests",
    "Meeting socket requests dispatched to a handler, by type and outcome "
    "(ok, or the error code of the reply).",
    ["type", "outcome"],
    registry=REGISTRY,
)
SIGNALING_SECONDS = Histogram(
    "conference_signaling_request_seconds",
    "Time from dispatch to reply of meeting socket requests, by type.",
    ["type"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)


def observe_request(message_type: str, reply: dict[str, Any], seconds: float) -> None:
    """Count and time one dispatched request; ``reply`` is what the client is sent.

    ``message_type`` is a registered type (the dispatcher refuses others before this point),
    so the label set stays bounded; the outcome is ``ok`` or the reply's error code.
    """
    if "error" in reply:
        code = str(reply.get("code") or "error")
        outcome = code if _OUTCOME.fullmatch(code) else "error"
    else:
        outcome = "ok"
    counter = _request_counters.get((message_type, outcome))
    if counter is None:
        counter = _request_counters[(message_type, outcome)] = SIGNALING_REQUESTS.labels(
            type=message_type, outcome=outcome)
    timer = _request_timers.get(message_type)
    if timer is None:
        timer = _request_timers[message_type] = SIGNALING_SECONDS.labels(type=message_type)
    counter.inc()
    timer.observe(max(0.0, seconds))


# The children of the two metrics above by label values: ``labels()`` checks, sorts and locks
# on every call (two of them per request); the same values always give the same child. As
# bounded as the label sets (registered types, error codes).
_request_counters: dict[tuple[str, str], Any] = {}
_request_timers: dict[str, Any] = {}


# -- media sample and counters ----------------------------------------------------------------


class _Totals:
    """Monotonic totals built from cumulative per-object figures, sample after sample."""

    def __init__(self) -> None:
        self.values: dict[str, float] = {}
        self._last: dict[tuple[Any, ...], float] = {}

    def update(self, sample: MediaSample) -> None:
        seen: dict[tuple[Any, ...], float] = {}

        def add(total: str, key: tuple[Any, ...], value: Any) -> None:
            if not isinstance(value, int | float):
                return
            previous = self._last.get(key, 0.0)
            # A counter that went down (an RTCP quirk, a reused id) adds nothing.
            self.values[total] = self.values.get(total, 0.0) + max(0.0, value - previous)
            seen[key] = max(previous, value)

        for transport_id, stats in sample.transports.items():
            add("bytes_received", ("t", transport_id, "rx"), stats.get("bytesReceived"))
            add("bytes_sent", ("t", transport_id, "tx"), stats.get("bytesSent"))
        for producer_id, streams in sample.producers.items():
            for stream in streams:
                if stream.get("type") == "inbound-rtp":
                    key = ("p", producer_id, stream.get("ssrc"))
                    add("packets_in", (*key, "n"), stream.get("packetCount"))
                    add("lost_in", (*key, "lost"), stream.get("packetsLost"))
        for consumer_id, streams in sample.consumers.items():
            for stream in streams:
                if stream.get("type") == "outbound-rtp":
                    key = ("c", consumer_id, stream.get("ssrc"))
                    add("packets_out", (*key, "n"), stream.get("packetCount"))
                    add("lost_out", (*key, "lost"), stream.get("packetsLost"))
        self._last = seen

    def get(self, name: str) -> float:
        return self.values.get(name, 0.0)


class MediaSampler:
    """The latest media sample and the counters built from all samples so far."""

    def __init__(self) -> None:
        self.latest: MediaSample | None = None
        self.totals = _Totals()
        self._inflight: asyncio.Task[MediaSample] | None = None

    async def refresh(self, service: RoomService, *, max_age: float) -> MediaSample:
        """A sample no older than ``max_age`` seconds (taking one if needed, once for all
        concurrent callers)."""
        latest = self.latest
        if latest is not None and time.monotonic() - latest.taken_at <= max_age:
            return latest
        task = self._inflight
        loop = asyncio.get_running_loop()
        if task is None or task.done() or task.get_loop() is not loop:
            task = loop.create_task(self._take(service))
            self._inflight = task
        return await asyncio.shield(task)

    async def _take(self, service: RoomService) -> MediaSample:
        sample = await sample_media(service)
        self.totals.update(sample)
        self.latest = sample
        return sample


sampler = MediaSampler()
"""The process's sampler (``/metrics`` refreshes it)."""


# -- the live collector ------------------------------------------------------------------------


def _resident_bytes(pid: int) -> int | None:
    """Current resident memory of a process (Linux ``/proc``); None elsewhere or if gone."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


def _gauge(name: str, documentation: str, value: float | None = None,
           labels: Iterable[str] = ()) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=list(labels) or None)
    if value is not None:
        family.add_metric([], value)
    return family


class LiveCollector:
    """Reads the RoomService and the latest media sample each time the registry is collected.

    Runs in the event loop's thread (the async view renders in it), so the in-memory model is
    never read while a coroutine changes it.
    """

    def __init__(self, media: MediaSampler) -> None:
        self.media = media

    def describe(self) -> list[Metric]:
        """Nothing up front: names are not checked for clashes at registration."""
        return []

    def collect(self) -> Iterable[Metric]:
        """Every ``conference_*`` figure except the signaling ones."""
        service = get_room_service()
        yield from self._node()
        yield from self._calls(service)
        yield from self._workers(service)
        yield from self._media()

    # -- the cluster node -------------------------------------------------------------------

    def _node(self) -> Iterable[Metric]:
        """Which node these figures are of, the nodes it sees, and its relay's traffic
        (nothing without a cluster). Prometheus scrapes every node: ``conference_node_info``
        joins each scrape to its node id."""
        from rtc.cluster import local_node

        node = local_node()
        if node is None:
            return
        info = _gauge("conference_node_info", "This cluster node (value 1), by id and state.",
                      labels=["node", "draining"])
        info.add_metric([node.id, "1" if node.draining else "0"], 1)
        yield info
        yield _gauge("conference_cluster_nodes", "Live nodes this node saw at its last heartbeat "
                     "(itself included).", len({*node.records, node.id}))
        relayed = CounterMetricFamily("conference_relay_requests",
                                      "Requests relayed between nodes, by direction.",
                                      labels=["direction"])
        relayed.add_metric(["forwarded"], node.relay.forwarded)
        relayed.add_metric(["served"], node.relay.served)
        yield relayed

    # -- calls ------------------------------------------------------------------------------

    def _calls(self, service: RoomService) -> Iterable[Metric]:
        rooms = [r for r in list(service.rooms.values()) if not r.closed]
        peers = [p for r in rooms for p in r.peers.values()]
        producers = [x for p in peers for x in p.producers.values() if not x.closed]
        consumers = [x for p in peers for x in p.consumers.values() if not x.closed]
        yield _gauge("conference_rooms_active", "Meetings with a live call in this process.",
                     len(rooms))
        yield _gauge("conference_peers_active", "Peers in live calls (reconnecting included).",
                     len(peers))
        yield _gauge("conference_peers_reconnecting",
                     "Peers whose socket dropped, kept for the reconnect grace period.",
                     sum(1 for p in peers if p.channel_name is None))
        yield _gauge("conference_transports_active", "Open WebRTC transports of peers.",
                     sum(len(p.transports) for p in peers))
        for name, items, score_of, what in (
            ("producers", producers, best_producer_score, "sent to the server"),
            ("consumers", consumers, consumer_score, "sent by the server"),
        ):
            active = _gauge(f"conference_{name}_active", f"Open tracks {what}, by kind.",
                            labels=["kind"])
            by_score = _gauge(f"conference_{name}_by_score",
                              f"Open tracks {what} by kind and current score (0-10, from the "
                              "worker's score events); tracks not scored yet are left out.",
                              labels=["kind", "score"])
            lowest = _gauge(f"conference_{name[:-1]}_score_min",
                            f"Lowest current score of the tracks {what}, by kind "
                            "(absent when none is scored).", labels=["kind"])
            for kind in KINDS:
                of_kind = [x for x in items if x.kind == kind]
                active.add_metric([kind], len(of_kind))
                scores = [s for s in (score_of(x) for x in of_kind) if s is not None]
                for score in sorted(set(scores)):
                    by_score.add_metric([kind, str(score)], scores.count(score))
                if scores:
                    lowest.add_metric([kind], min(scores))
            yield from (active, by_score, lowest)

    # -- workers ----------------------------------------------------------------------------

    def _workers(self, service: RoomService) -> Iterable[Metric]:
        pool = service.mediasoup
        workers = [w for w in pool.workers if not w.closed]
        yield _gauge("conference_workers_alive", "Live mediasoup-worker processes in the pool.",
                     len(workers))
        yield _gauge("conference_workers_configured",
                     "Workers the pool runs when complete (MEDIASOUP_WORKER_NUM).",
                     int(mediasoup_settings()["WORKER_NUM"]))
        restarts = CounterMetricFamily("conference_worker_restarts",
                                       "Dead workers replaced by a new process.")
        restarts.add_metric([], getattr(pool, "replacements", 0))
        yield restarts
        routers = _gauge("conference_worker_routers",
                         "Routers serving calls on each worker (idle spares left out).",
                         labels=["pid"])
        cpu = CounterMetricFamily("conference_worker_cpu_seconds",
                                  "CPU time of each worker process (getrusage), by mode.",
                                  labels=["pid", "mode"])
        peak = _gauge("conference_worker_max_resident_memory_bytes",
                      "Peak resident memory of each worker process (getrusage ru_maxrss).",
                      labels=["pid"])
        resident = _gauge("conference_worker_resident_memory_bytes",
                          "Current resident memory of each worker process (/proc).",
                          labels=["pid"])
        usage = self.media.latest.workers if self.media.latest is not None else {}
        for worker in workers:
            pid = str(worker.pid)
            routers.add_metric([pid], pool.call_routers(worker))
            ru = usage.get(worker.pid)
            if ru is not None:
                cpu.add_metric([pid, "user"], ru.get("ru_utime", 0) / 1000)
                cpu.add_metric([pid, "system"], ru.get("ru_stime", 0) / 1000)
                peak.add_metric([pid], ru.get("ru_maxrss", 0) * 1024)
            rss = _resident_bytes(worker.pid)
            if rss is not None:
                resident.add_metric([pid], rss)
        yield from (routers, cpu, peak, resident)

    # -- media ------------------------------------------------------------------------------

    def _media(self) -> Iterable[Metric]:
        sample, totals = self.media.latest, self.media.totals
        for name, key, what in (
            ("conference_transport_bytes_received", "bytes_received", "received by"),
            ("conference_transport_bytes_sent", "bytes_sent", "sent by"),
        ):
            family = CounterMetricFamily(name, f"Bytes {what} the server on peers' transports "
                                               "(RTP, RTCP, ICE, DTLS).")
            family.add_metric([], totals.get(key))
            yield family
        packets = CounterMetricFamily("conference_rtp_packets", "RTP packets, by direction.",
                                      labels=["direction"])
        lost = CounterMetricFamily("conference_rtp_packets_lost",
                                   "RTP packets lost, by direction (in: seen missing by the "
                                   "server; out: reported lost by receivers).",
                                   labels=["direction"])
        for direction in DIRECTIONS:
            packets.add_metric([direction], totals.get(f"packets_{direction}"))
            lost.add_metric([direction], totals.get(f"lost_{direction}"))
        yield from (packets, lost)
        recv = _gauge("conference_transport_recv_bitrate_bps",
                      "Current receive bitrate of all transports, bits per second.")
        send = _gauge("conference_transport_send_bitrate_bps",
                      "Current send bitrate of all transports, bits per second.")
        fraction = _gauge("conference_rtp_fraction_lost_max",
                          "Worst current fraction of packets lost (0-1) of any stream, "
                          "by direction.", labels=["direction"])
        if sample is not None:
            recv.add_metric([], sum(s.get("recvBitrate", 0) for s in sample.transports.values()))
            send.add_metric([], sum(s.get("sendBitrate", 0) for s in sample.transports.values()))
            for direction, streams, stream_type in (
                ("in", sample.producers.values(), "inbound-rtp"),
                ("out", sample.consumers.values(), "outbound-rtp"),
            ):
                values = [s.get("fractionLost", 0) or 0 for group in streams for s in group
                          if s.get("type") == stream_type]
                fraction.add_metric([direction], max(values, default=0) / 256)
            yield _gauge("conference_media_sample_age_seconds",
                         "Age of the media sample the media figures come from.",
                         max(0.0, time.monotonic() - sample.taken_at))
            yield _gauge("conference_media_sample_duration_seconds",
                         "Time the last media sample took.", sample.duration)
            yield _gauge("conference_media_sample_errors",
                         "Objects whose figures the last media sample could not read.",
                         sample.errors)
        yield from (recv, send, fraction)


REGISTRY.register(LiveCollector(sampler))


# -- the view ------------------------------------------------------------------------------------


def _bearer(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" and credentials.strip() else None


async def _allowed(request: HttpRequest) -> bool | None:
    """True if allowed; False if authenticated but refused; None if credentials are missing."""
    token = getattr(settings, "METRICS_TOKEN", "") or ""
    offered = _bearer(request)
    if offered is not None:
        return bool(token) and hmac.compare_digest(offered.encode(), token.encode())
    user = await request.auser()
    if user.is_authenticated:
        return bool(user.is_active and user.is_staff)
    return None


@never_cache
async def metrics_view(request: HttpRequest) -> HttpResponse:
    """``/metrics`` in Prometheus text format (OpenMetrics when the scraper asks for it), for
    ``Authorization: Bearer <METRICS_TOKEN>`` or a staff session; 401 without credentials or
    with a wrong token, 403 for a signed-in user who is not staff."""
    allowed = await _allowed(request)
    if not allowed:
        status = 401 if allowed is None or _bearer(request) is not None else 403
        response = HttpResponse("Metrics need a bearer token or a staff session.\n",
                                status=status, content_type="text/plain")
        if status == 401:
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    max_age = float(getattr(settings, "METRICS_STATS_MAX_AGE", 5.0))
    await sampler.refresh(get_room_service(), max_age=max_age)
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encoder(REGISTRY), content_type=content_type)
