"""The canned meeting server of ``bench/stack_floor.py``, as ASGI applications for daphne.

It answers the requests of ``bench/signaling.py``'s peers with canned replies of the sizes the
project's replies have, and sends the same events (``bench.stack_floor`` has the counts), with
no database, no mediasoup, no authentication (``?token=`` is ignored) and none of the
project's logic: what is left is the cost of the stack itself. Its only state is, per meeting,
the producer ids announced so far (a late joiner's reply lists them, as the project's does)
and whether its one ``meeting.updated`` and ``rtc:activeSpeaker`` went out.

* :data:`application`: Channels, as production runs it: an ``AsyncJsonWebsocketConsumer``
  behind ``URLRouter``, group events through the channel layer's ``group_send`` (the project's
  in-memory layer, ``bench.stack_floor_settings``) to a ``meeting.event`` handler on every
  member socket, which drops the ones excluding it, as ``rtc.websocket.consumer`` does; with
  the project's changes to the stack unless ``STACK_FLOOR_STOCK=1``: its four patches
  (``conference.asgi``) and its consumer's dispatch without Channels' per-message
  ``close_old_connections`` (a hop to the database thread for every message); with
  ``STACK_FLOOR_STOCK=dispatch`` the patches but Channels' own dispatch.
* :data:`raw_application`: no Channels: one ASGI coroutine per socket, group events handed
  straight to the other sockets' ASGI ``send`` of the same process. What it costs is daphne,
  Twisted and autobahn alone.

Both serve ``/ws/meetings/<id>/`` (the set-up) and ``/ws/handshake/`` (accept, nothing else).
"""

from __future__ import annotations

import gc
import itertools
import json
import os
from collections.abc import Awaitable, Callable
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.stack_floor_settings")

import django  # noqa: E402

django.setup()

from channels.consumer import get_handler_name  # noqa: E402
from channels.generic.websocket import (  # noqa: E402
    AsyncJsonWebsocketConsumer,
    AsyncWebsocketConsumer,
)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from conference import twisted_write  # noqa: E402  (installed below unless STOCK is 1)
from rtc.websocket import frame_json  # noqa: E402

__all__ = ["REPLY_SIZES", "EVENT_SIZES", "STATE_SIZE", "application", "raw_application"]

# Bytes on the wire of each frame the project's daphne sends one peer in a 200-peer burst of
# bench/signaling.py (10 a meeting), means measured by ``bench.stack_floor --wire``.
STATE_SIZE = 1304
"""``meeting.state`` (510-2115 bytes: it lists the meeting's sockets so far)."""
REPLY_SIZES = {"rtc:join": 6056, "rtc:createTransport": 1438, "rtc:connectTransport": 73,
               "rtc:produce": 109, "rtc:consume": 1184, "rtc:resumeConsumer": 124}
"""A reply's size by request type (with a request id of 11 characters, as ``bench57-123``)."""
EVENT_SIZES = {"rtc:peerJoined": 131, "rtc:newProducer": 205, "meeting.participantJoined": 222,
               "meeting.updated": 306, "rtc:activeSpeaker": 89}
_RID = 11
CAPABILITIES_SIZE = 5245
"""The router's RTP capabilities as JSON: rtc:consume (5375 bytes) is mostly them."""
_ids = itertools.count(1)


def _padded(fields: dict[str, Any], size: int, overhead: int = 0) -> str:
    """``fields`` as JSON with a ``pad`` string making it ``size - overhead`` bytes long."""
    base = json.dumps({**fields, "pad": ""})
    return json.dumps({**fields, "pad": "x" * max(0, size - overhead - len(base))})


def _event(event: str, fields: dict[str, Any] | None = None) -> str:
    """A group event's frame of the measured size."""
    envelope = len(json.dumps({"type": event, "data": None})) - len("null")
    data = _padded(fields or {}, EVENT_SIZES[event], envelope)
    return f'{{"type": {json.dumps(event)}, "data": {data}}}'


STATE = json.dumps({"type": "meeting.state",
                    "data": json.loads(_padded({}, STATE_SIZE, len('{"type": "meeting.state", '
                                                                   '"data": }')))})
EVENTS = {event: _event(event) for event in EVENT_SIZES}
_REPLY_OVERHEAD = len('{"requestId": "", "data": }') + _RID


CAPABILITIES = {"pad": "x" * (CAPABILITIES_SIZE - len('{"pad": ""}'))}
"""The join reply's ``routerRtpCapabilities``: the client sends them back in ``rtc:consume``."""


def _id() -> str:
    """A fresh id as long as the project's (a UUID's 36 characters)."""
    return f"00000000-0000-4000-8000-{next(_ids):012d}"


class Meeting:
    """What a meeting remembers: its joins and announced producers (a socket that opens later
    gets their events on connect, so every peer gets the same frames whatever the timing),
    and which once-only events went out."""

    def __init__(self) -> None:
        self.joins = 0
        self.producers: list[str] = []
        self.updated = False
        self.speaker = False

    def catch_up(self) -> list[str]:
        """The group events sent before a socket opened, for that socket."""
        return ([EVENTS["rtc:peerJoined"], EVENTS["meeting.participantJoined"]] * self.joins
                + [EVENTS["meeting.updated"]] * self.updated
                + [_event("rtc:newProducer", {"producerId": p}) for p in self.producers]
                + [EVENTS["rtc:activeSpeaker"]] * self.speaker)


MEETINGS: dict[str, Meeting] = {}

