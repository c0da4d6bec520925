"""A real network client of the call protocol: :class:`bots.peer.Bot` under its test name.

It does what a browser client does: joins, creates a send and a recv transport, publishes a
synthetic microphone (a tone) and camera (a moving pattern), consumes every producer of the
other peers, resumes them, counts the frames it decodes per remote peer and kind, and on
``rtc:reconnect`` resumes its peer and sets its media up again (see ``bots/peer.py``).
"""

from __future__ import annotations

from bots.peer import Bot as CallClient
from bots.signaling import SignalingError as CallError

__all__ = ["CallClient", "CallError"]
