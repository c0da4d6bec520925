"""One rate limit per meeting socket, owned by its `rtc.websocket.session.SocketSession`.

A socket used to pass two limiters, each a process-wide table keyed by channel name: a frame
budget in the consumer (with the flood cut-off) and a request bucket in the route table's
handler, forgotten at two different places. :class:`SocketRate` is the one limiter now: it
lives and dies with the socket's session (nothing to forget, nothing to leak), reads one
configuration (:class:`RateConfig`, from ``RTC_REQUESTS_PER_SECOND`` and ``RTC_REQUEST_BURST``)
and the process's clock (`conference.clock`, so tests move time instead of sleeping).

What it enforces is what clients always saw:

* every frame of any kind (valid or not) takes a token of the **frame budget**, ``FRAME_FACTOR``
  times the request rate and burst; a refused frame gets a ``limit`` error reply with its
  requestId, and a client that goes on sending another whole frame burst after being refused
  is cut off (close 4429, ``CloseCode.TOO_MANY_REQUESTS``, its call peer released at once);
* each request of a declared route (``rtc:*``, ``chat:*``, ..., not the built-in ``ping`` or
  ``meeting:state``) also takes a token of the **request budget**, the rate and burst
  themselves; refused, it gets ``limit`` ("too many requests, slow down").

In a cluster the rate is counted where the socket is (a relayed request is not counted again
on the call's owner); what counts in Redis are the socket slots (`rtc.cluster.limits`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from conference import clock as clocks
from rtc.services.config import limits
from rtc.signaling.ratelimit import TokenBucket

__all__ = ["FRAME_FACTOR", "FrameVerdict", "RateConfig", "SocketRate"]

FRAME_FACTOR = 2
"""A socket may send this many times the request rate and burst in frames of any kind."""


_from_limits: tuple[object, RateConfig] | None = None
"""The limits last read and the config made from them (two takes a frame read it)."""


@dataclass(frozen=True, slots=True)
class RateConfig:
    """The one configuration of a socket's rate limit."""

    requests_per_second: float
    """Sustained route requests (``RTC_REQUESTS_PER_SECOND``)."""
    request_burst: int
    """Route requests at once before the rate applies (``RTC_REQUEST_BURST``)."""
    frame_factor: int = FRAME_FACTOR
    """Frames of any kind: this many times the rate and the burst."""

    @property
    def frames_per_second(self) -> float:
        return self.frame_factor * self.requests_per_second

    @property
    def frame_burst(self) -> int:
        return self.frame_factor * self.request_burst

    @classmethod
    def from_settings(cls) -> RateConfig:
        """Read at each take (cheap: `rtc.services.config.limits` is cached, and so is the
        config made from it), so a changed setting applies to open sockets at their next
        frame."""
        global _from_limits
        limit = limits()
        made = _from_limits
        if made is not None and made[0] is limit:
            return made[1]
        config = cls(requests_per_second=limit.requests_per_second,
                     request_burst=limit.request_burst)
        _from_limits = (limit, config)
        return config


class FrameVerdict(Enum):
    """What to do with a frame."""

    SERVE = "serve"
    REFUSE = "refuse"
    """Reply ``limit`` (with the frame's requestId when it has one)."""
    CUT_OFF = "cut_off"
    """Flooding on after a whole burst of refusals: close the socket (4429)."""


class SocketRate:
    """One socket's frame and request budgets (see the module's docstring)."""

    def __init__(self, config: Callable[[], RateConfig] = RateConfig.from_settings,
                 clock: clocks.Clock | None = None) -> None:
        self._config = config
        self._clock = clock
        """None: the process's clock, read at each take (a test's ``use_clock`` reaches it)."""
        self._frames: TokenBucket | None = None
        self._requests: TokenBucket | None = None
        self.flooded = False
        """Cut off for flooding (then every further frame is cut off too)."""

    def _now(self) -> float:
        return (self._clock or clocks.current()).monotonic()

    def take_frame(self) -> FrameVerdict:
        """Count one frame (before it is even decoded)."""
        if self.flooded:
            return FrameVerdict.CUT_OFF
        config, now = self._config(), self._now()
        burst = config.frame_burst
        if self._frames is None:
            self._frames = TokenBucket(tokens=float(burst), stamp=now)
        if self._frames.take(now, rate=config.frames_per_second, burst=burst):
            return FrameVerdict.SERVE
        if self._frames.refused <= burst:
            return FrameVerdict.REFUSE
        self.flooded = True
        return FrameVerdict.CUT_OFF

    def take_request(self) -> bool:
        """Count one route request (its frame was served); False: refuse it with ``limit``."""
        config, now = self._config(), self._now()
        if self._requests is None:
            self._requests = TokenBucket(tokens=float(config.request_burst), stamp=now)
        return self._requests.take(now, rate=config.requests_per_second,
                                   burst=config.request_burst)
