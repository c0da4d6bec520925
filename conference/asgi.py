"""ASGI entry point: Django for HTTP, Channels for the meeting WebSocket, the lifespan.

WebSocket connections pass the origin check (against ALLOWED_HOSTS), then session
authentication (Channels', with a database outage turned into a clean refusal), then `?token=`
DRF token authentication, then the URL router.
"""

from __future__ import annotations

import gc
import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "conference.settings")
# Django must be set up before anything importing models is imported.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from conference import (  # noqa: E402
    autobahn_logging,
    channels_dispatch,
    listen_backlog,
    twisted_write,
    ws_send,
    ws_unmask,
)
from conference.db_threads import bind_calling_loop  # noqa: E402
from conference.lifespan import LifespanApp  # noqa: E402
from rtc.routing import websocket_urlpatterns  # noqa: E402
from rtc.websocket.auth import TokenAuthMiddleware, auth_stack  # noqa: E402

autobahn_logging.install()
channels_dispatch.install()
listen_backlog.install(settings.LISTEN_BACKLOG)
twisted_write.install()
ws_send.install()
ws_unmask.install()
http_app = ASGIStaticFilesHandler(django_asgi_app) if settings.SERVE_STATIC else django_asgi_app

router = ProtocolTypeRouter(
    {
        "http": http_app,
        "websocket": AllowedHostsOriginValidator(
            auth_stack(TokenAuthMiddleware(URLRouter(websocket_urlpatterns)))
        ),
        # Servers with the ASGI lifespan protocol start the worker pool and close calls
        # politely through it; daphne has none and gets the same from its reactor.
        "lifespan": LifespanApp(),
    }
)


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The ASGI application: each connection's sync work (views, database calls) knows the
    event loop serving it, so its database commits hand their broadcasts to that loop
    (``meetings.events``) instead of holding a database thread while they are delivered."""
    bind_calling_loop()
    await router(scope, receive, send)

# Everything imported and built so far lives as long as the process: move it out of the
# collector's reach, so that each full collection (which stalls every call of the process)
# walks only the objects of the calls themselves (bench/README.md, "scale curve").
gc.collect()
gc.freeze()
young, middle, _ = gc.get_threshold()
gc.set_threshold(young, middle, settings.GC_FULL_EVERY)

