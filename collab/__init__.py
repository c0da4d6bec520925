"""In-call collaboration: chat, raised hands and reactions, a shared whiteboard, the lobby.

Each feature is a small module: ``chat`` (stored messages), ``hands`` (the raised-hand queue
and reactions, in memory like the call), ``whiteboard`` (a server-ordered operation log kept
in the database) with ``board_render`` (SVG/PNG export), and ``lobby`` (people waiting for
the host). Their meeting-socket requests are declared in ``signaling`` (found at start-up by
``rtc.apps``) the same way as the ``rtc:*`` ones, with their schemas in ``schemas`` and their
grants named by each route (``rtc.signaling.routes``).
"""
