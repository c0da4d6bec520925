"""Which node should own a new meeting's call: the least loaded one that can take it.

Pure functions over node records (the string hashes of `rtc.cluster.store`), so the choice is
tested with plain data. A node is a candidate when it runs at least one worker, is not draining
and has room for one more call (``rooms < capacity``). Among candidates the load per worker
decides: consumers weigh most (they are the media forwarded), then peers, then rooms; the node
id breaks ties, so every node computes the same order from the same records.

The choice itself is only advice: the claim (`ClusterStore.claim`) is what makes one owner, and
a candidate that died or began draining since its last heartbeat is refused there.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["can_take", "choose", "load_of"]

Record = Mapping[str, str]


def _number(record: Record, key: str) -> float:
    try:
        return float(record.get(key, 0) or 0)
    except ValueError:
        return 0.0


def can_take(record: Record) -> bool:
    """Whether a node may be given a new call."""
    workers = _number(record, "workers")
    return (workers > 0 and record.get("draining", "0") != "1"
            and _number(record, "rooms") < _number(record, "capacity"))


def load_of(record: Record) -> float:
    """The node's load per worker (lower is better)."""
    workers = max(_number(record, "workers"), 1.0)
    return (_number(record, "consumers") + 4 * _number(record, "peers")
            + 8 * _number(record, "rooms")) / workers


def choose(records: Mapping[str, Record], *, exclude: frozenset[str] = frozenset()) -> str | None:
    """The id of the least loaded node that can take a call, or None."""
    candidates = [(load_of(r), node_id) for node_id, r in records.items()
                  if node_id not in exclude and can_take(r)]
    return min(candidates)[1] if candidates else None
