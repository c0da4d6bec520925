"""This process as a node of the cluster: its record, its heartbeat, placement, drain, watch.

A node registers itself in Redis (`rtc.cluster.store`) with its id, a nonce for this start, its
relay channel (`rtc.cluster.relay`), its announced media address and its load (workers, rooms,
peers, consumers). Every ``lease / 4`` seconds the heartbeat:

1. writes the record again (renewing the lease) and renews the ownership of the meetings whose
   call runs here; a meeting found owned by another node (this node stalled past its lease and
   the meeting was placed again) is closed here with ``rtc:reconnect`` (``node_lost``), so one
   call never runs on two nodes for long;
2. reads the other nodes' records (placement and relay use that copy);
3. looks at the sockets served here whose call is owned elsewhere: if their owner's lease ran
   out, each gets ``rtc:reconnect`` (``node_lost``) and rebuilds on a live node;
4. closes the media this node holds for calls cascaded here whose owner left, and drops the
   routers this node's calls have on nodes that left (`rtc.cluster.remote`,
   `rtc.cluster.cascade`);
5. tells `rtc.cluster.presence` which nodes left, so their users' attendance is closed, and
   the listeners of `rtc.cluster.on_nodes_gone` (the recordings such a node was making).

Placement (:meth:`Node.place`) costs a join one Redis round trip at most: one script looks the
meeting's owner up and claims it for the chosen node when it has no live owner. A join on the
node whose call it is costs none: that node wrote the meeting's owner key and its own record
under the lease less than half a lease ago (its claim, its last heartbeat), so no other node
can have claimed the meeting since (:meth:`Node.owns`). A socket's connect starts the
placement (:meth:`Node.place_ahead`), so its ``rtc:join`` finds it made. Redis restarted
empty inside that window is the one exception, and the heartbeat settles it as for the peers
already in the call: the node claims the meeting again, or closes its call with
``node_lost`` if another node was quicker. The heartbeat's pace and these half-lease windows
are measured on the process clock (`conference.clock`), so a test moves them forward instead
of waiting a lease out.

:meth:`Node.drain` (SIGTERM): the record says ``draining`` (no new calls), every meeting owned
here is released and its peers get ``rtc:reconnect`` with ``node_draining``: they join again,
and the placement puts the call on another node; the routers it holds for calls cascaded here
are given back (their owners rebuild those peers elsewhere).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from dataclasses import dataclass
from typing import Any

from conference import clock
from conference.channel_layers import raise_if_cancelled
from meetings.events import group_message
from rtc.cluster import placement, register_service
from rtc.cluster.cascade import watch_links
from rtc.cluster.remote import hand_back, hosted_counts, watch_owners
from rtc.cluster.store import ClusterStore
from rtc.signaling.errors import ErrorCode, SignalingError

__all__ = ["Node", "SocketRoute", "default_node_id"]

logger = logging.getLogger(__name__)


async def cancel_for_good(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel ``tasks`` and wait for them, cancelling again any that swallowed it (see
    ``conference.channel_layers.raise_if_cancelled``: redis-py 8 may swallow a cancellation
    during a command), so a node's stop cannot hang on one of its loops."""
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=1.0)


PLACEMENT_ATTEMPTS = 3


def default_node_id() -> str:
    """``<host>-<pid>-<random>``: unique for every start of every process."""
    host = "".join(c if c.isalnum() or c in "-_." else "-" for c in socket.gethostname())[:32]
    return f"{host or 'node'}-{os.getpid()}-{secrets.token_hex(3)}"


@dataclass(slots=True)
class SocketRoute:
    """Where the call of a socket served here runs."""

    meeting_id: str
    owner: str
    """The owning node's id (this node's own id when the call runs here)."""


