"""`rtc.websocket.consumer.MeetingConsumer` keeps only Channels' hooks and the connection's
protocol: the join flow, the lobby, frame decoding and request dispatch live in `rtc.websocket`, and
each socket's state in its session."""

from __future__ import annotations

import inspect

from rtc.websocket.consumer import MeetingConsumer

CHANNELS_HOOKS = {"__init__", "__call__", "dispatch", "connect", "close", "disconnect",
                  "websocket_disconnect", "receive", "receive_json"}
"""What Channels calls (``dispatch`` and ``websocket_disconnect`` kept without their
connection checks)."""
CONNECTION = {"send_event", "send_reply", "broadcast", "leave_and_close"}
"""What handlers, the shutdown and the session use of a connection."""
GROUP_MESSAGES = {"meeting_event", "lobby_decision", "channel_missed"}
"""The channel layer's messages to the socket."""
VIEWS = {"joined", "leaving", "flooded", "join_access", "lobby_host"}
"""Read-only views of the session's state (handlers and the relay read them)."""


def test_the_consumer_is_channels_hooks_delegating_to_the_socket_objects() -> None:
    """Every method or property the consumer defines itself is a Channels hook, part of the
    connection protocol, a group message handler or a read-only view of its session; no
    application mixin (the join flow and the lobby are `rtc.websocket` objects)."""
    own = {name for name, value in vars(MeetingConsumer).items()
           if inspect.isfunction(value) or isinstance(value, property)}
    assert own <= CHANNELS_HOOKS | CONNECTION | GROUP_MESSAGES | VIEWS, (
        own - CHANNELS_HOOKS - CONNECTION - GROUP_MESSAGES - VIEWS)
    assert all(not isinstance(getattr(MeetingConsumer, name), property)
               or getattr(MeetingConsumer, name).fset is None for name in VIEWS)
    bases = {cls.__module__.split(".")[0] for cls in MeetingConsumer.__mro__[1:]}
    assert bases <= {"channels", "builtins"}, "no mixin from the application"
