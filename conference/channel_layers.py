"""The project's channel layers: the embedded in-memory one, and channels-redis made to hold a
burst and to deliver in process what never needed to leave it.

In memory: Channels' ``InMemoryChannelLayer`` sweeps every channel and every group for
expired messages on each ``receive`` and ``group_send``: the cost of one message grows with the
number of open connections, so the whole server's grows with their square (measured: 8 µs a
message at 10 connections, 88 µs at 500, 156 µs at 1,000). Expiry is measured in seconds
(messages: 60 s, group membership: a day), so sweeping at most once a second keeps the same
behaviour at a constant cost. A group message is queued for its members at once, a shallow
copy each (Channels' starts a task and takes a deep copy per member).

Both: a channel holds at most ``capacity`` messages (``CHANNEL_CAPACITY``); beyond that a
message is dropped, which Channels does silently. Here a channel of this process that lost
messages that way then gets one ``{"type": "channel.missed", "count": n}`` after the messages
still queued (`MISSED`), so its consumer can tell its client to fetch the state again instead
of showing a partial one for ever.

Redis: channels-redis builds redis-py's default ``ConnectionPool``, which *refuses* a command
when its 100 connections are in use (``MaxConnectionsError: Too many connections``): 200
sockets opening at once made ``group_add`` raise in the consumer's ``connect`` and the server
closed them with 1011. :class:`RedisChannelLayer` gives every Redis host a
``BlockingConnectionPool``: a command waits (up to ``pool_timeout`` seconds) for a connection
instead, and only then fails with a ``ConnectionError`` that the consumer turns into a refusal
the client is told about. It also delivers group messages and sends to the channels of *this*
process directly into their receive buffers (no Redis round trip, no serialisation), and gives
Redis only the members of other processes; group membership itself stays in Redis, so a
second process subscribed to the same group still gets every message. The group adds of
sockets that connect together go to Redis together (one script call for those that asked
while the previous call was out, `conference.batching.Batches`), and so do the group discards
of sockets that close together.

Both: a group message that names an ``exclude`` channel (the sender's socket,
`meetings.events.group_message`) is not queued for that channel of this process, whose
consumer would only drop it (a tenth of a meeting of ten's event deliveries).

Both layers let a consumer's dispatch loop ``attach`` its channel: its messages then go
straight into an `conference.channel_inbox.Inbox` that the loop reads without a receive task
per message (`conference.channels_dispatch`), under the same capacity rules.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
import weakref
from collections.abc import Callable
from copy import deepcopy
from typing import Any

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer as ChannelsInMemoryChannelLayer
from channels_redis.core import RedisChannelLayer as ChannelsRedisChannelLayer
from redis import asyncio as aioredis
from redis.exceptions import NoScriptError, RedisError

from conference.batching import Batches
from conference.channel_inbox import Inbox

__all__ = ["MISSED", "InMemoryChannelLayer", "RedisChannelLayer", "raise_if_cancelled"]

logger = logging.getLogger(__name__)

GROUP_ADD_BATCH = 200
"""The most group adds (or group discards) sent in one Redis call."""

MISSED = "channel.missed"
"""The type of the notice a channel gets after messages for it were dropped."""


class _Missed:
    """Messages dropped per channel since its last notice (one notice per overflow)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    LIMIT = 10_000
    """Channels remembered at most (one that closed before its notice is never asked)."""

    def dropped(self, channel: str) -> None:
        if len(self.counts) >= self.LIMIT:
            self.counts.clear()
        if channel not in self.counts:
            logger.warning("channel %s is full: dropping its messages until it catches up",
                           channel)
        self.counts[channel] = self.counts.get(channel, 0) + 1

    def notice(self, channel: str) -> dict[str, Any] | None:
        """The notice to queue for ``channel`` now (None when it lost nothing)."""
        count = self.counts.pop(channel, 0)
        if not count:
            return None
        logger.warning("channel %s lost %s messages; told to fetch the state again", channel,
                       count)
        return {"type": MISSED, "count": count}