class Node:
    """One server process in the cluster (see the module docstring)."""

    def __init__(self, *, node_id: str, store: ClusterStore, layer: Any, service: Any,
                 lease_seconds: float, address: str, url: str = "") -> None:
        self.id = node_id
        self.nonce = secrets.token_hex(4)
        self.store = store
        self.layer = layer
        self.service = service
        self.lease_seconds = lease_seconds
        self.address = address
        self.url = url
        self.channel = ""
        self.draining = False
        self.started_at = time.time()
        self.records: dict[str, dict[str, str]] = {}
        """The live nodes' records as of the last heartbeat (this one's included)."""
        self.routes: dict[str, SocketRoute] = {}
        """channel name of a socket served here → where its call runs."""
        self.heartbeats = 0
        self._alive_until = 0.0
        """Monotonic time until which this node's record surely outlives (see `owns`)."""
        self._owned_until: dict[str, float] = {}
        """meeting id → monotonic time until which its ownership surely stays this node's."""
        self._placing: dict[str, asyncio.Future[str]] = {}
        """Placements out now, by meeting: the joins asking meanwhile share them."""
        self.relay: Any = None
        self.presence: Any = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._stopped = False

    @property
    def incarnation(self) -> str:
        """``<id>~<nonce>``: this start of the node (counters of a previous start are void)."""
        return f"{self.id}~{self.nonce}"

    @property
    def interval(self) -> float:
        """Seconds between heartbeats."""
        return self.lease_seconds / 4

    # -- the record -----------------------------------------------------------------------------

    def record(self) -> dict[str, Any]:
        """What this node says about itself (its load read now)."""
        from rtc.services.config import limits

        counts = self.service.counts()
        workers = len([w for w in self.service.mediasoup.workers if not w.closed])
        return {
            "id": self.id, "nonce": self.nonce, "channel": self.channel,
            "address": self.address, "url": self.url, "pid": os.getpid(),
            "host": socket.gethostname(), "started": int(self.started_at),
            "workers": workers, "capacity": workers * limits().max_rooms_per_worker,
            "rooms": counts["rooms"], "peers": counts["peers"],
            "consumers": counts["consumers"], "draining": int(self.draining),
            "sockets": len(self.routes),
            **hosted_counts(self.service),
        }

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Take a relay channel, register, start the heartbeat and the relay listener."""
        from rtc.cluster.presence import Presence
        from rtc.cluster.relay import Relay

        # The default prefix: channels-redis reads every process-specific channel of this
        # process through one receive loop, which only serves channels of one prefix.
        self.channel = await self.layer.new_channel()
        self.relay = Relay(self)
        self.presence = Presence(self)
        register_service(self, started=True)
        await self.heartbeat()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._beat()), loop.create_task(self.relay.listen()),
                       loop.create_task(self.presence.run())]
        logger.info("node registered [node:%s, address:%s, channel:%s, lease:%ss]", self.id,
                    self.address, self.channel, self.lease_seconds)

    async def stop(self) -> None:
        """Leave the cluster now: the record and the presence set go at once (the others
        need not wait for the lease), the relay and heartbeat stop."""
        if self._stopped:
            return
        self._stopped = True
        register_service(self, started=False)
        if self.presence is not None:
            await self.presence.flush()
        await cancel_for_good(self._tasks)
        if self.relay is not None:
            self.relay.fail_pending()
        with contextlib.suppress(Exception):
            await self.store.remove(self.id)
            if self.presence is not None:
                await self.presence.forget()
        logger.info("node left the cluster [node:%s]", self.id)

    async def _beat(self) -> None:
        while True:
            await clock.current().sleep(self.interval)
            try:
                await self.heartbeat()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("heartbeat failed [node:%s]", self.id)
            raise_if_cancelled()

    async def heartbeat(self) -> None:
        """One beat (see the module docstring)."""
        record = self.record()
        sent = clock.current().monotonic()
        await self.store.publish(self.id, record)
        self._alive_until = sent + self.sure_for
        owned = list(self.service.rooms)
        if not self.draining:
            lost = await self.store.renew(self.id, owned)
            self._owned_until = dict.fromkeys(set(owned).difference(lost), sent + self.sure_for)
            if lost:
                logger.error("meetings placed on another node while this one stalled "
                             "[node:%s, meetings:%s]", self.id, ",".join(lost))
                await self.service.close_rooms(reason="node_lost", meeting_ids=set(lost))
        live, gone = await self.store.nodes()
        self.records = live
        await self._watch_owners()
        watch_owners(self)
        await watch_links(self)
        if gone and self.presence is not None:
            await self.presence.nodes_gone(gone)
        if gone:
            from rtc.cluster import nodes_gone

            await nodes_gone(gone)
        self.heartbeats += 1

    # -- placement ------------------------------------------------------------------------------

    @property
    def sure_for(self) -> float:
        """Seconds after sending a write under the lease during which that write surely
        stands: half the lease (the key lives a whole lease from when Redis ran the write,
        which is after it was sent)."""
        return self.lease_seconds / 2

    def owns(self, meeting_id: str) -> bool:
        """Whether the meeting's ownership surely is this node's now, with no Redis round
        trip: its owner key and this node's record were written under the lease less than
        :attr:`sure_for` seconds ago (the claim, the last heartbeat), so no other node can have
        claimed it since. Nothing but a drain removes an owner key before its lease runs
        out, so this holds from the claim on, before the call's room opens (a placement made
        ahead, :meth:`place_ahead`) and for the rest of the window after it closed. After a
        stall, a drain or a lost renewal this is False and the placement asks Redis; the
        heartbeat renews only the meetings whose room is open here."""
        until = self._owned_until.get(meeting_id)
        return (until is not None and not self.draining
                and clock.current().monotonic() < min(until, self._alive_until))

    async def owner_of(self, meeting_id: str) -> str | None:
        """The live node owning the meeting's call (this one without a round trip when it
        surely owns it), or None."""
        if self.owns(meeting_id):
            return self.id
        return await self.store.owner(meeting_id)

    async def place(self, meeting_id: str) -> str:
        """The node owning the meeting's call: its live owner, else the least loaded node that
        can take it, claimed now (atomically: concurrent first joins agree).

        A call this node surely owns (:meth:`owns`) is placed here without Redis; otherwise
        one script looks the owner up and, when there is none alive, claims the meeting for
        the chosen candidate (one round trip; another only if that candidate was refused).
        The joins of one meeting that ask here while its placement is out share it: on the
        hour a meeting's ten first joins arrive together, before its call exists anywhere,
        and each asked Redis on its own."""
        if self.owns(meeting_id):
            return self.id
        return await asyncio.shield(self._placing_of(meeting_id))

    def place_ahead(self, meeting_id: str) -> None:
        """Start placing the meeting's call without waiting for it: a socket of the meeting
        was just accepted, and its ``rtc:join`` (which the browser sends as the socket
        opens) will ask :meth:`place` once the socket's database trip is done. Made now, the
        Redis round trip runs beside that trip instead of after it (in a burst on the hour
        it took the join p50 59 ms of a 200 ms ``rtc:join``, bench/README.md); a claim for
        this node is then sure for half a lease (:meth:`owns`) and the join asks Redis
        nothing. A placement is a lease, not a resource: nothing runs for it, and a claim
        whose socket is then refused lapses with its lease (no room opens here to renew it)."""
        if not self.owns(meeting_id):
            self._placing_of(meeting_id)

    def _placing_of(self, meeting_id: str) -> asyncio.Future[str]:
        """The meeting's placement out now, started if none is."""
        placing = self._placing.get(meeting_id)
        if placing is None:
            placing = asyncio.ensure_future(self._place(meeting_id))
            self._placing[meeting_id] = placing
            placing.add_done_callback(lambda done: self._placed(meeting_id, done))
        return placing

    def _placed(self, meeting_id: str, placing: asyncio.Future[str]) -> None:
        if self._placing.get(meeting_id) is placing:
            del self._placing[meeting_id]
        if not placing.cancelled():
            placing.exception()  # retrieved here too: every join that asked may have gone

    async def _place(self, meeting_id: str) -> str:
        tried: set[str] = set()
        for _ in range(PLACEMENT_ATTEMPTS):
            records = dict(self.records)
            if not self.draining:
                records[self.id] = {k: str(v) for k, v in self.record().items()}
            else:
                records.pop(self.id, None)
            candidate = placement.choose(records, exclude=frozenset(tried))
            if candidate is None:
                owner = await self.store.owner(meeting_id)
                if owner is not None:
                    return owner
                break
            sent = clock.current().monotonic()
            found = await self.store.claim_or_owner(meeting_id, candidate)
            if found is not None:
                owner, claimed = found
                if claimed:
                    logger.info("meeting placed [meeting:%s, node:%s, by:%s]", meeting_id, owner,
                                self.id)
                    if owner == self.id:
                        self._owned_until[meeting_id] = sent + self.sure_for
                return owner
            tried.add(candidate)
        raise SignalingError(ErrorCode.LIMIT, "no media server can take this call now")

    def route(self, channel_name: str, meeting_id: str, owner: str) -> None:
        """Remember where the call of a socket served here runs."""
        self.routes[channel_name] = SocketRoute(meeting_id=str(meeting_id), owner=owner)

    def forget(self, channel_name: str) -> SocketRoute | None:
        """Forget a socket's route (it closed); the route it had."""
        return self.routes.pop(channel_name, None)

    def channel_of(self, node_id: str) -> str | None:
        """The relay channel of a live node, as of the last heartbeat."""
        record = self.records.get(node_id)
        return record.get("channel") if record else None

    async def _watch_owners(self) -> None:
        """Sockets whose call's owner left the cluster: tell them to rebuild (``node_lost``)."""
        orphans = [(channel, route) for channel, route in self.routes.items()
                   if route.owner != self.id and route.owner not in self.records]
        failed = self.relay.fail_calls_to_gone({*self.records, self.id})
        if failed:
            logger.warning("relayed requests to a node that left failed now [count:%s]", failed)
        for channel, route in orphans:
            if self.routes.get(channel) is not route:
                continue
            del self.routes[channel]
            logger.warning("owner node left; socket told to rebuild [meeting:%s, owner:%s, "
                           "channel:%s]", route.meeting_id, route.owner, channel)
            await self.tell(channel, "rtc:reconnect", {"reason": "node_lost"})

    async def tell(self, channel: str, event: str, data: dict[str, Any]) -> None:
        """Send one event to one socket (a failure is logged)."""
        try:
            await self.layer.send(channel, group_message(event, data))
        except Exception:
            logger.exception("could not tell channel=%s %s", channel, event)

    # -- drain ----------------------------------------------------------------------------------

    def others_take_calls(self) -> bool:
        """Whether another live node, not draining, was there at the last heartbeat: a drain
        can hand this node's calls over (alone, a stop is a plain shutdown)."""
        return any(node_id != self.id and str(record.get("draining", "0")) != "1"
                   for node_id, record in self.records.items())

    async def drain(self, *, wait: float = 0.0) -> int:
        """Take no new calls and hand this node's calls to others: every peer here gets
        ``rtc:reconnect`` (``node_draining``) and joins again elsewhere; the number told.
        Then wait up to ``wait`` seconds for the sockets served here whose call moved to
        finish their rejoin (nothing is dropped while the process still serves them)."""
        if self.draining:
            return 0
        self.draining = True
        self._owned_until.clear()
        try:
            await self.store.set_fields(self.id, {"draining": 1})
            for meeting_id in list(self.service.rooms):
                await self.store.release(meeting_id, self.id)
        except Exception:
            logger.exception("drain: Redis did not take the draining state [node:%s]", self.id)
        hand_back(self)
        told = await self.service.close_rooms(reason="node_draining")
        logger.info("node draining [node:%s, peers told:%s]", self.id, told)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and any(
                route.owner == self.id for route in self.routes.values()):
            await asyncio.sleep(0.1)
        return told
