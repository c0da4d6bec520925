"""Serving a socket's rtc:* requests on the node that owns its call, through the channel layer.

A socket may reach any node (a plain round-robin balancer), while a meeting's call lives on
one node. When the call of a socket served here is owned by another node, its requests are
validated, rate-limited and grant-checked here as usual, then sent to the owner's relay channel
(each node reads its own, named in its record) as ``cluster.request`` messages: the request's
type and data, the socket's channel name, meeting, user id and join-token grants, a
correlation id and this node's channel for the answer. The owner runs the same guards and the
same handler, on a :class:`RemoteConnection` standing for the socket, and answers with a
``cluster.reply`` carrying the reply data, or the error's message and code: the client gets the
same reply or error as from a direct call. A request unanswered within
``RELAY_TIMEOUT_SECONDS`` fails with ``internal``.

Events need no relay: the owner sends a peer's events to its socket's channel, and meeting
broadcasts go to the meeting's group, both of which the channel layer delivers to whichever
process serves the socket. When the socket closes, a ``detach`` goes to the owner (the peer
then waits for its reconnect grace there, or leaves at once after ``rtc:leave``).

What the owner trusts: another node's word for who the socket's user is and which meeting it
joined (the socket node authenticated it; nodes share Redis and are equally trusted, see
SECURITY.md). It still checks the meeting's permissions itself (``rtc:join`` reads the
database) and the grants.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model

from conference.errors import ApplicationError
from rtc.services import notify
from rtc.signaling.errors import ErrorCode, SignalingError
from rtc.websocket.envelope import Envelope

__all__ = ["RelayedError", "RemoteConnection", "Relay"]

logger = logging.getLogger(__name__)

USER_CACHE_SECONDS = 30.0
USER_CACHE_SIZE = 10_000


class RelayedError(ApplicationError):
    """The owner's error reply to a relayed request, given to the client as it came (a code
    this node does not know, from a newer node, reads ``internal``)."""

    def __init__(self, message: str, code: str) -> None:
        known = code in {c.value for c in ErrorCode}
        super().__init__(message, code=ErrorCode(code) if known else ErrorCode.INTERNAL)


@dataclass(eq=False)
class RemoteConnection:
    """A socket served by another node, as the owner's handlers see it (a Connection)."""

    user: Any
    meeting_id: str
    channel_name: str
    join_grant: Any = None
    flooded: bool = False
    leaving: bool = False
    room_service: Any = None
    """The serving node's RoomService (the handlers use it, `handlers.service_of`)."""

    async def send_event(self, event: str, data: dict[str, Any]) -> None:
        """Push an event to the socket, through the channel layer."""
        await notify.send_to(self.channel_name, event, data)

    async def broadcast(self, event: str, data: dict[str, Any], *,
                        exclude_self: bool = True) -> None:
        """Push an event to the meeting's sockets on every node."""
        await notify.broadcast(self.meeting_id, event, data,
                               exclude=self.channel_name if exclude_self else None)


@database_sync_to_async
def _load_user(user_id: Any) -> Any:
    return get_user_model().objects.filter(pk=user_id).first()


def _grant_of(conn: Any) -> dict[str, Any] | None:
    grant = getattr(conn, "join_grant", None)
    if grant is None:
        return None
    return {"meeting": str(grant.meeting_id), "grants": grant.grants.as_dict()}


