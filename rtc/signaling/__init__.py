"""rtc:* signaling: request schemas, error codes, and the handlers the meeting consumer calls.

``rtc.apps`` imports this package at start-up (``autodiscover_modules("signaling")``).
"""
