"""What a peer may do in a call (grants), and the one check every rtc:* request passes.

A connection authenticated by an integration's join token carries the token's grants
(`conn.join_grant.grants`); a signed-in Django user carries none, which means "unrestricted:
the meeting's roles decide" (RoomService still checks the host role). Grants changed while a
peer is connected (the live-room API) are kept in :data:`grant_store` and win over the token,
also when the peer reconnects with the same token.

Each route of the socket (`rtc.signaling.routes.route`) names one of the checks below beside
its schema and its call, and :func:`check` runs it on the *validated* request. A route cannot
be declared without a check, so no request type escapes the grants (fail closed).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rtc.signaling.errors import ErrorCode, SignalingError
from rtc.websocket.envelope import Connection

__all__ = [
    "PUBLISH_SOURCES",
    "SOURCE_GRANT",
    "Check",
    "GrantStore",
    "Grants",
    "check",
    "connection_grants",
    "grant_store",
]

logger = logging.getLogger(__name__)

PUBLISH_SOURCES = ("mic", "webcam", "screen")
"""Sources a publish grant names."""

SOURCE_GRANT = {"mic": "mic", "webcam": "webcam", "screen": "screen", "screen-audio": "screen"}
"""`appData.source` of a producer → the publish grant it needs (screen audio rides `screen`)."""

GRANT_KEYS = frozenset({"publish", "subscribe", "hidden", "host", "record", "chat",
                        "whiteboard"})
FLAG_DEFAULTS = (("subscribe", True), ("hidden", False), ("host", False), ("record", False),
                 ("chat", True), ("whiteboard", True))
"""The boolean grants and their defaults (a token that names none keeps today's rights)."""


@dataclass(frozen=True, slots=True)
class Grants:
    """A peer's permissions in one call."""

    publish: frozenset[str] = field(default_factory=lambda: frozenset(PUBLISH_SOURCES))
    """Sources it may send: a subset of `PUBLISH_SOURCES`."""
    subscribe: bool = True
    """Whether it may receive the others' tracks."""
    hidden: bool = False
    """Not announced to the others and not in their peer lists (recorders, bots); cannot
    publish, since its tracks would reveal it."""
    host: bool = False
    """May mute others' tracks and remove peers, like the meeting's host."""
    record: bool = False
    """May start and stop the call's recording (``rtc:startRecording``), as the host may."""
    chat: bool = True
    """May send chat messages, raise a hand and send reactions (reading is always allowed)."""
    whiteboard: bool = True
    """May draw on and erase from the shared whiteboard (seeing it is always allowed)."""

    @classmethod
    def from_dict(cls, data: Any) -> Grants:
        """Strictly parse ``{"publish": [...], "subscribe": bool, "hidden": bool, "host": bool,
        "chat": bool, "whiteboard": bool}``
        (missing keys take the defaults); ValueError with a readable message otherwise."""
        if not isinstance(data, Mapping):
            raise ValueError("grants must be an object")
        unknown = set(data) - GRANT_KEYS
        if unknown:
            raise ValueError(f"unknown grants: {', '.join(sorted(map(str, unknown)))[:80]}")
        publish = data.get("publish", list(PUBLISH_SOURCES))
        if not isinstance(publish, list | tuple) or len(publish) > len(PUBLISH_SOURCES):
            raise ValueError("grants.publish must be a list of sources")
        if any(source not in PUBLISH_SOURCES for source in publish):
            raise ValueError(f"grants.publish sources are {', '.join(PUBLISH_SOURCES)}")
        flags = {}
        for key, default in FLAG_DEFAULTS:
            value = data.get(key, default)
            if not isinstance(value, bool):
                raise ValueError(f"grants.{key} must be true or false")
            flags[key] = value
        return cls(publish=frozenset(publish), **flags)

    def as_dict(self) -> dict[str, Any]:
        """JSON form (publish in the canonical order)."""
        return {
            "publish": [s for s in PUBLISH_SOURCES if s in self.publish],
            "subscribe": self.subscribe,
            "hidden": self.hidden,
            "host": self.host,
            "record": self.record,
            "chat": self.chat,
            "whiteboard": self.whiteboard,
        }

    def may_publish(self, source: Any) -> bool:
        """Whether a producer whose `appData.source` is `source` is allowed."""
        if self.hidden:
            return False
        needed = SOURCE_GRANT.get(source) if isinstance(source, str) else None
        return needed is not None and needed in self.publish


class GrantStore:
    """Grants changed during calls, by (meeting id, user id); bounded, oldest dropped first.

    In memory, like the calls themselves (the process owning a meeting's room serves its
    sockets and its live-room API).
    """

    def __init__(self, max_entries: int = 10_000) -> None:
        self._entries: OrderedDict[tuple[str, Any], Grants] = OrderedDict()
        self._max = max_entries

    def set(self, meeting_id: Any, user_id: Any, grants: Grants) -> None:
        """Record the grants of a user in a meeting."""
        key = (str(meeting_id), user_id)
        self._entries[key] = grants
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def get(self, meeting_id: Any, user_id: Any) -> Grants | None:
        """The changed grants of a user in a meeting, if any."""
        return self._entries.get((str(meeting_id), user_id))

    def clear_meeting(self, meeting_id: Any) -> None:
        """Forget every change of a meeting (it ended)."""
        meeting = str(meeting_id)
        for key in [k for k in self._entries if k[0] == meeting]:
            del self._entries[key]

    def __len__(self) -> int:
        return len(self._entries)


grant_store = GrantStore()
"""The process's changed grants."""


def connection_grants(conn: Connection) -> Grants | None:
    """The grants a connection acts with now; None for an unrestricted signed-in user."""
    user_id = getattr(getattr(conn, "user", None), "pk", None)
    changed = grant_store.get(conn.meeting_id, user_id)
    if changed is not None:
        return changed
    join_grant = getattr(conn, "join_grant", None)
    return join_grant.grants if join_grant is not None else None


# --- the checks a route names -------------------------------------------------------------

Check = Callable[[Connection, Grants, Any], str | None]
"""Given the connection, its grants and the *validated* request: why the request is refused,
or None when it is allowed. Each route of `rtc.signaling.routes` names one."""


def allowed(conn: Connection, grants: Grants, request: Any) -> str | None:
    """Any peer may."""
    return None


def subscribe(conn: Connection, grants: Grants, request: Any) -> str | None:
    """Needs the ``subscribe`` grant."""
    return None if grants.subscribe else "you may not receive tracks in this call"


def host(conn: Connection, grants: Grants, request: Any) -> str | None:
    """Needs the ``host`` grant."""
    return None if grants.host else "only a host may do this"


def record(conn: Connection, grants: Grants, request: Any) -> str | None:
    """Needs the ``record`` (or ``host``) grant."""
    return None if grants.record or grants.host else "you may not record this call"


def _publish_any(grants: Grants) -> str | None:
    if grants.hidden:
        return "hidden peers cannot publish"
    return None if grants.publish else "you may not publish in this call"


def create_transport(conn: Connection, grants: Grants, request: Any) -> str | None:
    """send: may publish something; recv: ``subscribe``."""
    if request.direction == "send":
        return _publish_any(grants)
    return subscribe(conn, grants, request)


def _source_refusal(grants: Grants, source: Any) -> str | None:
    refusal = _publish_any(grants)
    if refusal is not None or grants.may_publish(source):
        return refusal
    if not isinstance(source, str) or source not in SOURCE_GRANT:
        return "appData.source must name an allowed source"
    return f"you may not publish {source}"


def produce(conn: Connection, grants: Grants, request: Any) -> str | None:
    """Needs the publish grant of its ``appData.source``."""
    return _source_refusal(grants, request.app_data.get("source"))


def resume_producer(conn: Connection, grants: Grants, request: Any) -> str | None:
    """Unmuting needs the publish grant of the producer's source (muting oneself is always
    allowed: ``rtc:pauseProducer`` is `allowed`)."""
    from rtc.services import get_room_service

    try:
        _, peer = get_room_service().peer_of(conn.channel_name)
    except SignalingError:
        return None  # not in the call: the handler answers
    producer = peer.producers.get(request.producer_id)
    if producer is None:
        return None  # not this peer's: the handler answers not_found/forbidden
    return _source_refusal(grants, (producer.app_data or {}).get("source"))


def chat(conn: Connection, grants: Grants, request: Any) -> str | None:
    """Needs the ``chat`` grant (chat, hands, reactions); never for hidden peers."""
    if grants.hidden:
        return "hidden peers cannot take part in the chat"
    return None if grants.chat else "you may not chat in this call"


def whiteboard(conn: Connection, grants: Grants, request: Any) -> str | None:
    """Needs the ``whiteboard`` grant; never for hidden peers."""
    if grants.hidden:
        return "hidden peers cannot draw"
    return None if grants.whiteboard else "you may not draw on the whiteboard in this call"


def check(conn: Connection, name: str, rule: Check, request: Any) -> None:
    """Refuse request ``name`` with ``forbidden`` when ``conn``'s grants fail ``rule``; a
    signed-in user without a join token is unrestricted (the meeting's roles decide)."""
    grants = connection_grants(conn)
    if grants is None:
        return
    refusal = rule(conn, grants, request)
    if refusal is not None:
        logger.info("meeting=%s user=%s %s refused by grants: %s", conn.meeting_id,
                    getattr(conn.user, "pk", None), name, refusal)
        raise SignalingError(ErrorCode.FORBIDDEN, refusal)
