"""Limits from settings, the rate limiter, and the transport options, without a worker."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from rtc.services.config import RtcLimits, limits, media_codecs, transport_options
from rtc.signaling.ratelimit import RateLimiter


def test_limits_default_and_override(settings) -> None:
    """Unset keys keep their defaults; keys are case-insensitive; unknown keys are an error."""
    settings.RTC_LIMITS = {}
    assert limits() == RtcLimits()
    settings.RTC_LIMITS = {"max_peers_per_meeting": 7, "RECONNECT_GRACE_SECONDS": 2.5}
    assert limits().max_peers_per_meeting == 7 and limits().reconnect_grace_seconds == 2.5
    settings.RTC_LIMITS = {"MAX_PEERS": 7}
    with pytest.raises(ImproperlyConfigured):
        limits()
    settings.RTC_LIMITS = {"MAX_PEERS_PER_MEETING": -1}
    with pytest.raises(ImproperlyConfigured):
        limits()


def test_transport_options_follow_mediasoup_settings(settings) -> None:
    """Listen infos use LISTEN_IP and ANNOUNCED_IP; TCP can be switched off."""
    settings.MEDIASOUP = {**settings.MEDIASOUP, "LISTEN_IP": "127.0.0.1",
                          "ANNOUNCED_IP": "203.0.113.7"}
    settings.RTC_TRANSPORT = {"ENABLE_TCP": False, "MAX_INCOMING_BITRATE": 900_000}
    options = transport_options()
    assert options.listen_infos == [{"protocol": "udp", "ip": "127.0.0.1",
                                     "announcedAddress": "203.0.113.7"}]
    assert options.enable_tcp is False and options.max_incoming_bitrate == 900_000
    settings.RTC_TRANSPORT = {}
    assert [i["protocol"] for i in transport_options().listen_infos] == ["udp", "tcp"]


def test_transport_options_are_built_once_per_settings(settings, monkeypatch) -> None:
    """Repeated calls with the same settings give the same object without building it again;
    a changed MEDIASOUP or RTC_TRANSPORT (overridden, or back as before) gives fresh
    options at once."""
    from rtc.services import config

    settings.RTC_TRANSPORT = {"MAX_INCOMING_BITRATE": 700_000}
    first = transport_options()
    built: list[object] = []
    real = config.TransportOptions
    monkeypatch.setattr(config, "TransportOptions",
                        lambda **kw: built.append(kw) or real(**kw))
    assert all(transport_options() is first for _ in range(5)) and built == []
    settings.RTC_TRANSPORT = {"MAX_INCOMING_BITRATE": 800_000}
    assert transport_options().max_incoming_bitrate == 800_000 and len(built) == 1
    settings.MEDIASOUP = {**settings.MEDIASOUP, "LISTEN_IP": "127.0.0.2"}
    assert transport_options().listen_infos[0]["ip"] == "127.0.0.2" and len(built) == 2
    settings.RTC_TRANSPORT = {"MAX_INCOMING_BITRATE": 700_000}
    settings.MEDIASOUP = {**settings.MEDIASOUP, "LISTEN_IP": first.listen_infos[0]["ip"]}
    assert transport_options() == first and len(built) == 3


def test_media_codecs_are_copies(settings) -> None:
    """Callers may change the returned codecs without changing the defaults."""
    first = media_codecs()
    first[0]["clockRate"] = 1
    assert media_codecs()[0]["clockRate"] == 48000


async def test_rate_limiter_allows_a_burst_then_the_rate(manual_clock) -> None:
    """A full bucket allows `burst` requests at once, then refills at `rate` per second (and
    not before: a token is short by a hundredth of its time)."""
    limiter = RateLimiter()
    allowed = [limiter.allow("c", rate=100.0, burst=3) for _ in range(5)]
    assert allowed == [True, True, True, False, False]
    assert limiter.refusals("c") == 2
    await manual_clock.advance(0.0099)
    assert not limiter.allow("c", rate=100.0, burst=3)
    await manual_clock.advance(0.0002)
    assert limiter.allow("c", rate=100.0, burst=3)
    assert limiter.refusals("c") == 0
    await manual_clock.advance(3600)
    assert [limiter.allow("c", rate=100.0, burst=3) for _ in range(4)] == [True] * 3 + [False], (
        "a long idle refills the bucket to its burst, no further")
    assert limiter.allow("other", rate=100.0, burst=3), "buckets are per key"
    limiter.forget("c")
    limiter.forget("other")
    assert len(limiter) == 0
