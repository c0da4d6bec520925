"""A meeting socket as the rtc:* tests drive it: requests with replies, the events pushed
meanwhile, and the call steps (join, transports, produce, consume) with the RTP and DTLS
parameters a browser would send. Shared by every test folder (the ``rtc_client`` fixture of
``tests/rtc/conftest.py`` makes them on Channels' in-process communicator)."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

from channels.testing import WebsocketCommunicator

__all__ = ["DTLS_PARAMETERS", "FINGERPRINT", "MID_EXTENSION", "TIMEOUT", "ClientFactory",
           "RtcClient", "audio_link", "join_both", "audio_parameters", "video_parameters"]

TIMEOUT = 10
FINGERPRINT = ":".join(["AB"] * 32)
DTLS_PARAMETERS = {"role": "client",
                   "fingerprints": [{"algorithm": "sha-256", "value": FINGERPRINT}]}
MID_EXTENSION = {"uri": "urn:ietf:params:rtp-hdrext:sdes:mid", "id": 1}
_ssrc = itertools.count(10_000_000, 10)


def audio_parameters() -> dict[str, Any]:
    """Opus RtpSendParameters as a browser would send them (a fresh SSRC each time)."""
    return {
        "mid": "0",
        "codecs": [{"mimeType": "audio/opus", "payloadType": 111, "clockRate": 48000,
                    "channels": 2, "parameters": {"useinbandfec": 1}, "rtcpFeedback": []}],
        "headerExtensions": [MID_EXTENSION],
        "encodings": [{"ssrc": next(_ssrc)}],
        "rtcp": {"cname": "test-cname"},
    }


def video_parameters() -> dict[str, Any]:
    """VP8 + RTX RtpSendParameters (a fresh SSRC pair each time)."""
    ssrc = next(_ssrc)
    return {
        "mid": "1",
        "codecs": [
            {"mimeType": "video/VP8", "payloadType": 96, "clockRate": 90000,
             "rtcpFeedback": [{"type": "nack"}, {"type": "nack", "parameter": "pli"},
                              {"type": "ccm", "parameter": "fir"}]},
            {"mimeType": "video/rtx", "payloadType": 97, "clockRate": 90000,
             "parameters": {"apt": 96}, "rtcpFeedback": []},
        ],
        "headerExtensions": [MID_EXTENSION],
        "encodings": [{"ssrc": ssrc, "rtx": {"ssrc": ssrc + 1}}],
        "rtcp": {"cname": "test-cname"},
    }



class RtcClient:
    """A connected meeting socket: requests with replies, and the events pushed meanwhile."""

    _ids = itertools.count(1)

    def __init__(self, communicator: WebsocketCommunicator, user: Any) -> None:
        self.ws = communicator
        self.user = user
        self.events: list[dict[str, Any]] = []
        self.joined: dict[str, Any] = {}
        self._replies: dict[str, dict[str, Any]] = {}
        """Replies read by one request while another one was reading the socket."""
        self._reading = asyncio.Lock()

    async def request(self, message_type: str, data: Any = None, **extra: Any) -> dict[str, Any]:
        """Send a request; return its whole reply (events that come first are kept)."""
        request_id = f"r{next(self._ids)}"
        message = {"type": message_type, "requestId": request_id, **extra}
        if data is not None:
            message["data"] = data
        await self.ws.send_json_to(message)
        return await self.reply_to(request_id)

    async def reply_to(self, request_id: str) -> dict[str, Any]:
        """The reply carrying ``request_id``. Safe when requests overlap (pymediasoup's
        ``connect`` handler runs while a ``produce`` waits): one request reads the socket at a
        time and keeps the others' replies for them."""
        while True:
            async with self._reading:
                if request_id in self._replies:
                    return self._replies.pop(request_id)
                message = await self.ws.receive_json_from(timeout=TIMEOUT)
            if message.get("requestId") == request_id:
                return message
            if "type" not in message and "requestId" in message:
                self._replies[message["requestId"]] = message
            else:
                self._keep(message)

    def _keep(self, message: dict[str, Any]) -> None:
        if "type" in message:
            self.events.append(message)

    async def ok(self, message_type: str, data: Any = None) -> dict[str, Any]:
        """Send a request that must succeed; return the reply's data."""
        reply = await self.request(message_type, data if data is not None else {})
        assert "error" not in reply, reply
        return reply["data"]

    async def fail(self, message_type: str, data: Any = None) -> str:
        """Send a request that must fail; return its error code."""
        reply = await self.request(message_type, data if data is not None else {})
        assert "error" in reply and "data" not in reply, reply
        assert isinstance(reply["error"], str) and reply["error"], reply
        assert "Traceback" not in reply["error"] and "/" not in reply["error"], reply
        return reply["code"]

    async def event(self, event_type: str, timeout: float = TIMEOUT,
                    **match: Any) -> dict[str, Any]:
        """The first event of ``event_type`` whose data has the ``match`` items."""

        def fits(message: dict[str, Any]) -> bool:
            data = message.get("data", {})
            return message.get("type") == event_type and all(
                data.get(k) == v for k, v in match.items())

        for index, message in enumerate(self.events):
            if fits(message):
                return self.events.pop(index)["data"]
        async with asyncio.timeout(timeout):
            while True:
                message = await self.ws.receive_json_from(timeout=timeout)
                if fits(message):
                    return message["data"]
                self._keep(message)

    async def drain(self, wait: float = 0.2) -> list[dict[str, Any]]:
        """Collect what arrives within ``wait`` seconds; return every kept event.

        Uses ``receive_nothing``: a receive that times out would cancel the application.
        """
        while not await self.ws.receive_nothing(timeout=wait):
            self._keep(await self.ws.receive_json_from(timeout=TIMEOUT))
        return self.events

    def saw(self, event_type: str) -> list[dict[str, Any]]:
        """Kept events of ``event_type`` (call ``drain`` first)."""
        return [m["data"] for m in self.events if m.get("type") == event_type]

    # -- call helpers -------------------------------------------------------------------------

    async def join(self, name: str = "Tester", **data: Any) -> dict[str, Any]:
        """``rtc:join`` that must succeed."""
        self.joined = await self.ok("rtc:join", {"displayName": name, **data})
        assert self.joined["type"] == "rtc:joined"
        return self.joined

    async def transport(self, direction: str, *, connect: bool = True) -> str:
        """A transport id (connected with dummy DTLS parameters unless ``connect`` is off)."""
        created = await self.ok("rtc:createTransport", {"direction": direction})
        if connect:
            await self.ok("rtc:connectTransport", {"transportId": created["id"],
                                                   "dtlsParameters": DTLS_PARAMETERS})
        return created["id"]

    async def produce(self, transport_id: str, kind: str = "audio", **app: Any) -> str:
        """A producer id."""
        parameters = audio_parameters() if kind == "audio" else video_parameters()
        source = "mic" if kind == "audio" else "webcam"
        reply = await self.ok("rtc:produce", {
            "transportId": transport_id, "kind": kind, "rtpParameters": parameters,
            "appData": {"source": source, **app}})
        return reply["id"]

    async def consume(self, transport_id: str, producer_id: str) -> dict[str, Any]:
        """The ``rtc:consumed`` data for ``producer_id`` (router capabilities as the device's)."""
        return await self.ok("rtc:consume", {
            "transportId": transport_id, "producerId": producer_id,
            "rtpCapabilities": self.joined["routerRtpCapabilities"]})


ClientFactory = Callable[..., Awaitable[RtcClient]]


async def join_both(make: ClientFactory, meeting: Any, host_user: Any,
                    member_user: Any) -> tuple[RtcClient, RtcClient]:
    """Sockets of the host (Hazel) and of a member (Milo) of ``meeting``, both joined to the
    call, the host first (the member's join reply is ``member.joined``)."""
    host = await make(meeting, host_user)
    member = await make(meeting, member_user)
    await host.join("Hazel")
    await member.join("Milo")
    return host, member


async def audio_link(sender: RtcClient, receiver: RtcClient) -> dict[str, str]:
    """``sender`` sends audio on a new send transport, ``receiver`` consumes it on a new
    receive transport (both joined already). Their ids: ``send``, ``producer``, ``recv``,
    ``consumer``."""
    send = await sender.transport("send")
    producer = await sender.produce(send, "audio")
    recv = await receiver.transport("recv")
    consumer = (await receiver.consume(recv, producer))["id"]
    return {"send": send, "producer": producer, "recv": recv, "consumer": consumer}
