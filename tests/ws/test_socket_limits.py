"""Open meeting sockets are bounded per user and per client address (`rtc/websocket/limits.py`).

A socket over a limit is accepted, told why (an `error` event, code `too_many_sockets`) and
closed with 4430 before any database work: no participant row, no presence, no group
membership. The sockets already open stay connected and keep answering; closing one frees a
slot. The limits come from ``settings.RTC_LIMITS`` and from the environment (a malformed value
stops the start-up); 0 lifts them. Refusals are logged with the user id and never with the
address in clear.
"""

from __future__ import annotations

import json
import logging

import pytest
from channels.db import database_sync_to_async

from meetings import services
from meetings.models import Meeting, Participant
from rtc.operations.metrics import REGISTRY
from rtc.policy.attendance import attendance
from rtc.services.config import limits
from rtc.websocket.envelope import CloseCode
from rtc.websocket.limits import OpenSockets, SocketLimit, SocketSlot, address_tag, open_sockets
from tests.support.settings_probe import run_probe

pytestmark = pytest.mark.django_db(transaction=True)


def _group(layer, meeting_id) -> set[str] | None:
    """Channels in the meeting's group (in-memory layer only; None under Redis)."""
    groups = getattr(layer, "groups", None)
    return None if groups is None else set(groups.get(f"meeting.{meeting_id}", {}))


async def _refused(ws_open, ws_expect_close, meeting_id, user, **kwargs) -> dict:
    """Open a socket that must be refused for too many sockets; return its `error` data."""
    ws, first = await ws_open(meeting_id, user, **kwargs)
    assert first["type"] == "error" and first["data"]["code"] == "too_many_sockets", first
    assert await ws_expect_close(ws) == CloseCode.TOO_MANY_SOCKETS == 4430
    return first["data"]


async def _joined(ws_open, meeting_id, user, **kwargs):
    ws, first = await ws_open(meeting_id, user, **kwargs)
    assert first["type"] == "meeting.state", first
    return ws


async def _pong(ws_request, ws, request_id: str) -> None:
    reply = await ws_request(ws, {"type": "ping", "requestId": request_id})
    assert reply == {"requestId": request_id, "data": {"type": "pong"}}


def _refused_total(limit: str) -> float:
    return REGISTRY.get_sample_value("conference_meeting_sockets_refused_total",
                                     {"limit": limit}) or 0.0


async def test_user_over_the_limit_is_refused_before_the_database_and_others_go_on(
        ws_open, ws_request, ws_expect_close, meeting, open_meeting, host_user, member_user,
        channel_layer, settings, caplog):
    """MAX_SOCKETS_PER_USER 3: the member holds three sockets in two meetings from two
    addresses; a fourth, to a meeting it never entered, is refused with 4430: no participant
    row, the meeting not started, nobody in its group, no presence. The log names the user,
    not the address. The three sockets still answer, the host is unaffected, and the metrics
    count three open sockets and one refusal."""
    settings.RTC_LIMITS = {"MAX_SOCKETS_PER_USER": 3}
    third = await database_sync_to_async(services.meeting_create)(
        host=host_user, title="Third", access=Meeting.Access.AUTHENTICATED)
    held = [await _joined(ws_open, meeting.id, member_user),
            await _joined(ws_open, meeting.id, member_user, address="198.51.100.1"),
            await _joined(ws_open, open_meeting.id, member_user)]
    refused_before = _refused_total("user")

    with caplog.at_level(logging.INFO, logger="rtc.websocket.consumer"):
        error = await _refused(ws_open, ws_expect_close, third.id, member_user,
                               address="198.51.100.9")

    assert "account" in error["reason"]
    assert not await Participant.objects.filter(meeting=third, user=member_user).aexists()
    assert (await Meeting.objects.aget(pk=third.pk)).started_at is None
    assert _group(channel_layer, third.id) in (None, set())
    assert not attendance.present(third.id, member_user.pk)
    line = next(r.getMessage() for r in caplog.records if "refused" in r.getMessage())
    assert f"user={member_user.pk}" in line and "user holds 3" in line
    assert "198.51.100.9" not in caplog.text and address_tag("198.51.100.9") in line
    for index, ws in enumerate(held):
        await _pong(ws_request, ws, f"still-{index}")
    assert open_sockets.of_user(member_user.pk) == 3
    assert REGISTRY.get_sample_value("conference_meeting_sockets_open") == 3
    assert _refused_total("user") == refused_before + 1
    host = await _joined(ws_open, meeting.id, host_user)
    await _pong(ws_request, host, "host")


async def test_closing_a_socket_frees_its_slot(ws_open, ws_request, ws_expect_close, meeting,
                                               member_user, settings):
    """MAX_SOCKETS_PER_USER 2: the third socket is refused; once one of the two closes, the
    next is accepted and answers, and the other one is still served."""
    settings.RTC_LIMITS = {"MAX_SOCKETS_PER_USER": 2}
    first = await _joined(ws_open, meeting.id, member_user)
    second = await _joined(ws_open, meeting.id, member_user)
    await _refused(ws_open, ws_expect_close, meeting.id, member_user)
    await first.disconnect()
    assert open_sockets.of_user(member_user.pk) == 1
    third = await _joined(ws_open, meeting.id, member_user)
    await _pong(ws_request, third, "third")
    await _pong(ws_request, second, "second")
    assert open_sockets.of_user(member_user.pk) == 2