class InMemoryChannelLayer(ChannelsInMemoryChannelLayer):
    """``InMemoryChannelLayer`` whose expiry sweep runs at most every ``sweep_interval`` s."""

    sweep_interval = 1.0

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self._next_sweep = 0.0
        self._missed = _Missed()
        self._attached: dict[str, Inbox] = {}

    def attach(self, channel: str, wake: Callable[[], None]) -> Inbox:
        """Deliver ``channel``'s messages into an inbox its reader pops (what was already
        queued for it first); ``wake`` is called when a message arrives."""
        inbox = Inbox(channel, capacity=self.get_capacity(channel), drop_oldest=False,
                      missed=self._missed, wake=wake)
        queue = self.channels.pop(channel, None)
        while queue is not None and not queue.empty():
            inbox.messages.append(queue.get_nowait()[1])
        self._attached[channel] = inbox
        return inbox

    def detach(self, channel: str, inbox: Inbox) -> None:
        """Stop delivering into ``inbox`` (its reader is gone; what it held is dropped)."""
        if self._attached.get(channel) is inbox:
            del self._attached[channel]

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        """Channels' send; a full channel (whose message ``group_send`` then drops) is
        counted for its ``channel.missed`` notice."""
        inbox = self._attached.get(channel)
        if inbox is not None:
            assert isinstance(message, dict), "message is not a dict"
            self.require_valid_channel_name(channel)
            if not inbox.put(deepcopy(message)):
                raise ChannelFull(channel)
            return
        try:
            await super().send(channel, message)
        except ChannelFull:
            self._missed.dropped(channel)
            raise

    async def receive(self, channel: str) -> dict[str, Any]:
        """Channels' receive; once a channel that lost messages has room again, its notice is
        queued behind what it still holds."""
        message = await super().receive(channel)
        notice = self._missed.notice(channel) if self._missed.counts else None
        if notice is not None:
            queue = self.channels.get(channel)
            if queue is None:
                queue = self.channels[channel] = asyncio.Queue(
                    maxsize=self.get_capacity(channel))
            queue.put_nowait((time.time() + self.expiry, notice))
        return message

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now < self._next_sweep:
            return
        self._next_sweep = now + self.sweep_interval
        super()._clean_expired()

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        """Put a copy of the message in each member's queue, now.

        Channels' version starts a task per member, each taking a deep copy: in a meeting of
        ten every event cost ten tasks and ten deep copies (a tenth of the event loop's time in
        a burst of 200 joins). Each member gets its own shallow copy instead, as the Redis
        layer's in-process delivery gives it (consumers read messages, never change them); a
        member whose queue is full misses the message, as before, and is counted for its
        ``channel.missed`` notice.
        """
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_group_name(group)
        self._clean_expired()
        members = self.groups.get(group)
        if not members:
            return
        expires = time.time() + self.expiry
        excluded = message.get("exclude")
        for channel in tuple(members):
            if channel == excluded:
                continue
            inbox = self._attached.get(channel)
            if inbox is not None:
                inbox.put(dict(message))
                continue
            queue = self.channels.get(channel)
            if queue is None:
                queue = self.channels[channel] = asyncio.Queue(maxsize=self.get_capacity(channel))
            try:
                queue.put_nowait((expires, dict(message)))
            except asyncio.QueueFull:
                self._missed.dropped(channel)


