"""Where each socket's join waits in a burst: a per-socket trace of the server's join path.

``bench/signaling.py --trace-server PATH`` runs daphne through `bots.traced_daphne`, which
calls :func:`install` before the application is loaded: it wraps the steps of a meeting
socket's way in (the token lookup, the accept, the Redis trips, the join's database trip, the
``meeting.state`` push, the ``rtc:join`` reply) and the database work of the batches behind
them, and notes when each step began and ended, per socket (keyed by its client address). The
benchmark forgets what the warm-up noted (SIGUSR1) and has the trace written when its row is
done (SIGUSR2), as it does for ``--profile-server``; :func:`step_table` turns the file into a
table (bench/README.md, "Call set-up", session 15, was read off such a trace).

It measures wall time on the server (``time.monotonic``, milliseconds from the first socket of
the row) and each batch's thread CPU: what waits, not what costs. The wrappers cost a few
microseconds a step, which the figures of a traced run include.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["STEPS", "install", "step_table"]

Event = tuple[float, str, str | None, dict[str, Any]]

STEPS = [
    ("token lookup", "auth_in", "auth_out"),
    ("accept → the group add starts", "connect", "subscribe_in"),
    ("the group add", "subscribe_in", "subscribe_out"),
    ("beside it, on a cluster: the socket count", "slot_in", "slot_out"),
    ("→ join submitted (after both)", "subscribe_out", "join_in"),
    ("the join's database trip", "join_in", "join_out"),
    ("→ meeting.state", "join_out", "state"),
    ("rtc:join received → replied", "join_request", "join_reply"),
]
"""The table's rows: a name, and the marks a step goes from and to."""

MARKS = ["auth_in", "auth_out", "connect", "subscribe_out", "slot_out", "join_in", "join_out",
         "state", "join_reply"]
"""The marks whose spread over the burst the table also gives (ms from its first socket)."""


class _Trace:
    """The events of this process since the last reset (appended from any thread)."""

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.events: list[Event] = []

    def now(self) -> float:
        return round((time.monotonic() - self.started) * 1000, 3)

    def mark(self, kind: str, key: str | None, **extra: Any) -> None:
        self.events.append((self.now(), kind, key, extra))

    def reset(self, *_: Any) -> None:
        self.events = []

    def write(self, path: str) -> None:
        Path(path).write_text(json.dumps(self.events))


def _key(scope: dict[str, Any]) -> str:
    client = scope.get("client") or ("?", 0)
    return f"{client[0]}:{client[1]}"


def _wrap_async(owner: Any, name: str, before: Callable[..., str | None] | None,
                trace: _Trace, kind_in: str, kind_out: str | None,
                when: Callable[..., bool] | None = None) -> None:
    """Replace ``owner.name`` by a coroutine function that marks ``kind_in`` (and
    ``kind_out`` when it returns) under the key ``before(*args)`` gives; only the calls for
    which ``when(*args, **kwargs)`` holds, when given."""
    original = getattr(owner, name)

    async def wrapped(*args: Any, **kwargs: Any) -> Any:
        if when is not None and not when(*args, **kwargs):
            return await original(*args, **kwargs)
        key = before(*args) if before is not None else None
        trace.mark(kind_in, key)
        try:
            return await original(*args, **kwargs)
        finally:
            if kind_out is not None:
                trace.mark(kind_out, key)

    setattr(owner, name, wrapped)


def _wrap_batch(owner: Any, name: str, trace: _Trace, kind: str) -> None:
    """Replace the synchronous batch function ``owner.name`` (a list in, run on a database
    thread) by one that notes its start, size, wall and thread CPU time."""
    original = getattr(owner, name)

    def wrapped(items: Any) -> Any:
        start, cpu = trace.now(), time.thread_time()
        try:
            return original(items)
        finally:
            trace.mark(kind, None, start=start, size=len(items),
                       cpu_ms=round((time.thread_time() - cpu) * 1000, 3),
                       thread=threading.current_thread().name)

    setattr(owner, name, wrapped)


def _wrap_async_batch(batches: Any, trace: _Trace, kind: str) -> None:
    """Replace the coroutine function a `conference.batching.Batches` runs its batches with
    (a Redis call, on the event loop) by one that notes each batch's start, size and wall
    time (its CPU is the loop's, shared with everything else: noted as None)."""
    original = batches._run

    async def wrapped(items: Any) -> Any:
        start = trace.now()
        try:
            return await original(items)
        finally:
            trace.mark(kind, None, start=start, size=len(items), cpu_ms=None,
                       thread=threading.current_thread().name)

    batches._run = wrapped