Broadcast = tuple[str, bool]
"""A group event's frame, and whether its sender's socket gets it too."""


def answer(meeting_id: str, content: dict[str, Any]) -> tuple[str, list[Broadcast]]:
    """The reply frame to a request, and the group events it sends."""
    meeting = MEETINGS.setdefault(meeting_id, Meeting())
    kind = content.get("type", "")
    events: list[Broadcast] = []
    fields: dict[str, Any] = {}
    if kind == "rtc:join":
        meeting.joins += 1
        fields = {"peers": [{"producers": [{"id": p} for p in meeting.producers]}],
                  "routerRtpCapabilities": CAPABILITIES}
        events = [(EVENTS["rtc:peerJoined"], False),
                  (EVENTS["meeting.participantJoined"], False)]
        if not meeting.updated:
            meeting.updated = True
            events.append((EVENTS["meeting.updated"], True))
    elif kind in ("rtc:createTransport", "rtc:consume"):
        fields = {"id": _id()}
    elif kind == "rtc:produce":
        producer = _id()
        fields = {"id": producer}
        meeting.producers.append(producer)
        events = [(_event("rtc:newProducer", {"producerId": producer}), False)]
        if not meeting.speaker:
            meeting.speaker = True
            events.append((EVENTS["rtc:activeSpeaker"], True))
    body = _padded(fields, REPLY_SIZES.get(kind, 70), _REPLY_OVERHEAD)
    return f'{{"requestId": {json.dumps(content.get("requestId"))}, "data": {body}}}', events


STOCK = os.environ.get("STACK_FLOOR_STOCK", "0")
"""``1``: Channels as shipped, none of the project's changes to the stack (below);
``dispatch``: the four patches but Channels' own dispatch; ``0``: as production runs it."""


class _ProjectDispatch:
    """``rtc.websocket.consumer``'s dispatch: Channels' without its per-message
    ``close_old_connections`` (a trip to the database thread for every message)."""

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)


class _ChannelsDispatch:
    """Channels' own dispatch (nothing overridden)."""


_Dispatch: type = _ChannelsDispatch if STOCK in ("1", "dispatch") else _ProjectDispatch


class FloorConsumer(_Dispatch, AsyncJsonWebsocketConsumer):  # type: ignore[misc]
    """The set-up's frames through Channels: JSON requests in, canned replies and events out."""

    async def connect(self) -> None:
        self.meeting_id = self.scope["url_route"]["kwargs"]["meeting_id"]
        self.group_name = f"floor.{self.meeting_id}"
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        missed = MEETINGS.setdefault(self.meeting_id, Meeting()).catch_up()
        await self.accept()
        await self.send(text_data=STATE)
        for text in missed:
            await self.send(text_data=text)

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(self.group_name, self.channel_name)

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        """The frame read as the project reads it (`rtc.websocket.frame_json`, orjson)."""
        return frame_json.loads(text_data)

    async def receive_json(self, content: dict[str, Any], **kwargs: Any) -> None:
        reply, events = answer(self.meeting_id, content)
        with twisted_write.urgently():  # as the project sends its replies
            await self.send(text_data=reply)
        for text, to_self in events:
            await self.channel_layer.group_send(self.group_name, {
                "type": "meeting.event", "text": text,
                "exclude": None if to_self else self.channel_name})

    async def meeting_event(self, message: dict[str, Any]) -> None:
        if message.get("exclude") != self.channel_name:
            await self.send(text_data=message["text"])


class HandshakeConsumer(_Dispatch, AsyncWebsocketConsumer):  # type: ignore[misc]
    """Accept the socket; nothing else."""


if STOCK != "1":
    from conference import autobahn_logging, channels_dispatch, ws_send, ws_unmask

    autobahn_logging.install()
    channels_dispatch.install()
    twisted_write.install()
    ws_send.install()
    ws_unmask.install()

application = ProtocolTypeRouter({"websocket": URLRouter([
    path("ws/meetings/<str:meeting_id>/", FloorConsumer.as_asgi()),
    path("ws/handshake/", HandshakeConsumer.as_asgi()),
])})

Send = Callable[[dict[str, Any]], Awaitable[None]]
ROOMS: dict[str, dict[int, Send]] = {}


async def raw_application(scope: dict[str, Any], receive: Callable[[], Awaitable[Any]],
                          send: Send) -> None:
    """The same frames with no Channels: plain ASGI under daphne."""
    if scope["type"] != "websocket":
        return
    message = await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    parts = scope["path"].strip("/").split("/")
    if parts[:2] != ["ws", "meetings"]:
        while (await receive())["type"] != "websocket.disconnect":
            pass
        return
    meeting_id = parts[2]
    room = ROOMS.setdefault(meeting_id, {})
    me = id(send)
    room[me] = send
    missed = MEETINGS.setdefault(meeting_id, Meeting()).catch_up()
    await send({"type": "websocket.send", "text": STATE})
    for text in missed:
        await send({"type": "websocket.send", "text": text})
    try:
        while True:
            message = await receive()
            if message["type"] != "websocket.receive":
                break
            reply, events = answer(meeting_id, json.loads(message["text"]))
            await send({"type": "websocket.send", "text": reply})
            for text, to_self in events:
                frame = {"type": "websocket.send", "text": text}
                for key, member in list(room.items()):
                    if to_self or key != me:
                        await member(frame)
    finally:
        room.pop(me, None)


gc.collect()
gc.freeze()
