"""Operator actions on a cluster: run a named operation on the node that owns a meeting's call,
or on every live node, from whichever node a request reached.

The admin's live page, the live-room API and their staff actions read and change calls, which
live in the memory of the node owning them; behind a round-robin balancer an operator's request
reaches any node. An app registers its operations here by name (:func:`operation`); the
callers use :func:`on_owner` (mute, remove, change grants, end: one call) or
:func:`on_every_node` (the live views: every node's part, labelled with its id). Another node
runs the operation through the relay (``op`` ``operation`` in :mod:`rtc.cluster.relay`); without
a cluster, or when the call runs here, it runs in this process, as a single server does.

An operation is called with the node's RoomService as ``service`` and its arguments by keyword;
arguments and results cross the channel layer: plain JSON-like values only. An operation's
refusal (a :class:`~rtc.signaling.errors.SignalingError`) reaches the caller with its code and
message; a node that does not answer within the relay timeout is left out of
:func:`on_every_node`'s answer and named in its ``missing`` list.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from rtc.signaling.errors import ErrorCode, SignalingError

__all__ = ["NodeAnswers", "OPERATIONS", "on_every_node", "on_owner", "operation", "run_here"]

logger = logging.getLogger(__name__)

Operation = Callable[..., Awaitable[Any]]
F = TypeVar("F", bound=Operation)

OPERATIONS: dict[str, Operation] = {}
"""Operation name → the coroutine function that runs it on this node."""


def operation(name: str) -> Callable[[F], F]:
    """Register the decorated coroutine function as the operation ``name``."""

    def register(function: F) -> F:
        if OPERATIONS.get(name, function) is not function:
            raise ValueError(f"operation {name!r} registered twice")
        OPERATIONS[name] = function
        return function

    return register


async def run_here(name: str, args: dict[str, Any], service: Any = None) -> Any:
    """Run the operation ``name`` here, on ``service`` (default: this process's RoomService)."""
    function = OPERATIONS.get(name)
    if function is None:
        raise SignalingError(ErrorCode.INVALID, "unknown operation")
    if service is None:
        from rtc.services import get_room_service

        service = get_room_service()
    return await function(service=service, **args)


def _node() -> Any:
    from rtc.cluster import local_node

    return local_node()


async def on_owner(meeting_id: str, name: str, /, **args: Any) -> Any:
    """Run ``name`` on the node owning the meeting's call (here when it has none elsewhere)."""
    node = _node()
    if node is None:
        return await run_here(name, args)
    owner = await node.owner_of(str(meeting_id))
    if owner is None or owner == node.id:
        return await run_here(name, args, node.service)
    return await node.relay.ask(owner, name, args)


@dataclass
class NodeAnswers:
    """What every live node answered: ``(node id, result)`` pairs, by node id, and the nodes
    that did not answer (their part is missing from the view)."""

    answers: list[tuple[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


async def on_every_node(name: str, /, **args: Any) -> NodeAnswers:
    """Run ``name`` on every live node at once (only here without a cluster)."""
    node = _node()
    if node is None:
        return NodeAnswers(answers=[("", await run_here(name, args))])
    ids = sorted({*node.records, node.id})

    async def one(node_id: str) -> Any:
        if node_id == node.id:
            return await run_here(name, args, node.service)
        return await node.relay.ask(node_id, name, args)

    results = await asyncio.gather(*(one(i) for i in ids), return_exceptions=True)
    view = NodeAnswers()
    for node_id, result in zip(ids, results, strict=True):
        if isinstance(result, BaseException):
            if isinstance(result, asyncio.CancelledError):
                raise result
            logger.warning("operation %s: node %s did not answer: %r", name, node_id, result)
            view.missing.append(node_id)
        else:
            view.answers.append((node_id, result))
    return view
