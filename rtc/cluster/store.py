"""The cluster's shared state in Redis: node records under leases, meeting owners, socket counts.

Everything a node says about itself lives in one hash, ``<prefix>node:<id>``, that expires
``lease`` milliseconds after the node's last heartbeat: a node that dies (SIGKILL, power loss)
leaves the cluster when its hash expires, with no vote and no second system. A meeting's owner
is a plain key, ``<prefix>owner:<meeting id>`` = node id, under the same lease, renewed by the
owner's heartbeat while its call lives. Claims are one Lua script each, so two first joins on
two nodes at the same instant still give one owner: Redis runs scripts one at a time.

No Django here: the node (`rtc.cluster.node`) passes the client, the prefix and the lease.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["ClusterStore"]

logger = logging.getLogger(__name__)

# KEYS[1] owner key; ARGV[1] node key prefix. The current owner if it is alive, else false:
# the lookup and the owner's liveness in one round trip (a GET then an EXISTS before).
_OWNER = """
local current = redis.call('GET', KEYS[1])
if current and redis.call('EXISTS', ARGV[1] .. current) == 1 then
  return current
end
return false
"""

# KEYS[1] owner key, KEYS[2] the candidate's node key; ARGV[1] candidate id, ARGV[2] lease ms,
# ARGV[3] node key prefix. {current owner, 0} if it is alive, else {candidate, 1} if the
# candidate is alive and not draining (then it owns the meeting from now on, for the lease),
# else false. A join's whole placement is this one call: the owner's lookup comes first, so a
# meeting with a live owner is never claimed again.
_CLAIM = """
local current = redis.call('GET', KEYS[1])
if current and redis.call('EXISTS', ARGV[3] .. current) == 1 then
  return {current, 0}
end
if redis.call('EXISTS', KEYS[2]) == 0 or redis.call('HGET', KEYS[2], 'draining') == '1' then
  return false
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('HINCRBY', KEYS[2], 'rooms', 1)
return {ARGV[1], 1}
"""

# KEYS: owner keys; ARGV[1] node id, ARGV[2] lease ms. Renews those still this node's, claims
# again those nobody owns (Redis restarted empty, or the lease lapsed with no taker: the call is
# still here, alive), and returns the (1-based) positions of those another node owns now.
_RENEW = """
local lost = {}
for i, key in ipairs(KEYS) do
  local owner = redis.call('GET', key)
  if owner == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
  elseif not owner then
    redis.call('SET', key, ARGV[1], 'PX', ARGV[2])
  else
    table.insert(lost, i)
  end
end
return lost
"""

# KEYS[1] owner key; ARGV[1] node id. Deletes it only if it is still this node's.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""

# KEYS[1] the meeting's cascade hash (node id -> owner id), KEYS[2] the candidate's node key;
# ARGV[1] candidate id, ARGV[2] owner id, ARGV[3] lease ms. Adds the candidate to the meeting's
# cascade if it is alive, not draining and not full (1), else 0.
_CLAIM_CASCADE = """
if redis.call('EXISTS', KEYS[2]) == 0 or redis.call('HGET', KEYS[2], 'draining') == '1' then
  return 0
end
local rooms = tonumber(redis.call('HGET', KEYS[2], 'rooms') or '0') or 0
local capacity = tonumber(redis.call('HGET', KEYS[2], 'capacity') or '0') or 0
if rooms >= capacity then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""

# Several sockets counted in one call, each decided in turn as if alone.
# KEYS: every socket's counter hashes, one socket after the other (field = node incarnation
# "<id>~<nonce>", value = open sockets); ARGV[1] this incarnation, ARGV[2] node key prefix,
# then per socket: how many counters it has, then one limit per counter (0: none).
# Fields of nodes that are gone (or restarted: another nonce) are deleted and not counted.
# Returns one result per socket: 0 when every count was under its limit (each is then
# incremented), else the 1-based position of its first full counter (nothing incremented).
_ACQUIRE = """
local results = {}
local k = 0
local a = 3
while a <= #ARGV do
  local n = tonumber(ARGV[a])
  local full = 0
  for i = 1, n do
    local key = KEYS[k + i]
    local limit = tonumber(ARGV[a + i])
    local total = 0
    local fields = redis.call('HGETALL', key)
    for j = 1, #fields, 2 do
      local field = fields[j]
      local sep = string.find(field, '~', 1, true)
      local node = string.sub(field, 1, sep - 1)
      local nonce = string.sub(field, sep + 1)
      if redis.call('HGET', ARGV[2] .. node, 'nonce') == nonce then
        total = total + tonumber(fields[j + 1])
      else
        redis.call('HDEL', key, field)
      end
    end
    if limit > 0 and total >= limit then
      full = i
      break
    end
  end
  if full == 0 then
    for i = 1, n do
      redis.call('HINCRBY', KEYS[k + i], ARGV[1], 1)
      redis.call('EXPIRE', KEYS[k + i], 86400)
    end
  end
  results[#results + 1] = full
  k = k + n
  a = a + n + 1
end
return results
"""

