"""A join reply's router capabilities are encoded once per router (`rtc.websocket.reply_text`),
and every frame's text stays exactly the encoder's (`rtc.websocket.frame_json`) of the message."""

from __future__ import annotations

from typing import Any

import pytest

from rtc.websocket import consumer as consumer_module
from rtc.websocket import frame_json
from rtc.websocket import reply_text as module
from rtc.websocket.reply_text import reply_text


def _joined(caps: dict[str, Any], name: str) -> dict[str, Any]:
    return {"requestId": name, "data": {
        "type": "rtc:joined", "peerId": "p-" + name, "resumeToken": "t", "role": "member",
        "routerRtpCapabilities": caps,
        "peers": [{"peerId": "q", "displayName": name}], "activeSpeaker": None,
        "resumed": False, "iceServers": [], "recording": {"active": False}}}


def test_the_text_is_the_encoders_and_the_capabilities_are_encoded_once(monkeypatch):
    """Join replies sharing one capabilities object encode it once, each reply's text equal
    to the encoder's text of it (unicode, a client's string that looks like a stand-in, a
    request id or none); other frames and capabilities that are not an object are encoded
    plainly; the cache stays bounded."""
    caps = {"codecs": [{"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000,
                        "parameters": {"useinbandfec": 1}, "rtcpFeedback": []}],
            "headerExtensions": [{"uri": "urn:x", "preferredId": 1, "preferredEncrypt": False}]}
    encoded: list[Any] = []
    real = frame_json.dumps

    def counting(obj: Any, *args: Any, **kwargs: Any) -> str:
        if obj is caps:
            encoded.append(obj)
        return real(obj, *args, **kwargs)

    monkeypatch.setattr(module, "dumps", counting)
    names = ["Ada", "Zoë ☃", '"rtc-capabilities-' + "0" * 32 + '"', module._QUOTED[1:-1] + "x"]
    for name in names * 3:
        content = _joined(caps, name)
        assert reply_text(content) == real(content)
    without_id = _joined(caps, "Ada")
    del without_id["requestId"]
    assert reply_text(without_id) == real(without_id)
    assert len(encoded) == 1
    for other in ({"type": "rtc:peerJoined", "data": {"peerId": "p"}},
                  {"requestId": "r", "data": {"type": "rtc:produced", "id": "x"}},
                  {"requestId": "r", "error": "no", "code": "invalid"},
                  {"data": {"type": "rtc:joined", "routerRtpCapabilities": None}},
                  {"data": "rtc:joined"}, [1, 2]):
        assert reply_text(other) == real(other)
    for n in range(3 * module.CACHED):
        assert reply_text(_joined({"n": n}, "a")) == real(_joined({"n": n}, "a"))
    assert len(module._cache) == module.CACHED


@pytest.mark.django_db(transaction=True)
async def test_sockets_send_the_same_join_frames(rtc_client, meeting, host_user, member_user,
                                                monkeypatch):
    """Two peers join one call over the meeting socket (the outgoing check on): both join
    replies are the encoder's text, with the router's capabilities, encoded once
    for the two."""
    frames: list[tuple[Any, str]] = []

    def spy(content: Any) -> str:
        text = reply_text(content)
        frames.append((content, text))
        return text

    monkeypatch.setattr(consumer_module, "reply_text", spy)
    encoded: list[Any] = []
    real = frame_json.dumps
    monkeypatch.setattr(module, "dumps", lambda obj, *a, **k: (
        encoded.append(obj), real(obj, *a, **k))[1])
    host = await rtc_client(meeting, host_user)
    member = await rtc_client(meeting, member_user)
    await host.join("Hazel")
    await member.join("Milo")
    joins = [(content, text) for content, text in frames
             if isinstance(content.get("data"), dict)
             and content["data"].get("type") == "rtc:joined"]
    assert len(joins) == 2
    caps = joins[0][0]["data"]["routerRtpCapabilities"]
    assert joins[1][0]["data"]["routerRtpCapabilities"] is caps
    assert all(text == real(content) for content, text in frames)
    assert host.joined["routerRtpCapabilities"] == frame_json.loads(real(caps))
    assert sum(obj is caps for obj in encoded) == 1
