"""The lobby: who waits to enter a meeting whose access is "lobby", and the host's answers.

Under that policy the host and invited participants enter as usual; a signed-in person who is
not invited, or a guest holding a join token (an integration's join link) without the host
grant, waits. Waiting is a `LobbyEntry` row: the host's call page lists the waiting entries,
admits (an uninvited user becomes an invited participant, so later visits need no new
admission; a token guest's entry stays "admitted") or denies (the person is told and cannot
knock again in this meeting). Synchronous services; the socket side is `rtc.websocket.lobby`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from collab.access import require_host
from collab.models import LobbyEntry
from conference.errors import ApplicationError, ErrorCode
from meetings import selectors as meeting_selectors
from meetings.models import Meeting, Participant

__all__ = [
    "LobbyVerdict",
    "entry_payload",
    "lobby_decide",
    "lobby_enter",
    "lobby_leave",
    "lobby_status",
    "lobby_verdict",
    "lobby_waiting",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LobbyVerdict:
    """What the lobby says about one connection."""

    wait: bool = False
    """It must wait for the host."""
    denied: bool = False
    """The host already turned this person away from this meeting."""
    entry: LobbyEntry | None = None
    """The waiting entry, once recorded (`lobby_enter`)."""


def entry_payload(entry: LobbyEntry) -> dict[str, Any]:
    """A waiting person as the host's page shows it."""
    return {"userId": entry.user_id, "displayName": entry.display_name,
            "since": entry.requested_at.isoformat()}


def _is_host(meeting: Meeting, user: Any, participant: Participant | None) -> bool:
    return meeting_selectors.user_is_host(meeting=meeting, user=user) or (
        participant is not None and participant.role == Participant.Role.HOST)


def lobby_verdict(*, meeting: Meeting, user: Any, token_guest: bool,
                  token_host: bool) -> LobbyVerdict:
    """Whether a connection of ``user`` must wait (``token_guest``: it came with a join token;
    ``token_host``: that token grants host). Costs no query unless the meeting's access is
    "lobby"."""
    if meeting.access != Meeting.Access.LOBBY or token_host:
        return LobbyVerdict()
    if meeting.status == Meeting.Status.ENDED:
        return LobbyVerdict()  # the join refuses it with its own reason
    participant = meeting_selectors.participant_get(meeting=meeting, user=user)
    if _is_host(meeting, user, participant):
        return LobbyVerdict()
    entry = LobbyEntry.objects.filter(meeting=meeting, user=user).first()
    if entry is not None and entry.status == LobbyEntry.Status.DENIED:
        return LobbyVerdict(wait=True, denied=True)
    if entry is not None and entry.status == LobbyEntry.Status.ADMITTED:
        return LobbyVerdict()
    if participant is not None and not token_guest:
        return LobbyVerdict()  # invited (or admitted before)
    return LobbyVerdict(wait=True)


@transaction.atomic
def lobby_enter(*, meeting_id: Any, user: AbstractBaseUser, display_name: str) -> LobbyEntry:
    """Record that one more connection of ``user`` waits now (a first one, another tab, or
    again after leaving the lobby). ``waiting_sockets`` of the entry returned is 1 for the
    first: only that one knocks."""
    entry, created = LobbyEntry.objects.select_for_update().get_or_create(
        meeting_id=meeting_id, user=user,
        defaults={"display_name": display_name[:64], "requested_at": timezone.now(),
                  "waiting_sockets": 1})
    if not created and entry.status == LobbyEntry.Status.WAITING:
        entry.display_name = display_name[:64]
        entry.waiting_sockets += 1
        entry.save(update_fields=["display_name", "waiting_sockets"])
    logger.info("meeting=%s user=%s waits in the lobby (%s connections)", meeting_id, user.pk,
                entry.waiting_sockets)
    return entry


@transaction.atomic
def lobby_leave(*, meeting_id: Any, user_id: Any) -> bool:
    """One waiting connection of the person closed; True when it was the last one (the
    entry is gone: the person stopped waiting). Another tab still waiting keeps the entry,
    so the host can still admit it."""
    entry = (LobbyEntry.objects.select_for_update()
             .filter(meeting_id=meeting_id, user_id=user_id, status=LobbyEntry.Status.WAITING)
             .first())
    if entry is None:
        return False
    if entry.waiting_sockets > 1:
        entry.waiting_sockets -= 1
        entry.save(update_fields=["waiting_sockets"])
        return False
    entry.delete()
    return True


def lobby_status(*, meeting_id: Any, user_id: Any) -> str | None:
    """The status of the person's entry now (None: there is none)."""
    return (LobbyEntry.objects.filter(meeting_id=meeting_id, user_id=user_id)
            .values_list("status", flat=True).first())


def lobby_waiting(*, meeting_id: Any) -> list[dict[str, Any]]:
    """The people waiting now, first come first."""
    entries = LobbyEntry.objects.filter(meeting_id=meeting_id, status=LobbyEntry.Status.WAITING)
    return [entry_payload(entry) for entry in entries.order_by("requested_at", "id")]


@transaction.atomic
def lobby_decide(*, meeting_id: Any, user_id: int, admit: bool, actor: AbstractBaseUser,
                 host_by_grant: bool | None = None) -> LobbyEntry:
    """The host admits or denies a waiting person (``host_by_grant``: see `collab.access`).
    Admitting an uninvited user invites them."""
    meeting = Meeting.objects.select_for_update().filter(pk=meeting_id).first()
    if meeting is None:
        raise ApplicationError("Meeting not found.", code=ErrorCode.NOT_FOUND)
    require_host(meeting=meeting, user=actor, host_by_grant=host_by_grant,
                 action="admit people")
    entry = (LobbyEntry.objects.select_for_update()
             .filter(meeting=meeting, user_id=user_id, status=LobbyEntry.Status.WAITING).first())
    if entry is None:
        raise ApplicationError("Nobody with that id is waiting.", code=ErrorCode.NOT_FOUND)
    now = timezone.now()
    entry.status = LobbyEntry.Status.ADMITTED if admit else LobbyEntry.Status.DENIED
    entry.decided_at, entry.decided_by = now, actor
    entry.save(update_fields=["status", "decided_at", "decided_by"])
    if admit:
        Participant.objects.get_or_create(
            meeting=meeting, user_id=user_id,
            defaults={"role": Participant.Role.MEMBER, "invited_at": now})
    logger.info("meeting=%s user=%s %s user=%s from the lobby", meeting_id, actor.pk,
                "admitted" if admit else "denied", user_id)
    return entry
