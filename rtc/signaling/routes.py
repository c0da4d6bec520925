"""The meeting socket's route table: each request declared once, with its schema, its grant
and its service call side by side.

Why one table: a request type used to be named in three tables (handlers, parsers, grant
requirements), in ``PROTOCOL.md`` and in the clients, and the grant check ran on the raw
``data`` before validation. Now :func:`route` is the one declaration; the socket's handler it
registers runs, in this order:

1. validation of ``data`` into the route's model (``invalid``),
2. the grant on the *validated* request (``forbidden``; `rtc.policy.grants`),
3. the call: here, or relayed to the cluster node owning the meeting's call, which runs 1-3
   again on what it received (:func:`serve_here`).

Before it, the socket counted the request against its one rate limit (its session's
`rtc.websocket.rate.SocketRate`: a route is registered ``rate_limited``; ``limit``).

Each route also names the model of its success reply's ``data`` (`rtc.signaling.replies`)
and the events its call may push (declared with their models in `rtc.signaling.events`).
The documents of the protocol (JSON Schema, AsyncAPI, ``PROTOCOL.md``'s tables, the clients'
code tables) are generated from :data:`ROUTES` (`rtc.signaling.documents`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, get_args

from rtc import cluster
from rtc.policy import grants as rtc_grants
from rtc.signaling.errors import ErrorCode, SignalingError
from rtc.signaling.payloads import Payload
from rtc.signaling.schemas import Request as RequestModel
from rtc.signaling.schemas import validate
from rtc.websocket.envelope import Connection, Envelope, registry

__all__ = ["ROUTES", "Route", "parse_request", "reply_type", "route", "serve_here"]

Reply = dict[str, Any]
Impl = Callable[[Connection, Any], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class Route:
    """One request type of the meeting socket."""

    name: str
    """The request ``type``, e.g. ``rtc:join``."""
    schema: type[RequestModel]
    """The pydantic model of its ``data``."""
    grant: rtc_grants.Check
    """What a peer's grants must allow (`rtc.policy.grants`); applies to join-token peers."""
    impl: Impl
    """The service call, given the connection and the validated request."""
    reply_schema: type[Payload] | None = None
    """The pydantic model of its success reply's ``data`` (`rtc.signaling.replies`; None:
    undeclared, which the outgoing check refuses)."""
    reply: str | None = None
    """The ``type`` of its success reply data, read from the model's ``type`` literal (None:
    a reply without a type)."""
    events: tuple[str, ...] = ()
    """Events the call may push to the peers."""
    call_state: bool = False
    """It reads the live call: served by the call's owner node even for a socket outside
    the call (`rtc.cluster.route_request`)."""
    summary: str = field(default="")
    """The first line of the call's docstring, for the documents."""

    @property
    def model(self) -> type[RequestModel]:
        """The pydantic model of the data (the documents read it)."""
        return self.schema

    def validate(self, data: Any) -> RequestModel:
        """``data`` validated (``invalid`` otherwise); a missing ``data`` counts as ``{}``."""
        return validate(self.schema, data)


ROUTES: dict[str, Route] = {}
"""Request type → its route (every rtc:*, chat:, hand:, reaction:, whiteboard:, lobby: one)."""


def reply_type(model: type[Payload] | None) -> str | None:
    """The ``type`` a reply model fixes (its ``type`` field's one literal), if any."""
    field_info = model.model_fields.get("type") if model is not None else None
    if field_info is None:
        return None
    values = get_args(field_info.annotation)
    return str(values[0]) if len(values) == 1 else None


def route(name: str, *, schema: type[RequestModel], grant: rtc_grants.Check,
          reply: type[Payload] | None = None, events: tuple[str, ...] = (),
          call_state: bool = False) -> Callable[[Impl], Impl]:
    """Declare request ``name``: its ``schema``, its ``grant``, its success reply's model
    (``reply``), the events its call may push, and (decorated) its call."""

    def decorator(impl: Impl) -> Impl:
        if name in ROUTES and ROUTES[name].impl is not impl:
            raise ValueError(f"{name!r} is declared twice")
        declared = Route(name=name, schema=schema, grant=grant, impl=impl,
                         reply_schema=reply, reply=reply_type(reply),
                         events=events, call_state=call_state,
                         summary=(impl.__doc__ or "").strip().split("\n")[0])
        ROUTES[name] = declared

        async def handler(conn: Connection, request: Envelope) -> Reply:
            parsed = declared.validate(request.data)
            rtc_grants.check(conn, name, declared.grant, parsed)
            relayed = await cluster.route_request(conn, name, request,
                                                  call_state=call_state)
            if relayed is not None:
                return relayed
            return await impl(conn, parsed)

        handler.__name__ = impl.__name__
        handler.__doc__ = impl.__doc__
        registry.register(name, rate_limited=True)(handler)
        return impl

    return decorator


def parse_request(name: str, data: Any) -> Any:
    """``data`` of a request of type ``name`` validated; ``unknown_type`` for a type with no
    route, ``invalid`` for data that does not fit."""
    declared = ROUTES.get(name)
    if declared is None:
        raise SignalingError(ErrorCode.UNKNOWN_TYPE, "unknown request type")
    return declared.validate(data)


async def serve_here(conn: Connection, name: str, data: Any) -> Reply:
    """Serve a request relayed by another node of the cluster (this one owns the call):
    validated and granted again, then called (no rate: the socket's node counted it)."""
    declared = ROUTES.get(name)
    if declared is None:
        raise SignalingError(ErrorCode.INVALID, "not a relayed request")
    parsed = declared.validate(data)
    rtc_grants.check(conn, name, declared.grant, parsed)
    return await declared.impl(conn, parsed)
