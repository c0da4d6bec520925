"""What a peer may do in a call (grants), and the one check every rtc:* request passes.

A connection authenticated by an integration's join token carries the token's grants
(`conn.join_grant.grants`); a signed-in Django user carries none, which means "unrestricted:
the meeting's roles decide" (RoomService still checks the host role). Grants changed while a
peer is connected (the live-room API) are kept in :data:`grant_store` and win over the token,
also when the peer reconnects with the same token.

:func:`enforce_grants` is registered as a guard of the meeting socket's registry and runs
before every handler: one table, :data:`REQUIREMENTS`, maps each rtc:* request type to the
check it needs. A type missing from the table is refused to restricted peers (fail closed).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rtc.protocol import Connection, Request
from rtc.signaling.errors import ErrorCode, SignalingError

__all__ = [
    "PUBLISH_SOURCES",
    "REQUIREMENTS",
    "SOURCE_GRANT",
    "GrantStore",
    "Grants",
    "connection_grants",
    "enforce_grants",
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

    @property
    def publishes(self) -> bool:
        """Whether it may publish anything at all."""
        return bool(self.publish) and not self.hidden


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


# --- the table -------------------------------------------------------------------------------

Check = Callable[[Connection, Grants, dict[str, Any]], str | None]
"""Returns why the request is refused, or None when it is allowed."""


def _allowed(conn: Connection, grants: Grants, data: dict[str, Any]) -> str | None:
    return None


def _subscribe(conn: Connection, grants: Grants, data: dict[str, Any]) -> str | None:
    return None if grants.subscribe else "you may not receive tracks in this call"


def _host(conn: Connection, grants: Grants, data: dict[str, Any]) -> str | None:
    return None if grants.host else "only a host may do this"


def _record(conn: Connection, grants: Grants, data: dict[str, Any]) -> str | None:
    return None if grants.record or grants.host else "you may not record this call"


def _publish_any(grants: Grants) -> str | None:
    if grants.hidden:
        return "hidden peers cannot publish"
    return None if grants.publish else "you may not publish in this call"


def _create_transport(conn: Connection, grants: Grants, data: dict[str, Any]) -> str | None:
    direction = data.get("direction")
    if direction == "send":
        return _publish_any(grants)
    if direction == "recv":
        return _subscribe(conn, grants, data)
    return None  # malformed: the schema answers `invalid`


def _source_refusal(grants: Grants, source: Any) -> str | None:
    refusal = _publish_any(grants)
    if refusal is not None or grants.may_publish(source):
        return refusal
    if not isinstance(source, str) or source not in SOURCE_GRANT:
        return "appData.source must name an allowed source"
    return f"you may not publish {source}"


def _produce(conn: Connection, grants: Grants, data: dict[str, Any]) -> str | None:
    app_data = data.get("appData")
    source = app_data.get("source") if isinstance(app_data, dict) else None
    return _source_refusal(grants, source)


def _resume_producer(conn: Connection, grants: Grants, data: dict[str, Any]) -> str | None:
    from rtc.services import get_room_service

    try:
        _, peer = get_room_service().peer_of(conn.channel_name)
    except SignalingError:
        return None  # not in the call: the handler answers
    producer = peer.producers.get(data.get("producerId")) if isinstance(
        data.get("producerId"), str) else None
    if producer is None:
        return None  # not this peer's: the handler answers not_found/forbidden
    return _source_refusal(grants, (producer.app_data or {}).get("source"))


def _chat(conn: Connection, grants: Grants, data: dict[str, Any]) -> str | None:
    if grants.hidden:
        return "hidden peers cannot take part in the chat"
    return None if grants.chat else "you may not chat in this call"


def _whiteboard(conn: Connection, grants: Grants, data: dict[str, Any]) -> str | None:
    if grants.hidden:
        return "hidden peers cannot draw"
    return None if grants.whiteboard else "you may not draw on the whiteboard in this call"


REQUIREMENTS: dict[str, Check] = {
    "rtc:join": _allowed,  # hidden and host take effect in RoomService.join
    "rtc:leave": _allowed,
    "rtc:createTransport": _create_transport,  # send: publish something; recv: subscribe
    "rtc:connectTransport": _allowed,
    "rtc:restartIce": _allowed,
    "rtc:closeTransport": _allowed,
    "rtc:produce": _produce,  # publish with appData.source
    "rtc:pauseProducer": _allowed,  # muting oneself is always allowed
    "rtc:resumeProducer": _resume_producer,  # unmuting needs the source's publish grant
    "rtc:closeProducer": _allowed,
    "rtc:consume": _subscribe,
    "rtc:resumeConsumer": _subscribe,
    "rtc:pauseConsumer": _allowed,
    "rtc:closeConsumer": _allowed,
    "rtc:setPreferredLayers": _subscribe,
    "rtc:getStats": _allowed,  # of the peer's own objects only
    "rtc:hostMuteProducer": _host,
    "rtc:hostRemovePeer": _host,
    "rtc:serverStats": _allowed,  # staff only, checked by its handler
    "rtc:startRecording": _record,
    "rtc:stopRecording": _record,
    # In-call collaboration (collab/): reading is always allowed, writing needs the grant.
    "chat:send": _chat,
    "chat:history": _allowed,
    "chat:delete": _host,
    "hand:raise": _chat,
    "hand:lower": _allowed,  # one's own hand; another's needs the host role (its handler)
    "hand:list": _allowed,
    "reaction:send": _chat,
    "whiteboard:draw": _whiteboard,
    "whiteboard:erase": _whiteboard,
    "whiteboard:pointer": _whiteboard,
    "whiteboard:clear": _host,
    "whiteboard:state": _allowed,
    "lobby:list": _host,
    "lobby:admit": _host,
    "lobby:deny": _host,
}
"""Every guarded request type (rtc:* and the collaboration namespaces) → the grant check it
needs."""

GUARDED_PREFIXES = ("rtc:", "chat:", "hand:", "reaction:", "whiteboard:", "lobby:")
"""Request namespaces the guard covers; an unlisted type in them is refused to restricted
peers."""


def _unlisted(conn: Connection, grants: Grants, data: dict[str, Any]) -> str | None:
    return "this request is not allowed with a join token"


async def enforce_grants(conn: Connection, request: Request) -> None:
    """Guard: refuse a guarded request its grants do not allow, with code ``forbidden``."""
    if not request.type.startswith(GUARDED_PREFIXES):
        return
    grants = connection_grants(conn)
    if grants is None:
        return
    check = REQUIREMENTS.get(request.type, _unlisted)
    refusal = check(conn, grants, request.data)
    if refusal is not None:
        logger.info("meeting=%s user=%s %s refused by grants: %s", conn.meeting_id,
                    getattr(conn.user, "pk", None), request.type, refusal)
        raise SignalingError(ErrorCode.FORBIDDEN, refusal)


def unlisted_types(types: Iterable[str]) -> list[str]:
    """Registered guarded types the table does not name (a test keeps this empty)."""
    return sorted(t for t in types if t.startswith(GUARDED_PREFIXES) and t not in REQUIREMENTS)
