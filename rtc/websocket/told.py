"""What a meeting socket's client already holds from its snapshots (or will get in its join's
reply), so that an announcement of the same thing is not relayed to it as well.

A socket joins its meeting's group before its join is decided (so that it cannot miss what
happens after its snapshot), and the announcements go to the whole group. So whatever was
decided between the socket's group add and its snapshot reached it twice: listed in the
snapshot (``meeting.state``'s ``participants``; the ``rtc:joined`` reply's ``peers`` and
their ``producers``) and announced by the event queued for it meanwhile
(``meeting.participantJoined``, ``rtc:peerJoined``, ``rtc:newProducer``). When a meeting's
people arrive together (on the hour) that was half of every such announcement: in meetings of
ten each socket got nine of each kind where four or five were news (bench/README.md, call
set-up, "Session 18").

Two rules, each leaving out only what the client is sure to have:

* A socket that is not in the call (its ``rtc:join`` not answered yet, or it left) gets no
  ``rtc:peerJoined`` or ``rtc:newProducer``: its join's reply, decided after the announcement
  was relayed, lists that peer or producer if it is still there (the consumer serves its
  messages one at a time, so nothing is relayed between a join's decision and its reply).
* An announcement of what the socket's snapshot listed, the very same thing: a participant by
  its user *and the time of that join* (a leave and a new join is a new key), a call peer and
  a producer by their ids (never announced twice: a resumed peer is not announced again), and
  the first ``meeting.updated`` after a ``meeting.state`` when it is equal to the meeting that
  snapshot gave (the first join of a scheduled meeting starts it: every socket whose snapshot
  came after already shows it live). Any ``meeting.updated`` uses that up, so a later one
  that happens to restore the snapshot's values still goes out.

Anything else goes out as before; at worst a duplicate, which every client already takes. A
snapshot's keys replace those of the one before it of the same kind and are kept for
:data:`TOLD_SECONDS` (the announcements they match were queued before it), each matched key
is used once, and only a snapshot's last :data:`TOLD_MAX` entries are noted (its most recent
joins), so a socket of a large meeting holds a small set for a short while.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from meetings import events

__all__ = ["TOLD_MAX", "TOLD_SECONDS", "AlreadyTold"]

TOLD_SECONDS = 15.0
"""How long after a snapshot its keys are kept."""

TOLD_MAX = 256
"""A snapshot's last entries noted (participants; call peers, each with its producers)."""

_PEER_JOINED = "rtc:peerJoined"
_NEW_PRODUCER = "rtc:newProducer"


def _participant_key(data: Mapping[str, Any]) -> tuple[Any, Any]:
    return (data.get("userId"), data.get("joinedAt"))


class _Listed:
    """The keys of one kind of snapshot, replaced by its next one, forgotten after
    :data:`TOLD_SECONDS`."""

    __slots__ = ("keys", "until")

    def __init__(self) -> None:
        self.keys: set[Any] = set()
        self.until = 0.0

    def replace(self, keys: Iterable[Any]) -> None:
        self.keys = set(keys)
        self.until = time.monotonic() + TOLD_SECONDS

    def take(self, key: Any) -> bool:
        """Whether ``key`` was listed (and still counts); it is then used up."""
        keys = self.keys
        if not keys:
            return False
        if time.monotonic() > self.until:
            keys.clear()
            return False
        if key not in keys:
            return False
        keys.discard(key)
        return True


class AlreadyTold:
    """One socket's keys of what its latest snapshots listed (see the module docstring)."""

    __slots__ = ("_call", "_meeting", "_people", "in_call")

    def __init__(self) -> None:
        self._people = _Listed()
        """``meeting.state``'s participants: (user id, join time)."""
        self._meeting: Mapping[str, Any] | None = None
        """``meeting.state``'s meeting, until the first ``meeting.updated`` after it."""
        self._call = _Listed()
        """``rtc:joined``'s peers and producers: their ids."""
        self.in_call = False
        """Its ``rtc:join`` was answered (and no ``rtc:leave`` since)."""

    def __len__(self) -> int:
        return len(self._people.keys) + len(self._call.keys)

    def meeting_state(self, participants: Sequence[Mapping[str, Any]],
                      meeting: Mapping[str, Any] | None = None) -> None:
        """Note the participants and the meeting a ``meeting.state`` snapshot lists (instead
        of the last's)."""
        self._people.replace(_participant_key(p) for p in participants[-TOLD_MAX:])
        self._meeting = meeting

    def call_joined(self, reply: Mapping[str, Any]) -> None:
        """In the call: note the peers and producers its ``rtc:joined`` reply lists (instead
        of the last reply's)."""
        self.in_call = True
        keys: list[Any] = []
        for peer in list(reply.get("peers") or ())[-TOLD_MAX:]:
            keys.append(peer.get("peerId"))
            keys.extend(producer.get("id") for producer in peer.get("producers") or ())
        self._call.replace(keys)

    def call_left(self) -> None:
        """Out of the call (``rtc:leave`` answered): a new join's reply lists everything."""
        self.in_call = False

    def covers(self, event: str, data: Mapping[str, Any]) -> bool:
        """Whether ``event`` only announces what a snapshot gave (or, out of the call, its
        join's reply will give) this client; a snapshot's key is then used up."""
        if event == events.PARTICIPANT_JOINED:
            return self._people.take(_participant_key(data))
        if event == events.MEETING_UPDATED:
            listed, self._meeting = self._meeting, None
            return listed == data and time.monotonic() <= self._people.until
        if event == _PEER_JOINED:
            return not self.in_call or self._call.take(data.get("peerId"))
        if event == _NEW_PRODUCER:
            return not self.in_call or self._call.take(data.get("producerId"))
        return False
