"""A recording that goes on when its node is drained: the call's next owner records it again.

A node that drains (SIGTERM) stops its recordings first (``node_draining``: their files are
finished and composed when it starts again), then hands its calls over. So that the call is
not left unrecorded after the move, :func:`leave_note` writes, for each such recording, a note
in Redis (``<cluster prefix>recording-resume:<meeting>``, for ``NOTE_SECONDS``) with who
started it. The node that takes the call looks for the note when the call's first track is
published there (:func:`track_published`, once per call) and, finding it (read and deleted in
one step, so one node acts), starts a new recording of the call that says which one it
continues (``details["continues"]``). The meeting then has two recordings, before and after
the move, each with its own file; everyone is told as for any start.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from channels.db import database_sync_to_async

from conference.errors import ApplicationError
from recordings.models import Recording
from rtc import cluster
from rtc.recording.manager import recorder
from rtc.recording.tasks import detached_task

__all__ = ["NOTE_SECONDS", "leave_note", "room_closed", "track_published"]

logger = logging.getLogger(__name__)

NOTE_SECONDS = 120
"""How long the next owner may take to get the call (its peers rejoin within seconds)."""
_checked: set[str] = set()
"""Meetings whose call this node has looked for a note for (until the call ends here)."""
_tasks: set[Any] = set()


def _key(node: Any, meeting_id: str) -> str:
    return f"{node.store.prefix}recording-resume:{meeting_id}"


def _starter(recording: Recording) -> tuple[Any, str]:
    user = recording.started_by
    if user is None:
        return None, ""
    from recordings.api import display_name_of

    return user.pk, display_name_of(user)


async def leave_note(recording: Recording) -> None:
    """The recording stopped because this node drains: ask the call's next owner to record
    the call again (nothing without a cluster; a failure is logged)."""
    node = cluster.local_node()
    if node is None:
        return
    started_by_id, started_by_name = await database_sync_to_async(_starter)(recording)
    note = {"previous": str(recording.pk), "started_by_id": started_by_id,
            "started_by_name": started_by_name}
    try:
        await node.store.redis.set(_key(node, str(recording.meeting_id)), json.dumps(note),
                                   ex=NOTE_SECONDS)
    except Exception:
        logger.exception("recording handover note not written [recording:%s]", recording.pk)
        return
    logger.info("recording handed over [recording:%s, meeting:%s, node:%s]", recording.pk,
                recording.meeting_id, node.id)


def track_published(sender: Any, meeting_id: str, **kwargs: Any) -> None:
    """``rtc.signals.track_published``: the first track of a call here looks for a note."""
    node = cluster.local_node()
    if node is None or meeting_id in _checked or recorder.active(meeting_id) is not None:
        return
    _checked.add(meeting_id)
    task = detached_task(_resume(node, meeting_id))
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


def room_closed(sender: Any, meeting_id: str, **kwargs: Any) -> None:
    """``rtc.signals.room_closed``: a later call of the meeting here looks again."""
    _checked.discard(meeting_id)


async def _resume(node: Any, meeting_id: str) -> None:
    from recordings import live

    try:
        raw = await node.store.redis.getdel(_key(node, meeting_id))
    except Exception:
        logger.exception("recording handover note not read [meeting:%s]", meeting_id)
        return
    if raw is None:
        return
    note = json.loads(raw)
    try:
        recording = await live.start_here(
            meeting_id=meeting_id, started_by_id=note.get("started_by_id"),
            started_by_name=str(note.get("started_by_name") or ""),
            continues=str(note.get("previous") or ""))
    except ApplicationError as error:
        logger.warning("recording not continued [meeting:%s, previous:%s]: %s", meeting_id,
                       note.get("previous"), error.message)
        return
    logger.info("recording continued [recording:%s, previous:%s, meeting:%s, node:%s]",
                recording.pk, note.get("previous"), meeting_id, node.id)