class RedisChannelLayer(ChannelsRedisChannelLayer):
    """channels-redis with waiting connection pools and in-process delivery.

    Extra options (``CONFIG``): ``max_connections`` (per host and event loop, default 50) and
    ``pool_timeout`` (seconds a command waits for a free connection, default 10).
    """

    receive_retry_max = 5.0
    """Longest pause (seconds) between two attempts of a receive whose Redis failed."""

    def __init__(self, *args: Any, max_connections: int = 50, pool_timeout: float = 10.0,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_connections = max_connections
        self.pool_timeout = pool_timeout
        self._local_groups: dict[str, set[str]] = {}
        self._local_channels: dict[str, tuple[int, asyncio.AbstractEventLoop]] = {}
        """Local channels in at least one group: how many groups, and the loop receiving."""
        self._inboxes: dict[str, asyncio.Queue[dict[str, Any]]] = {}
        self._attached: dict[str, Inbox] = {}
        self._receivers = 0
        self._pump: asyncio.Task[None] | None = None
        self._missed = _Missed()
        self._group_adds: Batches[tuple[str, str], None] = Batches(
            self._add_together, max_size=GROUP_ADD_BATCH, concurrency=2)
        self._group_discards: Batches[tuple[str, str], None] = Batches(
            self._discard_together, max_size=GROUP_ADD_BATCH, concurrency=2)
        self._remote_sends: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop,
                                                      _RemoteSends] = weakref.WeakKeyDictionary()

    # -- pools ------------------------------------------------------------------------------

    def create_pool(self, index: int) -> aioredis.ConnectionPool:
        """A pool that waits for a free connection instead of refusing the command."""
        host = dict(self.hosts[index])
        # redis-py's default socket timeout (5 s) equals channels-redis's blocking pop
        # (``brpop_timeout``, 5 s): an idle receive then failed every five seconds.
        host.setdefault("socket_timeout", self.brpop_timeout + 5)
        options = {"max_connections": self.max_connections, "timeout": self.pool_timeout}
        if "address" in host:
            address = host.pop("address")
            return aioredis.BlockingConnectionPool.from_url(address, **options, **host)
        if "master_name" in host:  # Sentinel: channels-redis's own pool
            return super().create_pool(index)
        return aioredis.BlockingConnectionPool(**options, **host)

    def clients(self) -> list[aioredis.Redis]:
        """The Redis client of each host for the running event loop (made if needed)."""
        return [self.connection(index) for index in range(self.ring_size)]

    # -- local membership -------------------------------------------------------------------

    def _is_ours(self, channel: str) -> bool:
        """Whether ``channel`` is a process-local channel of this layer (``new_channel``)."""
        return "!" in channel and self.non_local_name(channel).endswith(self.client_prefix + "!")

    async def group_add(self, group: str, channel: str) -> None:
        """Add to the group in Redis (other processes send to it there), and remember locally
        a member of this process. Redis first: if it fails, nothing is remembered.

        channels-redis sends a ZADD, waits, then an EXPIRE: here one script does both (one
        round trip a socket instead of two)."""
        assert self.require_valid_group_name(group), "Group name not valid"
        assert self.require_valid_channel_name(channel), "Channel name not valid"
        await self._group_adds.submit((group, channel))
        if self._is_ours(channel):
            members = self._local_groups.setdefault(group, set())
            if channel not in members:
                members.add(channel)
                count = self._local_channels.get(channel, (0, None))[0]
                self._local_channels[channel] = (count + 1, asyncio.get_running_loop())

    async def group_discard(self, group: str, channel: str) -> None:
        """Forget the local member at once (no message is delivered to it after this call,
        even if Redis fails), then remove it from the group in Redis."""
        members = self._local_groups.get(group)
        if members is not None and channel in members:
            members.discard(channel)
            if not members:
                del self._local_groups[group]
            count, loop = self._local_channels.pop(channel, (0, None))
            if count > 1 and loop is not None:
                self._local_channels[channel] = (count - 1, loop)
        assert self.require_valid_group_name(group), "Group name not valid"
        assert self.require_valid_channel_name(channel), "Channel name not valid"
        await self._group_discards.submit((group, channel))

    async def _add_together(self, pairs: list[tuple[str, str]]) -> list[None | Exception]:
        """The group adds asked for while the previous call was out: one script call per
        Redis host for all of them (on the hour, a few hundred sockets joining in a second
        each waited for a pooled connection of their own)."""
        return await self._script_per_host(pairs, _GROUP_ADD_SHA, _GROUP_ADD_LUA,
                                           lambda: [time.time(), self.group_expiry])

    async def _discard_together(self, pairs: list[tuple[str, str]]) -> list[None | Exception]:
        """The group discards asked for while the previous call was out, likewise: at the end
        of the hour a few hundred sockets close at once, and one ``ZREM`` each took a pooled
        connection each (opening new ones) on a loop busy with their leaves."""
        return await self._script_per_host(pairs, _GROUP_DISCARD_SHA, _GROUP_DISCARD_LUA,
                                           list)

    async def _script_per_host(self, pairs: list[tuple[str, str]], sha: str, lua: str,
                               leading: Callable[[], list[Any]]) -> list[None | Exception]:
        """One call of a (group, channel) script per Redis host for ``pairs``: ``KEYS`` the
        groups, ``ARGV`` the ``leading`` arguments then the channels in the same order; each
        pair's outcome (None, or its host's error)."""
        by_host: dict[int, list[int]] = {}
        for index, (group, _) in enumerate(pairs):
            by_host.setdefault(self.consistent_hash(group), []).append(index)
        outcomes: list[None | Exception] = [None] * len(pairs)
        for host, indexes in by_host.items():
            try:
                await _run_script(self.connection(host), sha, lua,
                                  [self._group_key(pairs[i][0]) for i in indexes],
                                  [*leading(), *[pairs[i][1] for i in indexes]])
            except Exception as error:
                for index in indexes:
                    outcomes[index] = error
        return outcomes

    def local_members(self, group: str) -> frozenset[str]:
        """This process's channels in ``group`` (diagnostics, tests)."""
        return frozenset(self._local_groups.get(group, ()))

    def _deliver(self, channel: str, message: dict[str, Any]) -> None:
        """Put a copy into a local member's inbox, on the loop that receives on it."""
        found = self._local_channels.get(channel)
        if found is None:
            return
        loop, copy = found[1], dict(message)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop or loop.is_closed():
            # A closed loop: the channel was added from plain sync code (each async_to_sync
            # call runs a loop of its own); whichever loop receives next reads the inbox.
            self._put(channel, copy)
        else:
            loop.call_soon_threadsafe(self._put, channel, copy)

    def _deliver_local(self, group: str, message: dict[str, Any]) -> None:
        """A copy to each of this process's members of ``group`` but its ``exclude``, now."""
        excluded = message.get("exclude")
        for channel in tuple(self._local_groups.get(group, ())):
            if channel != excluded:
                self._deliver(channel, message)

    def _put(self, channel: str, message: dict[str, Any]) -> None:
        """Queue a message for a channel of this process; beyond the channel's capacity the
        oldest is dropped, as channels-redis does."""
        attached = self._attached.get(channel)
        if attached is not None:
            attached.put(message)
            return
        inbox = self._inboxes.get(channel)
        if inbox is None:
            inbox = self._inboxes[channel] = asyncio.Queue()
        if inbox.qsize() >= self.get_capacity(channel):
            inbox.get_nowait()
            self._missed.dropped(channel)
        inbox.put_nowait(message)

    # -- sending ----------------------------------------------------------------------------

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        """A channel of this process that is in a group (a live consumer) gets the message
        directly; any other goes through Redis as before."""
        if channel in self._local_channels:
            self._deliver(channel, message)
            return
        await super().send(channel, message)

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        """Deliver to this process's members now, then to the other members through Redis
        (this process's own members are left out there, so nobody gets a message twice)."""
        self._deliver_local(group, message)
        key = self._group_key(group)
        connection = self.connection(self.consistent_hash(group))
        cutoff = int(time.time()) - self.group_expiry
        raw = await _run_script(connection, _REMOTE_MEMBERS_SHA, _REMOTE_MEMBERS_LUA, [key],
                                [cutoff, self.client_prefix])
        remote = [name for name in (x.decode("utf8") for x in raw) if not self._is_ours(name)]
        if remote:
            await self._send_to_channels(group, remote, message)

    async def group_send_soon(self, group: str, message: dict[str, Any]) -> None:
        """``group_send`` that returns once this process's members have the message, and sends
        it to the other processes' members from a task of this loop, after every message
        given to it before (one Redis round trip finds the remote members of all the groups
        that had messages meanwhile). For the call's events, which a request announces before
        its reply: the reply no longer waits for Redis, and the other processes still get the
        events of a meeting in the order they were sent. Use it only from a loop that lives on
        (the server's): what is still queued when its loop closes is not sent."""
        self._deliver_local(group, message)
        loop = asyncio.get_running_loop()
        sends = self._remote_sends.get(loop)
        if sends is None:
            sends = self._remote_sends[loop] = _RemoteSends(self)
        sends.add(group, message)

    async def remote_members(self, groups: list[str]) -> dict[str, list[str]]:
        """The members of each group that are not this process's (the expired ones swept),
        one round trip per Redis host."""
        by_host: dict[int, list[str]] = {}
        for group in groups:
            by_host.setdefault(self.consistent_hash(group), []).append(group)
        found: dict[str, list[str]] = {}
        cutoff = int(time.time()) - self.group_expiry
        for host, names in by_host.items():
            connection = self.connection(host)
            for attempt in (1, 2):
                pipe = connection.pipeline(transaction=False)
                for group in names:
                    pipe.evalsha(_REMOTE_MEMBERS_SHA, 1, self._group_key(group), cutoff,
                                 self.client_prefix)
                try:
                    results = await pipe.execute()
                    break
                except NoScriptError:
                    if attempt == 2:
                        raise
                    await connection.script_load(_REMOTE_MEMBERS_LUA)
            for group, raw in zip(names, results, strict=True):
                found[group] = [name for name in (x.decode("utf8") for x in raw)
                                if not self._is_ours(name)]
        return found

    async def _send_to_channels(self, group: str, channel_names: list[str],
                                message: dict[str, Any]) -> None:
        """channels-redis's group delivery (one Lua call per shard) for the given members."""
        by_connection, key_messages, key_capacity = self._map_channel_keys_to_connection(
            channel_names, message)
        now = time.time()
        for index, keys in by_connection.items():
            connection = self.connection(index)
            args = [key_messages[k] for k in keys] + [key_capacity[k] for k in keys]
            over = await connection.eval(_GROUP_SEND_LUA, len(keys), *keys, *args, now,
                                         self.expiry)
            if over:
                logger.info("%s of %s channels over capacity in group %s", over,
                            len(channel_names), group)

    # -- receiving --------------------------------------------------------------------------

    async def receive(self, channel: str) -> dict[str, Any]:
        """The next message of ``channel``.

        A channel of this process reads its inbox, which local deliveries and one pump task
        per process fill (the pump reads this process's Redis list, as channels-redis's
        receive does, and runs while anybody receives). channels-redis itself let one of the
        receivers hold the Redis pop for everybody: that receiver never saw a message put
        straight into its own buffer. A Redis failure does not reach the consumer (whose
        socket would be closed with 1011): the pump, and the receive of a general channel,
        log it and retry with a growing pause.
        """
        if not self._is_ours(channel):
            return await self._retrying(channel)
        real = self.non_local_name(channel)
        member = self._local_channels.get(channel)
        if member is not None and member[1] is not asyncio.get_running_loop():
            # Deliveries go to the loop that receives (sync code receives on a new one).
            self._local_channels[channel] = (member[0], asyncio.get_running_loop())
        inbox = self._inboxes.get(channel)
        if inbox is None:
            inbox = self._inboxes[channel] = asyncio.Queue()
        self._receivers += 1
        self._start_pump(real)
        try:
            message = await inbox.get()
            notice = self._missed.notice(channel) if self._missed.counts else None
            if notice is not None:
                inbox.put_nowait(notice)  # room: one was just taken
            return message
        finally:
            self._receivers -= 1
            if inbox.empty() and self._inboxes.get(channel) is inbox:
                del self._inboxes[channel]
            if self._receivers == 0:
                self._stop_pump()

    def attach(self, channel: str, wake: Callable[[], None]) -> Inbox | None:
        """Deliver this process's ``channel`` (local deliveries and the pump's) into an inbox
        its reader pops, what was already queued first; ``wake`` is called when a message
        arrives. The pump runs while a channel is attached, as while one receives. None for a
        channel that is not this process's (read it with ``receive``)."""
        if not self._is_ours(channel):
            return None
        loop = asyncio.get_running_loop()
        member = self._local_channels.get(channel)
        if member is not None and member[1] is not loop:
            self._local_channels[channel] = (member[0], loop)
        inbox = Inbox(channel, capacity=self.get_capacity(channel), drop_oldest=True,
                      missed=self._missed, wake=wake)
        queued = self._inboxes.pop(channel, None)
        while queued is not None and not queued.empty():
            inbox.messages.append(queued.get_nowait())
        self._attached[channel] = inbox
        self._receivers += 1
        self._start_pump(self.non_local_name(channel))
        return inbox

    def detach(self, channel: str, inbox: Inbox) -> None:
        """Stop delivering into ``inbox`` (its reader is gone; what it held is dropped)."""
        if self._attached.get(channel) is not inbox:
            return
        del self._attached[channel]
        self._receivers -= 1
        if self._receivers == 0:
            self._stop_pump()

    async def _retrying(self, channel: str) -> dict[str, Any]:
        pause = 0.1
        while True:
            try:
                return await super().receive(channel)
            except (RedisError, OSError) as error:
                raise_if_cancelled()
                logger.warning("channel layer receive failed [channel:%s]: %r; retrying in %.1fs",
                               channel, error, pause)
                await asyncio.sleep(pause)
                pause = min(self.receive_retry_max, pause * 2)

    def _start_pump(self, real_channel: str) -> None:
        loop = asyncio.get_running_loop()
        pump = self._pump
        if pump is not None and not pump.done() and pump.get_loop() is loop:
            return
        self._pump = loop.create_task(self._pump_messages(real_channel))

    def _stop_pump(self) -> None:
        pump, self._pump = self._pump, None
        if pump is not None and not pump.done():
            pump.cancel()

    async def _pump_messages(self, real_channel: str) -> None:
        """Move this process's messages from Redis into the channels' inboxes.

        After a Redis failure the pump first puts this process's members back into their
        groups: a Redis that restarted empty has forgotten them, and other processes' group
        sends would never reach them again (the sockets would stay open and deaf). A message
        that cannot be read is logged and skipped: the pump must not end while channels are
        attached, since they have no receive of their own that would start it again.
        """
        pause = 0.1
        failed = False
        while True:
            try:
                if failed:
                    restored = await self._restore_local_groups()
                    logger.warning("channel layer: Redis is back; %s local memberships restored",
                                   restored)
                    failed = False
                target, message = await self.receive_single(real_channel)
            except (RedisError, OSError) as error:
                raise_if_cancelled()
                failed = True
                logger.warning("channel layer receive failed [channel:%s]: %r; retrying in %.1fs",
                               real_channel, error, pause)
                await asyncio.sleep(pause)
                pause = min(self.receive_retry_max, pause * 2)
                continue
            except Exception:  # a message that cannot be read: skipped, the pump goes on
                raise_if_cancelled()
                logger.exception("channel layer: a message for this process could not be read "
                                 "[channel:%s]; skipped", real_channel)
                await asyncio.sleep(pause)
                pause = min(self.receive_retry_max, pause * 2)
                continue
            pause = 0.1
            for name in target if isinstance(target, list) else [target]:
                self._put(name, message)

    async def _restore_local_groups(self) -> int:
        """Add every local member to its group in Redis again (one pipeline per group);
        returns how many memberships were written."""
        written = 0
        for group, members in tuple(self._local_groups.items()):
            channels = tuple(members)
            if not channels:
                continue
            key = self._group_key(group)
            connection = self.connection(self.consistent_hash(group))
            now = time.time()
            async with connection.pipeline(transaction=False) as pipe:
                pipe.zadd(key, dict.fromkeys(channels, now))
                pipe.expire(key, self.group_expiry)
                await pipe.execute()
            written += len(channels)
        return written

    async def _brpop_with_clean(self, index: int, channel: str, timeout: int) -> Any:
        """channels-redis's blocking pop, ended by a cancellation.

        channels-redis's ``receive_single`` pops in a loop until a message comes; redis-py 8
        may swallow a cancellation during the pop (it drops the connection and the pop
        returns nothing), so the loop would pop again for ever and a cancelled receive (a
        closing socket, the event loop shutting down) would never end.
        """
        raise_if_cancelled()
        result = await super()._brpop_with_clean(index, channel, timeout=timeout)
        raise_if_cancelled()
        return result

    async def flush(self) -> None:
        """channels-redis's flush (every key of the prefix, the pools), and the pump."""
        self._stop_pump()
        await super().flush()


