"""Token buckets: ``rate`` tokens a second sustained, ``burst`` at once.

:class:`TokenBucket` is one bucket; :class:`RateLimiter` keeps one per key (the collab
features' quotas per socket: chat, reactions, whiteboard). A meeting socket's own rate limit
(frames and requests) is its session's `rtc.websocket.rate.SocketRate`, built on the same
bucket. Each bucket also counts its refusals in a row (:attr:`TokenBucket.refused`), so a
client that keeps flooding after being refused can be cut off.
"""

from __future__ import annotations

from dataclasses import dataclass

from conference import clock as clocks

__all__ = ["RateLimiter", "TokenBucket"]


@dataclass(slots=True)
class TokenBucket:
    """One bucket; the rate and burst are given at each take, so a changed setting applies
    at once (the tokens are clamped to a smaller burst)."""

    tokens: float
    stamp: float
    """The clock's reading at the last take."""
    refused: int = 0
    """Refusals since the last allowed take."""

    def take(self, now: float, *, rate: float, burst: int) -> bool:
        """Refill for the time since the last take, then take one token; False when empty."""
        # Never a negative refill: a test may swap the process clock under a live bucket.
        elapsed = max(0.0, now - self.stamp)
        self.tokens = min(float(burst), self.tokens + elapsed * rate)
        self.stamp = now
        if self.tokens < 1.0:
            self.refused += 1
            return False
        self.tokens -= 1.0
        self.refused = 0
        return True


class RateLimiter:
    """Buckets by key (the connection's channel name)."""

    def __init__(self, clock: clocks.Clock | None = None) -> None:
        self._buckets: dict[str, TokenBucket] = {}
        self._clock = clock
        """Refills are measured on this clock; None: the process's (`conference.clock`)."""

    def allow(self, key: str, *, rate: float, burst: int) -> bool:
        """Take one token for ``key``; False when its bucket is empty."""
        now = (self._clock or clocks.current()).monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(tokens=float(burst), stamp=now)
        return bucket.take(now, rate=rate, burst=burst)

    def refusals(self, key: str) -> int:
        """Refusals in a row for ``key`` (0 once a take is allowed again)."""
        bucket = self._buckets.get(key)
        return bucket.refused if bucket is not None else 0

    def forget(self, key: str) -> None:
        """Drop the bucket of a closed connection."""
        self._buckets.pop(key, None)

    def __len__(self) -> int:
        return len(self._buckets)