# KEYS: counter hashes; ARGV[1] this incarnation. Gives one socket back on each.
_RELEASE_SOCKET = """
for i, key in ipairs(KEYS) do
  if redis.call('HINCRBY', key, ARGV[1], -1) <= 0 then
    redis.call('HDEL', key, ARGV[1])
  end
end
return 0
"""


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class ClusterStore:
    """Typed operations on the cluster's keys; ``redis`` is a ``redis.asyncio.Redis``."""

    def __init__(self, redis: Any, *, prefix: str, lease_ms: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.lease_ms = lease_ms
        self._owner = redis.register_script(_OWNER)
        self._claim = redis.register_script(_CLAIM)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self._acquire = redis.register_script(_ACQUIRE)
        self._give_back = redis.register_script(_RELEASE_SOCKET)
        self._claim_cascade = redis.register_script(_CLAIM_CASCADE)

    # -- keys -----------------------------------------------------------------------------------

    def node_key(self, node_id: str) -> str:
        """The hash of a node's record."""
        return f"{self.prefix}node:{node_id}"

    def owner_key(self, meeting_id: str) -> str:
        """The key naming the node that owns a meeting's call."""
        return f"{self.prefix}owner:{meeting_id}"

    @property
    def index_key(self) -> str:
        """The set of node ids that registered (a dead one stays until it is noticed)."""
        return f"{self.prefix}nodes"

    def cascade_key(self, meeting_id: str) -> str:
        """The hash of the other nodes a meeting's call is cascaded to (node id → owner id)."""
        return f"{self.prefix}cascade:{meeting_id}"

    def counter_key(self, kind: str, value: str) -> str:
        """A socket counter hash (``kind`` ``user`` or ``address``)."""
        return f"{self.prefix}sockets:{kind}:{value}"

    # -- nodes ----------------------------------------------------------------------------------

    async def publish(self, node_id: str, record: Mapping[str, Any]) -> None:
        """Write (or renew) a node's record under the lease."""
        key = self.node_key(node_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={k: str(v) for k, v in record.items()})
            pipe.pexpire(key, self.lease_ms)
            pipe.sadd(self.index_key, node_id)
            await pipe.execute()

    async def set_fields(self, node_id: str, fields: Mapping[str, Any]) -> None:
        """Change some fields of a live node's record (e.g. ``draining``)."""
        key = self.node_key(node_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={k: str(v) for k, v in fields.items()})
            pipe.pexpire(key, self.lease_ms)
            await pipe.execute()

    async def remove(self, node_id: str) -> None:
        """Take a node out of the cluster now (a clean stop)."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self.node_key(node_id))
            pipe.srem(self.index_key, node_id)
            await pipe.execute()

    async def nodes(self) -> tuple[dict[str, dict[str, str]], list[str]]:
        """The live nodes' records by id, and the ids whose lease ran out (dropped from the
        index here, so each is reported once, to one caller)."""
        ids = sorted(_text(i) for i in await self.redis.smembers(self.index_key))
        if not ids:
            return {}, []
        async with self.redis.pipeline(transaction=False) as pipe:
            for node_id in ids:
                pipe.hgetall(self.node_key(node_id))
            records = await pipe.execute()
        live: dict[str, dict[str, str]] = {}
        dead: list[str] = []
        for node_id, record in zip(ids, records, strict=True):
            if record:
                live[node_id] = {_text(k): _text(v) for k, v in record.items()}
            else:
                dead.append(node_id)
        gone = []
        for node_id in dead:
            if await self.redis.srem(self.index_key, node_id):
                gone.append(node_id)
        return live, gone

    async def alive(self, node_id: str) -> bool:
        """Whether a node's lease still runs."""
        return bool(await self.redis.exists(self.node_key(node_id)))

    # -- owners ---------------------------------------------------------------------------------

    async def owner(self, meeting_id: str) -> str | None:
        """The live node owning a meeting's call, or None (one round trip)."""
        value = await self._owner(keys=[self.owner_key(meeting_id)],
                                  args=[f"{self.prefix}node:"])
        return _text(value) if value else None

    async def claim(self, meeting_id: str, candidate: str) -> str | None:
        """The meeting's owner: the live current one, else ``candidate`` (now recorded); None
        when there is none and the candidate is gone or draining."""
        found = await self.claim_or_owner(meeting_id, candidate)
        return found[0] if found else None

    async def claim_or_owner(self, meeting_id: str, candidate: str) -> tuple[str, bool] | None:
        """``(owner, claimed)``: the live current owner (``claimed`` False), else ``candidate``,
        recorded now under a fresh lease (``claimed`` True); None when there is no live owner
        and the candidate is gone or draining. One round trip, atomic (`_CLAIM`)."""
        result = await self._claim(
            keys=[self.owner_key(meeting_id), self.node_key(candidate)],
            args=[candidate, self.lease_ms, f"{self.prefix}node:"])
        if not result:
            return None
        owner, claimed = result
        return _text(owner), bool(int(claimed))

    async def renew(self, node_id: str, meeting_ids: Iterable[str]) -> list[str]:
        """Renew this node's ownership of ``meeting_ids``; the meetings it no longer owns."""
        meetings = list(meeting_ids)
        if not meetings:
            return []
        lost = await self._renew(keys=[self.owner_key(m) for m in meetings],
                                 args=[node_id, self.lease_ms])
        return [meetings[int(i) - 1] for i in lost]

    async def release(self, meeting_id: str, node_id: str) -> bool:
        """Give up the ownership of a meeting (only if this node still holds it)."""
        return bool(await self._release(keys=[self.owner_key(meeting_id)], args=[node_id]))

    # -- cascades (a call over several nodes, `rtc.cluster.cascade`) -------------------------

    async def claim_cascade(self, meeting_id: str, candidate: str, owner: str) -> bool:
        """Add ``candidate`` to the nodes the meeting's call spreads to, if it is alive, not
        draining and not full (atomically, as a call's claim)."""
        result = await self._claim_cascade(
            keys=[self.cascade_key(meeting_id), self.node_key(candidate)],
            args=[candidate, owner, self.lease_ms])
        return bool(result)

    async def cascades(self, meeting_id: str) -> dict[str, str]:
        """node id → owner id, for the nodes the meeting's call spreads to."""
        fields = await self.redis.hgetall(self.cascade_key(meeting_id))
        return {_text(k): _text(v) for k, v in fields.items()}

    async def release_cascade(self, meeting_id: str, node_id: str) -> None:
        """The call no longer uses ``node_id``."""
        await self.redis.hdel(self.cascade_key(meeting_id), node_id)

    async def renew_cascades(self, meeting_ids: Iterable[str]) -> None:
        """Keep the cascade records of calls still cascaded (the owner's heartbeat)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for meeting_id in meeting_ids:
                pipe.pexpire(self.cascade_key(meeting_id), self.lease_ms)
            await pipe.execute()

    # -- socket counts --------------------------------------------------------------------------

    async def acquire_sockets_many(self, incarnation: str,
                                   sockets: list[list[tuple[str, int]]]) -> list[int]:
        """Count each socket once on each of its counters ``(key, limit)``, in one round trip,
        each decided in turn as if alone: 0 when none of its counters was full (then each is
        counted), else the 1-based position of its first full counter (nothing counted; the
        next sockets still go)."""
        keys: list[str] = []
        args: list[Any] = [incarnation, f"{self.prefix}node:"]
        for counters in sockets:
            keys += [key for key, _ in counters]
            args += [len(counters), *[limit for _, limit in counters]]
        if not keys:
            return [0] * len(sockets)
        return [int(result) for result in await self._acquire(keys=keys, args=args)]

    async def release_sockets(self, incarnation: str, keys: list[str]) -> None:
        """Give one socket back on each counter."""
        if keys:
            await self._give_back(keys=keys, args=[incarnation])

    async def socket_count(self, key: str) -> int:
        """Open sockets on a counter, all live incarnations together (tests, diagnostics)."""
        fields = await self.redis.hgetall(key)
        live = 0
        for field, value in fields.items():
            node, _, nonce = _text(field).partition("~")
            if _text(await self.redis.hget(self.node_key(node), "nonce") or b"") == nonce:
                live += int(value)
        return live