class _RemoteSends:
    """One loop's group messages still to send to other processes' members, in order."""

    def __init__(self, layer: RedisChannelLayer) -> None:
        self.layer = layer
        self.pending: list[tuple[str, dict[str, Any]]] = []
        self.task: asyncio.Task[None] | None = None

    def add(self, group: str, message: dict[str, Any]) -> None:
        self.pending.append((group, message))
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self.pending:
                batch, self.pending = self.pending, []
                try:
                    members = await self.layer.remote_members(
                        list(dict.fromkeys(group for group, _ in batch)))
                except Exception:
                    logger.exception("%d group messages not sent to other processes: their "
                                     "members could not be read", len(batch))
                    continue
                for group, message in batch:
                    remote = members.get(group)
                    if not remote:
                        continue
                    try:
                        await self.layer._send_to_channels(group, remote, message)
                    except Exception:
                        logger.exception("a message of group %s not sent to other processes",
                                         group)
        finally:
            self.task = None


async def _run_script(connection: aioredis.Redis, sha: str, lua: str, keys: list[str],
                      args: list[Any]) -> Any:
    """``EVALSHA``, loading the script first when Redis does not know it (a Redis that never
    saw it, or restarted empty)."""
    try:
        return await connection.evalsha(sha, len(keys), *keys, *args)
    except NoScriptError:
        await connection.script_load(lua)
        return await connection.evalsha(sha, len(keys), *keys, *args)


