"""TURN credentials in rtc:joined: coturn's shared-secret scheme, short-lived, per peer."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from rtc.policy.turn import ice_servers_for

pytestmark = pytest.mark.django_db(transaction=True)

URLS = ["turn:turn.example.test:3478?transport=udp", "turns:turn.example.test:5349"]


def test_no_turn_configured_gives_no_ice_servers(settings):
    """Without TURN_URLS the client gets an empty list (host candidates only)."""
    settings.TURN = {"URLS": [], "SECRET": "s3cret", "TTL": 600}
    assert ice_servers_for(7) == []


def test_urls_without_secret_are_handed_out_alone(settings):
    """A STUN server, or TURN with its own static users: the URLs and nothing else."""
    settings.TURN = {"URLS": URLS, "SECRET": "", "TTL": 600}
    assert ice_servers_for(7) == [{"urls": URLS}]


def test_credentials_follow_coturn_rest_scheme(settings):
    """username = expiry:identity, credential = base64(HMAC-SHA1(secret, username))."""
    settings.TURN = {"URLS": URLS, "SECRET": "north-wind", "TTL": 600}
    [server] = ice_servers_for(42, now=1_700_000_000)
    assert server["urls"] == URLS
    assert server["username"] == "1700000600:42"
    expected = base64.b64encode(
        hmac.new(b"north-wind", b"1700000600:42", hashlib.sha1).digest()).decode()
    assert server["credential"] == expected
    # Another identity or another secret gives another password.
    assert ice_servers_for(43, now=1_700_000_000)[0]["credential"] != expected
    settings.TURN = {"URLS": URLS, "SECRET": "south-wind", "TTL": 600}
    assert ice_servers_for(42, now=1_700_000_000)[0]["credential"] != expected


async def test_join_reply_carries_fresh_turn_credentials(
        rtc_service, rtc_client, meeting, host_user, settings):
    """rtc:joined hands the peer short-lived TURN credentials bound to its user."""
    settings.TURN = {"URLS": URLS, "SECRET": "north-wind", "TTL": 3600}
    host = await rtc_client(meeting, host_user)
    joined = await host.join("Hazel")
    [server] = joined["iceServers"]
    expiry, identity = server["username"].split(":")
    assert identity == str(host_user.pk)
    assert int(expiry) > 0
    assert server["credential"] == base64.b64encode(hmac.new(
        b"north-wind", server["username"].encode(), hashlib.sha1).digest()).decode()
    await host.ws.disconnect()
