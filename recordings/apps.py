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
    (:func:`recordings.processing.nodes_lost`).
    """

    name = "recordings"
    verbose_name = "Recordings"

    def ready(self) -> None:
        """Register the stop listener and the start-up hook."""
        from recordings import live, processing
        from rtc import cluster, startup
        from rtc.recording.manager import recorder

        recorder.on_stopped(live.session_stopped)
        cluster.on_nodes_gone(processing.nodes_lost)
        startup.on_start(processing.on_server_start)
