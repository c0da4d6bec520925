"""rtc:* signaling: the route table (`routes`), the request models (`schemas`), the reply and
event models (`replies`, `events`, `payloads`), the outgoing check (`outgoing`), the documents
generated from them (`documents`), and the handlers the meeting consumer calls.

``rtc.apps`` imports this package at start-up (``autodiscover_modules("signaling")``), which
registers the handlers of :mod:`rtc.signaling.handlers` with ``rtc.websocket.envelope.registry``.
"""

from rtc.signaling import handlers  # noqa: F401  (registers the rtc:* handlers)
