"""Django settings of the canned server of ``bench/stack_floor.py``: no database, no apps.

Only what Channels needs to run a consumer: the project's in-memory channel layer (the one
``conference.settings`` configures without Redis, at its default capacity), no database, no
middleware, no installed apps beyond Channels itself.
"""

from __future__ import annotations

SECRET_KEY = "bench-stack-floor-key-not-a-secret-0123456789abcdefghijklmnopqrstu"  # noqa: S105
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["channels"]
DATABASES: dict[str, dict[str, str]] = {}
USE_TZ = True
ASGI_APPLICATION = "bench.stack_floor_app.application"
CHANNEL_LAYERS = {"default": {"BACKEND": "conference.channel_layers.InMemoryChannelLayer",
                              "CONFIG": {"capacity": 1000}}}
LOGGING = {"version": 1, "disable_existing_loggers": False,
           "root": {"level": "WARNING", "handlers": []}}
