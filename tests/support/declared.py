"""Declaring a test's own socket messages for the outgoing check (`rtc.signaling.outgoing`).

Tests that push made-up events (``meeting.note``) or register made-up handlers (``test:echo``)
declare them for their duration, as the server declares its own, so the check stays on for
everything else they send.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import create_model

from rtc.signaling.events import EVENTS, Event
from rtc.signaling.payloads import Payload
from rtc.signaling.replies import BUILTIN_REPLIES

__all__ = ["declare_event", "declare_reply"]


def _model(name: str, fields: dict[str, Any]) -> type[Payload]:
    return create_model(name, __base__=Payload,  # type: ignore[call-overload, no-any-return]
                        **{key: (kind, ...) for key, kind in fields.items()})


def declare_event(monkeypatch: pytest.MonkeyPatch, name: str, **fields: Any) -> None:
    """Declare event ``name`` whose data has exactly ``fields`` (wire name → type)."""
    monkeypatch.setitem(EVENTS, name, Event(name, "a test", "", _model("TestEvent", fields)))


def declare_reply(monkeypatch: pytest.MonkeyPatch, request_type: str, **fields: Any) -> None:
    """Declare the reply data of a test's own request ``request_type``."""
    monkeypatch.setitem(BUILTIN_REPLIES, request_type, _model("TestReply", fields))