class Relay:
    """The relay of one node: forwards requests to owners, serves those sent to this node."""

    def __init__(self, node: Any) -> None:
        self.node = node
        self._pending: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._owners: dict[str, str] = {}
        """The node each pending call waits for (so a node that leaves fails its calls now)."""
        self._users: dict[Any, tuple[float, Any]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self.served = 0
        self.forwarded = 0

    # -- the socket's side ----------------------------------------------------------------------

    async def forward(self, owner: str, conn: Any, name: str, request: Envelope) -> dict[str, Any]:
        """Have ``owner`` serve ``request`` of ``conn``; its reply data, or its error raised
        as a SignalingError with the same message and code."""
        message = {
            "op": "request", "name": name, "data": request.data,
            "request_id": request.request_id,
            "meeting_id": str(conn.meeting_id), "channel_name": conn.channel_name,
            "user_id": conn.user.pk, "grant": _grant_of(conn),
        }
        reply = await self._call(owner, message)
        if "error" in reply:
            raise RelayedError(str(reply["error"]), str(reply.get("code") or "internal"))
        return dict(reply.get("data") or {})

    async def ask(self, node_id: str, name: str, args: dict[str, Any], *,
                  timeout: float | None = None) -> Any:
        """Have ``node_id`` run the operator operation ``name`` (`rtc.cluster.ops`); its
        result, or its refusal raised as a SignalingError with the same message and code.
        ``timeout``: seconds to wait for the answer (default ``RELAY_TIMEOUT_SECONDS``)."""
        reply = await self._call(node_id, {"op": "operation", "name": name, "args": args},
                                 timeout=timeout)
        if "error" in reply:
            code = str(reply.get("code") or "")
            known = code in {c.value for c in ErrorCode}
            raise SignalingError(code if known else ErrorCode.INTERNAL,
                                 str(reply["error"]))
        return reply.get("data")

    async def forward_detach(self, owner: str, conn: Any) -> None:
        """Tell ``owner`` that the socket of ``conn`` closed (a failure is logged)."""
        message = {
            "op": "detach", "meeting_id": str(conn.meeting_id),
            "channel_name": conn.channel_name, "user_id": conn.user.pk,
            "flooded": bool(getattr(conn, "flooded", False)),
            "leaving": bool(getattr(conn, "leaving", False)),
        }
        try:
            await self._call(owner, message)
        except SignalingError as error:
            logger.warning("detach not delivered [owner:%s, channel:%s]: %s", owner,
                           conn.channel_name, error.message)

    async def _call(self, owner: str, message: dict[str, Any], *,
                    timeout: float | None = None) -> dict[str, Any]:
        from rtc.cluster.config import cluster_settings

        channel = self.node.channel_of(owner)
        if channel is None:
            raise SignalingError(ErrorCode.INTERNAL, "the meeting's media server is gone; "
                                 "join again")
        call_id = uuid.uuid4().hex
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[call_id] = future
        self._owners[call_id] = owner
        self.forwarded += 1
        try:
            await self.node.layer.send(channel, {"type": "cluster.request", "id": call_id,
                                                 "reply_to": self.node.channel, **message})
            async with asyncio.timeout(
                    timeout if timeout is not None
                    else cluster_settings()["RELAY_TIMEOUT_SECONDS"]):
                return await future
        except TimeoutError:
            logger.warning("relay timed out [owner:%s, op:%s, name:%s]", owner, message["op"],
                           message.get("name"))
            raise SignalingError(ErrorCode.INTERNAL,
                                 "the meeting's media server did not answer") from None
        finally:
            self._pending.pop(call_id, None)
            self._owners.pop(call_id, None)

    def fail_pending(self) -> None:
        """Fail every request still waiting (the node stops)."""
        for future in self._pending.values():
            if not future.done():
                future.set_result({"error": "the server is stopping", "code": "internal"})
        self._pending.clear()
        self._owners.clear()

    def fail_calls_to_gone(self, live: set[str]) -> int:
        """Fail now the calls waiting for nodes not in ``live`` (they left the cluster: the
        answer will never come, and a request left to its timeout would hold the client's
        rebuild back for that long); how many were failed."""
        failed = 0
        for call_id, owner in tuple(self._owners.items()):
            future = self._pending.get(call_id)
            if owner not in live and future is not None and not future.done():
                future.set_result({"error": "the meeting's media server is gone; join again",
                                   "code": "internal"})
                failed += 1
        return failed

    # -- the owner's side -----------------------------------------------------------------------

    async def listen(self) -> None:
        """Read this node's relay channel for ever: requests are served in tasks, replies
        resolve the waiting calls."""
        while True:
            try:
                message = await self.node.layer.receive(self.node.channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("relay receive failed [node:%s]", self.node.id)
                await asyncio.sleep(0.5)
                continue
            kind = message.get("type")
            if kind == "cluster.reply":
                future = self._pending.get(str(message.get("id")))
                if future is not None and not future.done():
                    future.set_result(message)
            elif kind == "cluster.request":
                task = asyncio.get_running_loop().create_task(self._serve(message))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    async def _serve(self, message: dict[str, Any]) -> None:
        started = time.perf_counter()
        try:
            data = await self._run(message)
            reply: dict[str, Any] = {"data": data if message["op"] == "operation" else data or {}}
        except ApplicationError as error:
            reply = {"error": error.message, "code": str(error.code)}
        except Exception:
            logger.exception("relayed %s failed [node:%s, meeting:%s]", message.get("name"),
                             self.node.id, message.get("meeting_id"))
            reply = {"error": "Internal error.", "code": "internal"}
        self.served += 1
        try:
            await self.node.layer.send(str(message["reply_to"]), {
                "type": "cluster.reply", "id": message["id"], **reply})
        except Exception:
            logger.exception("relay reply lost [node:%s, to:%s]", self.node.id,
                             message.get("reply_to"))
        logger.debug("relayed %s served in %.1f ms", message.get("name"),
                     (time.perf_counter() - started) * 1000)

    async def _user(self, user_id: Any) -> Any:
        now = time.monotonic()
        cached = self._users.get(user_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        user = await _load_user(user_id)
        if user is None:
            raise SignalingError(ErrorCode.FORBIDDEN, "unknown user")
        if len(self._users) >= USER_CACHE_SIZE:
            self._users.clear()
        self._users[user_id] = (now + USER_CACHE_SECONDS, user)
        return user

    async def _run(self, message: dict[str, Any]) -> Any:
        from rtc.policy.grants import Grants
        from rtc.signaling.routes import ROUTES, serve_here

        if message["op"] == "operation":
            from rtc.cluster.ops import run_here

            return await run_here(str(message["name"]), dict(message.get("args") or {}),
                                  self.node.service)
        user = await self._user(message["user_id"])
        grant = message.get("grant")
        join_grant = None
        if grant is not None:
            join_grant = SimpleNamespace(meeting_id=grant["meeting"],
                                         grants=Grants.from_dict(grant["grants"]))
        conn = RemoteConnection(user=user, meeting_id=str(message["meeting_id"]),
                                channel_name=str(message["channel_name"]), join_grant=join_grant,
                                flooded=bool(message.get("flooded")),
                                leaving=bool(message.get("leaving")),
                                room_service=self.node.service)
        service = self.node.service
        if message["op"] == "detach":
            if conn.leaving:
                try:
                    await service.leave(channel_name=conn.channel_name)
                    return None
                except SignalingError:
                    pass  # no peer any more: detach below does nothing either
            await service.detach(channel_name=conn.channel_name, grace=not conn.flooded)
            return None
        name = str(message["name"])
        if name not in ROUTES:
            raise SignalingError(ErrorCode.INVALID, "not a relayed request")
        if name == "rtc:join" and conn.meeting_id not in service.rooms:
            owner = await self.node.store.owner(conn.meeting_id)
            if owner != self.node.id:
                raise SignalingError(ErrorCode.INTERNAL, "the call moved; join again")
        return await serve_here(conn, name, dict(message.get("data") or {}))