def raise_if_cancelled() -> None:
    """Raise CancelledError when the current task is being cancelled (also used by the cluster
    node's Redis loops, `rtc.cluster.node`).

    redis-py turns a cancellation during a read into a ConnectionError (it drops the
    connection); a retry loop that caught it would swallow the cancel and run for ever, and the
    event loop's shutdown (which waits for every cancelled task) would hang.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


_REMOTE_MEMBERS_LUA = """
    redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, ARGV[1])
    local members = redis.call('ZRANGE', KEYS[1], 0, -1)
    local suffix = ARGV[2] .. '!'
    local remote = {}
    for _, name in ipairs(members) do
        local bang = string.find(name, '!', 1, true)
        if not (bang and string.sub(string.sub(name, 1, bang), -#suffix) == suffix) then
            remote[#remote + 1] = name
        end
    end
    return remote
"""
"""A group's members that are not this process's (``ARGV[2]``: its ``client_prefix``), after
sweeping the expired ones: ``group_send``'s one round trip. Redis filters, so the usual answer
(every member is local) is an empty list, and one script call costs the client about half the
CPU of the pipeline of two commands it replaced (a call's set-up sends about six group events a
peer, so a burst of joins pays it thousands of times)."""

_REMOTE_MEMBERS_SHA = hashlib.sha1(_REMOTE_MEMBERS_LUA.encode()).hexdigest()  # noqa: S324

_GROUP_ADD_LUA = """
    for i = 1, #KEYS do
        redis.call('ZADD', KEYS[i], ARGV[1], ARGV[i + 2])
        redis.call('EXPIRE', KEYS[i], ARGV[2])
    end
"""
"""channels-redis's ``group_add`` (``ZADD`` member at now, then ``EXPIRE`` the group) in one
round trip, for several (group, channel) pairs: ``KEYS`` the groups, ``ARGV`` now, the groups'
expiry, then the channels in the order of their groups."""

_GROUP_ADD_SHA = hashlib.sha1(_GROUP_ADD_LUA.encode()).hexdigest()  # noqa: S324

_GROUP_DISCARD_LUA = """
    for i = 1, #KEYS do
        redis.call('ZREM', KEYS[i], ARGV[i])
    end
"""
"""channels-redis's ``group_discard`` (``ZREM``) for several (group, channel) pairs in one round
trip: ``KEYS`` the groups, ``ARGV`` the channels in the order of their groups."""

_GROUP_DISCARD_SHA = hashlib.sha1(_GROUP_DISCARD_LUA.encode()).hexdigest()  # noqa: S324

_GROUP_SEND_LUA = """
    local over_capacity = 0
    local current_time = ARGV[#ARGV - 1]
    local expiry = ARGV[#ARGV]
    for i=1,#KEYS do
        redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, current_time - expiry)
        if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[i + #KEYS]) then
            redis.call('ZADD', KEYS[i], current_time, ARGV[i])
            redis.call('EXPIRE', KEYS[i], expiry)
        else
            over_capacity = over_capacity + 1
        end
    end
    return over_capacity
"""
"""channels-redis's group-send script, with its expiry sweep (a pipeline of its own there)
folded in: one round trip per shard."""