async def test_address_limit_counts_every_user_of_one_address(
        ws_open, ws_request, ws_expect_close, meeting, open_meeting, host_user, member_user,
        outsider_user, settings):
    """MAX_SOCKETS_PER_ADDRESS 2: the host and the member from 203.0.113.7 fill it; a third
    user from there is refused (also spelled as IPv4-mapped IPv6), from another address it is
    accepted. IPv6 counts per /64; loopback and sockets without an address are not counted."""
    settings.RTC_LIMITS = {"MAX_SOCKETS_PER_ADDRESS": 2}
    office = [await _joined(ws_open, meeting.id, host_user),
              await _joined(ws_open, meeting.id, member_user)]
    error = await _refused(ws_open, ws_expect_close, open_meeting.id, outsider_user)
    assert "address" in error["reason"]
    await _refused(ws_open, ws_expect_close, open_meeting.id, outsider_user,
                   address="::ffff:203.0.113.7")
    elsewhere = await _joined(ws_open, open_meeting.id, outsider_user, address="198.51.100.1")
    assert open_sockets.of_address("203.0.113.7") == 2

    await _joined(ws_open, open_meeting.id, host_user, address="2001:db8:1:1::1")
    await _joined(ws_open, open_meeting.id, member_user, address="2001:db8:1:1:ffff::2")
    await _refused(ws_open, ws_expect_close, open_meeting.id, outsider_user,
                   address="2001:db8:1:1::3")
    await _joined(ws_open, open_meeting.id, outsider_user, address="2001:db8:1:2::3")
    assert open_sockets.of_address("2001:db8:1:1::9") == 2

    for address in ("127.0.0.1", "::1", None):
        await _joined(ws_open, open_meeting.id, outsider_user, address=address)
    assert open_sockets.counts().per_address.keys() == {
        "203.0.113.7", "198.51.100.1", "2001:db8:1:1::", "2001:db8:1:2::"}
    for index, ws in enumerate([*office, elsewhere]):
        await _pong(ws_request, ws, f"p{index}")


async def test_default_limit_is_ten_per_user_and_zero_lifts_it(ws_open, ws_expect_close,
                                                                open_meeting, outsider_user,
                                                                settings):
    """Without RTC_LIMITS a user holds at most 10 sockets and an address 50; with
    MAX_SOCKETS_PER_USER 0 the eleventh and twelfth are accepted."""
    settings.RTC_LIMITS = {}
    assert (limits().max_sockets_per_user, limits().max_sockets_per_address) == (10, 50)
    for _ in range(10):
        await _joined(ws_open, open_meeting.id, outsider_user)
    await _refused(ws_open, ws_expect_close, open_meeting.id, outsider_user)
    settings.RTC_LIMITS = {"MAX_SOCKETS_PER_USER": 0}
    for _ in range(2):
        await _joined(ws_open, open_meeting.id, outsider_user)
    assert open_sockets.of_user(outsider_user.pk) == 12


PROBE = """
import json, conference.asgi
from rtc.services.config import limits
print(json.dumps([limits().max_sockets_per_user, limits().max_sockets_per_address]))
"""


def test_environment_variables_set_the_socket_limits() -> None:
    """RTC_MAX_SOCKETS_PER_USER and RTC_MAX_SOCKETS_PER_ADDRESS reach the limits (0 allowed);
    unset, the defaults 10 and 50 apply."""
    result = run_probe(PROBE, RTC_MAX_SOCKETS_PER_USER="3", RTC_MAX_SOCKETS_PER_ADDRESS="0")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [3, 0]
    result = run_probe(PROBE)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [10, 50]


@pytest.mark.parametrize("env", [{"RTC_MAX_SOCKETS_PER_USER": "many"},
                                 {"RTC_MAX_SOCKETS_PER_ADDRESS": "-1"}])
def test_bad_socket_limit_stops_the_start_up(env: dict[str, str]) -> None:
    """A malformed or negative value stops loading the application with ImproperlyConfigured
    naming the variable."""
    result = run_probe(PROBE, **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and next(iter(env)) in result.stderr


def test_a_slot_is_given_back_once_only() -> None:
    """Releasing a slot twice changes the counts once: the second release is a no-op, so no
    path that gives a socket's slot back can push another socket's count down."""
    counts = OpenSockets()
    first = counts.acquire(user_id=7, address="203.0.113.7", max_per_user=2, max_per_address=2)
    second = counts.acquire(user_id=7, address="203.0.113.7", max_per_user=2, max_per_address=2)
    assert isinstance(first, SocketSlot) and isinstance(second, SocketSlot)
    assert counts.acquire(user_id=7, address=None, max_per_user=2,
                          max_per_address=2) is SocketLimit.USER
    assert counts.release(first) is True
    assert counts.release(first) is False
    assert (len(counts), counts.of_user(7), counts.of_address("203.0.113.7")) == (1, 1, 1)
    assert counts.release(second) is True
    assert (len(counts), dict(counts.counts().per_user), counts.counts().refused) == (
        0, {}, {"user": 1})
