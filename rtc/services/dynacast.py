"""Dynacast: tell each sender which simulcast layers of its camera anybody consumes.

A browser encodes every simulcast layer it was asked for (three for the camera), whether or not
anyone receives them: in a meeting where everyone watches thumbnails, each sender spends its
uplink and CPU on a 720p layer nobody gets. The worker knows what each consumer wants (its
preferred spatial layer, chosen by the receiving page from its tile's size), so per simulcast
producer of a room this module takes the highest preferred spatial layer over the producer's
consumers that are not paused, and sends the producing peer ``rtc:producerLayers``
(``producerId``, ``maxSpatialLayer``, ``spatialLayers``); the page stops encoding the layers
above it (``RTCRtpSender.setParameters`` with ``active: false``).

The layers below the highest wanted one stay on, and layer 0 always does: when a receiver's
bandwidth estimate drops, the worker switches its consumer to a lower layer at once, and a new
receiver starts without waiting for the sender. Preferred layers, not current ones, decide: a
receiver held at a low layer by its bandwidth climbs back only if the sender still sends the
higher layer it wants.

Raising is sent after ``raise_delay`` (a few resizes coalesce), lowering only after the lower
layers were enough for ``lower_delay`` seconds, so a tile resized back and forth does not make
the sender switch its encoder on and off.

Consumers are followed through the router's observers (``newtransport``, then ``newconsumer``
and ``newproducer`` of each transport), so consumers made by any part of the server count, not
only the peers' own; a preferred-layers change is reported by :meth:`Dynacast.changed` (the
control layer has no event for it). A call cascaded to another node (:mod:`rtc.cluster.cascade`)
is followed the same way: its remote router's proxies announce their transports, producers and
consumers as the library's observers do, and the owner drives every remote consumer, so their
preferred layers, pauses and closes are known here (a remote pipe transport, ``type ==
"pipe"``, is skipped as a local one is).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

from mediasoup_ctl import PipeTransport

from conference import clock
from rtc.services import notify

__all__ = ["Dynacast", "wanted_spatial_layer"]

logger = logging.getLogger(__name__)

EVENT = "rtc:producerLayers"
AWAY_RETRY = 1.0
"""Seconds between tries to tell a sender that is away (its socket dropped, not yet back)."""


def wanted_spatial_layer(consumers: Any, spatial_layers: int) -> int:
    """The highest spatial layer any of ``consumers`` (not paused) prefers, within
    ``0..spatial_layers-1``; 0 when none wants one."""
    wanted = 0
    for consumer in consumers:
        if consumer.closed or consumer.paused:
            continue
        preferred = consumer.preferred_layers or {}
        wanted = max(wanted, int(preferred.get("spatialLayer", spatial_layers - 1)))
    return max(0, min(wanted, spatial_layers - 1))


@dataclass(eq=False)
class _Tracked:
    """One simulcast producer: its consumers, and what its sender was last told."""

    producer: Any
    spatial_layers: int
    sent: int
    """The highest layer the sender encodes now, as far as we know (all at first)."""
    consumers: set[Any] = field(default_factory=set)
    timer: asyncio.TimerHandle | None = None
    timer_target: int | None = None


class Dynacast:
    """Per room: follows the router's simulcast producers and their consumers."""

    def __init__(self, *, meeting_id: str, owner_channel: Callable[[str], str | None],
                 start_task: Callable[[Coroutine[Any, Any, Any]], Any],
                 raise_delay: float = 0.05, lower_delay: float = 2.0) -> None:
        self.meeting_id = meeting_id
        self._owner_channel = owner_channel
        self._start_task = start_task
        self.raise_delay = raise_delay
        self.lower_delay = lower_delay
        self._producers: dict[str, _Tracked] = {}
        self.closed = False

    # -- following the router ------------------------------------------------------------------

    def attach(self, router: Any) -> None:
        """Follow every transport the router creates from now on (a call spread over several
        routers attaches each; the room closes the dynacast with the call)."""
        router.observer.on("newtransport", self._on_transport)

    def _on_transport(self, transport: Any) -> None:
        if isinstance(transport, PipeTransport) or getattr(transport, "type", "") == "pipe":
            # Between routers of one call: a pipe consumer forwards every layer, and the pipe
            # producer is the same producer; the consumers of it elsewhere are what count.
            return
        transport.observer.on("newproducer", self._on_producer)
        transport.observer.on("newconsumer", self._on_consumer)

    def _on_producer(self, producer: Any) -> None:
        layers = len((producer.rtp_parameters or {}).get("encodings") or [])
        if self.closed or producer.kind != "video" or producer.type != "simulcast" or layers < 2:
            return
        tracked = _Tracked(producer=producer, spatial_layers=layers, sent=layers - 1)
        self._producers[producer.id] = tracked
        producer.observer.on("close", lambda: self._forget(producer.id))
        self._schedule(tracked)

    def _on_consumer(self, consumer: Any) -> None:
        tracked = self._producers.get(consumer.producer_id)
        if tracked is None:
            return
        tracked.consumers.add(consumer)

        def on_close() -> None:
            tracked.consumers.discard(consumer)
            self._schedule(tracked)

        consumer.observer.on("close", on_close)
        consumer.observer.on("pause", lambda: self._schedule(tracked))
        consumer.observer.on("resume", lambda: self._schedule(tracked))
        self._schedule(tracked)

    def changed(self, consumer: Any) -> None:
        """A consumer's preferred layers changed (``rtc:setPreferredLayers``)."""
        tracked = self._producers.get(getattr(consumer, "producer_id", ""))
        if tracked is not None:
            self._schedule(tracked)

    def _forget(self, producer_id: str) -> None:
        tracked = self._producers.pop(producer_id, None)
        if tracked is not None and tracked.timer is not None:
            tracked.timer.cancel()

    def close(self) -> None:
        """Stop: timers cancelled, nothing more is sent (the router closed)."""
        self.closed = True
        for producer_id in list(self._producers):
            self._forget(producer_id)

    # -- deciding and telling ------------------------------------------------------------------

    def state(self, producer_id: str) -> dict[str, int] | None:
        """What the sender of ``producer_id`` was told, and what its consumers want now."""
        tracked = self._producers.get(producer_id)
        if tracked is None:
            return None
        return {"sent": tracked.sent, "wanted": self._wanted(tracked),
                "spatialLayers": tracked.spatial_layers}

    @staticmethod
    def _wanted(tracked: _Tracked) -> int:
        return wanted_spatial_layer(tracked.consumers, tracked.spatial_layers)

    def _schedule(self, tracked: _Tracked) -> None:
        """Arm (or disarm) the timer that tells the sender about a new highest layer."""
        if self.closed or tracked.producer.closed:
            return
        wanted = self._wanted(tracked)
        if wanted == tracked.sent:
            self._disarm(tracked)
            return
        if tracked.timer is not None:
            lowering = tracked.timer_target is not None and tracked.timer_target < tracked.sent
            if lowering == (wanted < tracked.sent):
                return  # same direction: the armed timer re-reads what is wanted when it fires
            self._disarm(tracked)
        delay = self.raise_delay if wanted > tracked.sent else self.lower_delay
        tracked.timer_target = wanted
        tracked.timer = clock.current().call_later(delay, self._fire, tracked)

    @staticmethod
    def _disarm(tracked: _Tracked) -> None:
        if tracked.timer is not None:
            tracked.timer.cancel()
        tracked.timer = None
        tracked.timer_target = None

    def _fire(self, tracked: _Tracked) -> None:
        tracked.timer = None
        tracked.timer_target = None
        if self.closed or tracked.producer.closed or self._producers.get(
                tracked.producer.id) is not tracked:
            return
        wanted = self._wanted(tracked)
        if wanted == tracked.sent:
            return
        channel = self._owner_channel(tracked.producer.id)
        if channel is None:
            # The sender is away (reconnect grace): ask again until it is back (or its
            # producer closes with it).
            tracked.timer_target = wanted
            tracked.timer = clock.current().call_later(AWAY_RETRY, self._fire, tracked)
            return
        tracked.sent = wanted
        logger.info("producer layers [meeting:%s, producer:%s, maxSpatialLayer:%s/%s]",
                    self.meeting_id, tracked.producer.id, wanted, tracked.spatial_layers)
        self._start_task(notify.send_to(channel, EVENT, {
            "producerId": tracked.producer.id, "maxSpatialLayer": wanted,
            "spatialLayers": tracked.spatial_layers}))