def install(path: str) -> None:
    """Wrap the join path (Django set up, the application not yet loaded); SIGUSR1 forgets
    what was noted, SIGUSR2 writes it to ``path``."""
    from channels.middleware import BaseMiddleware

    from meetings import joins
    from rtc.cluster import limits
    from rtc.websocket import auth, consumer, join, session

    trace = _Trace()
    socket = consumer.MeetingConsumer

    def scope_key(_: Any, scope: dict[str, Any], *__: Any) -> str:
        return _key(scope)

    def conn_key(self: Any, *_: Any) -> str:
        return _key(self.scope)

    def flow_key(holder: Any, *_: Any) -> str:  # a JoinFlow or a SocketSession: its .conn
        return _key(holder.conn.scope)

    def join_request(_: Any, text_data: str | None = None, *__: Any, **___: Any) -> bool:
        return bool(text_data) and '"rtc:join"' in str(text_data)

    def first_reply(self: Any, *_: Any, **__: Any) -> bool:
        first = not getattr(self, "_traced_first_reply", False)
        self._traced_first_reply = True
        return first

    _wrap_async(auth.TokenAuthMiddleware, "__call__", scope_key, trace, "auth_in", None)
    # TokenAuthMiddleware hands the socket on through BaseMiddleware once its user is known.
    _wrap_async(BaseMiddleware, "__call__", scope_key, trace, "auth_out", None,
                when=lambda self, *_, **__: isinstance(self, auth.TokenAuthMiddleware))
    _wrap_async(socket, "connect", conn_key, trace, "connect", None)
    _wrap_async(join.JoinFlow, "_subscribe", flow_key, trace, "subscribe_in", "subscribe_out")
    _wrap_async(session.SocketSession, "take_shared_slot", flow_key, trace, "slot_in", "slot_out")
    _wrap_async(join, "_join_meeting", flow_key, trace, "join_in", "join_out")
    _wrap_async(socket, "send_event", conn_key, trace, "state", None,
                when=lambda _, event, *__, **___: event == "meeting.state")
    _wrap_async(socket, "receive", conn_key, trace, "join_request", None, when=join_request)
    _wrap_async(socket, "send_reply", conn_key, trace, "join_reply", None, when=first_reply)
    _wrap_batch(joins, "participants_join", trace, "join_batch")
    _wrap_batch(auth, "_users_for_tokens", trace, "token_batch")
    _wrap_async_batch(limits._acquisitions, trace, "slot_batch")
    signal.signal(signal.SIGUSR1, trace.reset)
    signal.signal(signal.SIGUSR2, lambda *_: trace.write(path))


def _quantiles(values: list[float]) -> str:
    if not values:
        return "-"
    values = sorted(values)
    n = len(values)
    return (f"{values[n // 2]:.1f} / {values[min(n - 1, int(n * 0.9))]:.1f} / "
            f"{values[-1]:.1f}")


_BATCHES = ("token_batch", "slot_batch", "join_batch")
"""The kinds of batch the table lists: database batches (thread CPU noted), Redis ones (not)."""


def step_table(events: list[Event]) -> tuple[list[list[Any]], list[list[Any]]]:
    """From a trace: per step, how many sockets and p50 / p90 / max ms (and per mark, when
    it came, ms from the first socket); and the batches (kind, start, end, size, CPU ms)."""
    first: dict[str, dict[str, float]] = {}
    for at, kind, key, _ in events:
        if key is not None:
            first.setdefault(key, {}).setdefault(kind, at)
    sockets = [marks for marks in first.values() if "auth_in" in marks or "connect" in marks]
    zero = min((m.get("auth_in", m.get("connect", 0.0)) for m in sockets), default=0.0)
    steps = []
    for name, begin, end in STEPS:
        spans = [m[end] - m[begin] for m in sockets if begin in m and end in m]
        steps.append([name, len(spans), _quantiles(spans)])
    for mark in MARKS:
        times = [m[mark] - zero for m in sockets if mark in m]
        steps.append([f"at {mark}", len(times), _quantiles(times)])
    batches = [[kind, round(extra["start"] - zero, 1), round(at - zero, 1), extra["size"],
                extra["cpu_ms"]]
               for at, kind, _, extra in events if kind in _BATCHES]
    return steps, batches
