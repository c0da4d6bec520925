"""Attendance across nodes: who is present where, so leaves are written only when true.

Each process keeps its own attendance table (`rtc.policy.attendance`): a user is present while a
socket or a call peer in its reconnect grace holds them, and the last holder to go writes the
leave. With several nodes a user can be held on two of them at once (a socket on one, its peer
waiting for a resume on the owner; or a second device), so each node mirrors its table in a
Redis set ``<prefix>presence:<node id>`` of ``<meeting>|<user>`` members, and:

* a leave is written only if no other live node holds the user (:meth:`Presence.elsewhere`);
* when a node's lease runs out (SIGKILL), the node that notices first (`ClusterStore.nodes`
  reports each dead node once) takes its set and writes the leave of every user no live node
  holds, so nobody whose server died stays present; users whose socket reconnected elsewhere
  meanwhile are held there and stay present.

Changes are written in order by one task, so a hold and its release never swap; those queued
together (a burst of joins in one turn of the loop) go in one round trip.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from conference.channel_layers import raise_if_cancelled

__all__ = ["Presence"]

logger = logging.getLogger(__name__)

PRESENCE_TTL_SECONDS = 7 * 24 * 3600
WRITE_BATCH = 1000
"""Changes written in one script call at most (a script holds Redis while it runs)."""

# KEYS[1] the node's presence set; ARGV[1] its expiry (s), then (present, member) pairs in
# the order they happened: "1" adds the member, "0" removes it.
_WRITE = """
local added = false
for i = 2, #ARGV, 2 do
  if ARGV[i] == '1' then
    redis.call('SADD', KEYS[1], ARGV[i + 1])
    added = true
  else
    redis.call('SREM', KEYS[1], ARGV[i + 1])
  end
end
if added then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return 0
"""


class Presence:
    """The presence mirror of one node."""

    def __init__(self, node: Any) -> None:
        self.node = node
        self.queue: asyncio.Queue[tuple[str, bool]] = asyncio.Queue()
        from rtc.policy.attendance import attendance

        self._attendance = attendance
        self._write = node.store.redis.register_script(_WRITE)
        attendance.listener = self._changed
        for meeting_id, user_id in attendance.present_keys():
            self._changed(meeting_id, user_id, True)

    def key(self, node_id: str) -> str:
        """The presence set of a node."""
        return f"{self.node.store.prefix}presence:{node_id}"

    def _changed(self, meeting_id: Any, user_id: Any, present: bool) -> None:
        self.queue.put_nowait((f"{meeting_id}|{user_id}", present))

    async def run(self) -> None:
        """Write the changes in order, for ever: every change queued when the task wakes up
        goes in one round trip (:meth:`write`), so a burst of joins costs a few writes, not
        two commands each."""
        try:
            while True:
                changes = [await self.queue.get()]
                while not self.queue.empty() and len(changes) < WRITE_BATCH:
                    changes.append(self.queue.get_nowait())
                try:
                    await self.write(changes)
                except Exception:
                    logger.exception("presence not written [node:%s, changes:%s]", self.node.id,
                                     len(changes))
                finally:
                    for _ in changes:
                        self.queue.task_done()
                raise_if_cancelled()
        finally:
            if self._attendance.listener == self._changed:
                self._attendance.listener = None

    async def write(self, changes: list[tuple[str, bool]]) -> None:
        """Apply ``(member, present)`` changes in their order, in one script call
        (`_WRITE`): a hold adds the member, a release removes it, and the set's expiry is
        pushed back once if anything was added."""
        args: list[str] = []
        for member, present in changes:
            args += ("1" if present else "0", member)
        await self._write(keys=[self.key(self.node.id)], args=[PRESENCE_TTL_SECONDS, *args])

    async def flush(self, timeout: float = 2.0) -> None:
        """Wait (briefly) until the queued changes are written."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self.queue.join()

    async def forget(self) -> None:
        """A node leaving cleanly holds nobody any more: its set goes with it (else what the
        last flush did not remove would linger until the set's expiry)."""
        await self.node.store.redis.delete(self.key(self.node.id))

    async def elsewhere(self, meeting_id: Any, user_id: Any) -> bool:
        """Whether another live node holds the user present in the meeting."""
        return (await self.held_elsewhere([(meeting_id, user_id)]))[0]

    async def held_elsewhere(self, pairs: list[tuple[Any, Any]]) -> list[bool]:
        """For each (meeting id, user id): whether another live node holds it; one round trip
        for all of them."""
        others = [n for n in self.node.records if n != self.node.id]
        if not others or not pairs:
            return [False] * len(pairs)
        async with self.node.store.redis.pipeline(transaction=False) as pipe:
            for meeting_id, user_id in pairs:
                member = f"{meeting_id}|{user_id}"
                for node_id in others:
                    pipe.sismember(self.key(node_id), member)
            found = await pipe.execute()
        width = len(others)
        return [any(found[i * width:(i + 1) * width]) for i in range(len(pairs))]

    async def nodes_gone(self, node_ids: list[str]) -> None:
        """Close the attendance of users held only by nodes that left without a word: checked
        against the other live nodes a thousand at a time, their leaves written together (in
        the batches of `rtc.policy.attendance`)."""
        from rtc.policy.attendance import write_left

        redis = self.node.store.redis
        for node_id in node_ids:
            key = self.key(node_id)
            members = [m.decode() if isinstance(m, bytes) else str(m)
                       for m in await redis.smembers(key)]
            await redis.delete(key)
            candidates = []
            for member in members:
                meeting_id, _, user_id = member.partition("|")
                if not self._attendance.present(meeting_id, user_id):
                    candidates.append((meeting_id, user_id))
            closed = 0
            for start in range(0, len(candidates), WRITE_BATCH):
                chunk = candidates[start:start + WRITE_BATCH]
                held = await self.held_elsewhere(chunk)
                gone = [pair for pair, elsewhere in zip(chunk, held, strict=True)
                        if not elsewhere]
                await asyncio.gather(*(write_left(m, u) for m, u in gone))
                closed += len(gone)
            logger.warning("node left without a word; attendance closed [node:%s, users:%s, "
                           "by:%s]", node_id, closed, self.node.id)
