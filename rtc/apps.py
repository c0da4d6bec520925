"""Django app config for the real-time layer."""

from __future__ import annotations

from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules


class RtcConfig(AppConfig):
    """Registers WebSocket message handlers at start-up.

    Every installed app's `signaling` module (e.g. `rtc/signaling.py`) is imported once, so
    handlers registered there with `rtc.websocket.envelope.registry.register(...)` are known to the
    meeting consumer without the consumer importing them.
    """

    name = "rtc"
    verbose_name = "Real-time"

    def ready(self) -> None:
        """Import the built-in handlers and every app's `signaling` module."""
        from rtc.lifecycle import shutdown, startup
        from rtc.operations import media_sampling  # noqa: F401  (registers its cluster operations)
        from rtc.websocket import builtin_requests  # noqa: F401  (registers built-in handlers)

        shutdown.install()  # under daphne; `manage.py runserver` installs at the first socket
        startup.install()  # under daphne: the worker pool starts with the server
        from rtc.policy.attendance import late_leaves

        startup.on_start(late_leaves.adopt)  # leaves a stopped process could not write

        autodiscover_modules("signaling")
