"""Signals of meeting lifecycle changes, for other apps (e.g. integrations' webhooks).

Sent by `meetings.services` inside the transaction making the change, so a receiver that
writes (an outbox row) commits or rolls back with it; receivers that talk to the outside
world must wait for `transaction.on_commit`. Keyword arguments: `meeting` (a Meeting), and
`participant` (a Participant, with `user` loaded) for the participant signals.
"""

from __future__ import annotations

from django.dispatch import Signal

__all__ = ["attendance_writing", "meeting_ended", "meeting_started", "participant_joined",
           "participant_left"]

meeting_started = Signal()
"""The first participant joined a scheduled meeting: it is live now."""
meeting_ended = Signal()
"""The meeting ended (or was deleted) for everyone."""
participant_joined = Signal()
"""A participant's connection to the meeting was recorded as present."""
participant_left = Signal()
"""A present participant was recorded as gone."""
attendance_writing = Signal()
"""A batch of joins (`meetings.joins`) or of leaves (`meetings.leaves`) is about to send its
``meeting_started``, ``participant_joined`` or ``participant_left`` signals; keyword
``meeting_ids``, each meeting once. A receiver that looks something up per meeting for those
signals can look it up for all of them at once."""
