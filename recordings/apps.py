"""Django app config for recordings."""

from __future__ import annotations

from django.apps import AppConfig


class RecordingsConfig(AppConfig):
    """Hooks the app into the call layer when Django starts.

    The live recorder tells :func:`recordings.live.session_stopped` when a session ended (the
    outcome is stored, the file composed), and the server's start-up runs
    :func:`recordings.processing.on_server_start` (finish what a previous process left in
    ``processing``, then enforce retention every hour). In a cluster, the other nodes may
    start and stop recordings here, and recordings of nodes that die are handled
    (:func:`recordings.live.register_cluster_calls`).
    """

    name = "recordings"
    verbose_name = "Recordings"

    def ready(self) -> None:
        """Register the stop listener and the start-up hook."""
        from recordings import live, processing
        from rtc import startup
        from rtc.recording.manager import recorder

        recorder.on_stopped(live.session_stopped)
        live.register_cluster_calls()
        startup.on_start(processing.on_server_start)
