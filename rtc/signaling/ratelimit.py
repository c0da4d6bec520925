"""A token bucket per connection: ``requests_per_second`` sustained, ``request_burst`` at once.

A client that floods the socket gets ``limit`` errors instead of work done; the buckets of
closed connections are dropped by the disconnect hook. Each bucket also counts the refusals in a
row (:meth:`RateLimiter.refusals`), so a client that keeps flooding after being refused can be
cut off (the meeting consumer closes it, ``CloseCode.TOO_MANY_REQUESTS``).
"""

from __future__ import annotations

from dataclasses import dataclass

from conference import clock as clocks

__all__ = ["RateLimiter"]


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float
    refused: int = 0
    """Refusals since the last allowed take."""


class RateLimiter:
    """Buckets by key (the connection's channel name)."""

    def __init__(self, clock: clocks.Clock | None = None) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self._clock = clock
        """Refills are measured on this clock; None: the process's (`conference.clock`)."""

    def allow(self, key: str, *, rate: float, burst: int) -> bool:
        """Take one token for ``key``; False when its bucket is empty."""
        now = (self._clock or clocks.current()).monotonic()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(tokens=float(burst), stamp=now)
        # Never a negative refill: a test may swap the process clock under a live bucket.
        elapsed = max(0.0, now - bucket.stamp)
        bucket.tokens = min(float(burst), bucket.tokens + elapsed * rate)
        bucket.stamp = now
        if bucket.tokens < 1.0:
            bucket.refused += 1
            return False
        bucket.tokens -= 1.0
        bucket.refused = 0
        return True

    def refusals(self, key: str) -> int:
        """Refusals in a row for ``key`` (0 once a take is allowed again)."""
        bucket = self._buckets.get(key)
        return bucket.refused if bucket is not None else 0

    def forget(self, key: str) -> None:
        """Drop the bucket of a closed connection."""
        self._buckets.pop(key, None)

    def __len__(self) -> int:
        return len(self._buckets)
