"""Django app config for recordings."""

from __future__ import annotations

from django.apps import AppConfig


class RecordingsConfig(AppConfig):
    """Hooks the app into the call layer when Django starts.

    The live recorder tells :func:`recordings.live.session_stopped` when a session ended (the
    outcome is stored, the file composed), and the server's start-up runs
    :func:`recordings.processing.on_server_start` (finish what a previous process left in
    ``processing``, then enforce retention every hour). In a cluster the other nodes start
    and stop recordings here through the operations ``recordings.start`` / ``recordings.stop``
    (registered by ``recordings.live``), and the recordings of nodes that die are handled
    (:func:`recordings.processing.nodes_lost`); a call moved off a drained node is recorded
    again by its next owner (`recordings.handover`).
    """

    name = "recordings"
    verbose_name = "Recordings"

    def ready(self) -> None:
        """Register the stop listener and the start-up hook."""
        from recordings import handover, live, processing
        from rtc import cluster, signals
        from rtc.lifecycle import startup
        from rtc.recording.manager import recorder

        recorder.on_stopped(live.session_stopped)
        cluster.on_nodes_gone(processing.nodes_lost)
        signals.track_published.connect(handover.track_published,
                                        dispatch_uid="recordings.handover.track_published")
        signals.room_closed.connect(handover.room_closed,
                                    dispatch_uid="recordings.handover.room_closed")
        startup.on_start(processing.on_server_start)
