"""The parts of the database-outage behaviour, each alone (the whole is test_fault_database).

The outage is made where each part meets the database: a real PostgreSQL port nothing listens
on (the breaker's probe), or the function that would have reached the database raising the
``OperationalError`` Django raises when PostgreSQL is down (socket, API, page, late leaves).
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from channels.db import database_sync_to_async
from django.db import OperationalError
from django.utils import timezone

from bots.live_daphne import free_port
from conference.clock import ManualClock
from conference.outage import is_database_outage
from conference.postgres.base import Breaker
from meetings import leaves, services
from meetings.models import Participant
from rtc.policy import attendance as attendance_module
from rtc.policy.attendance import LateLeaves, mark_left
from tests.faults.conftest import postgres_url

DOWN = OperationalError("connection failed: Connection refused")


def _params(url: str, **extra: Any) -> dict[str, Any]:
    info = psycopg.conninfo.conninfo_to_dict(url)
    return {**info, "dbname": "postgres", **extra}


def test_outage_errors_are_recognised_through_their_causes() -> None:
    """OperationalError, InterfaceError and psycopg's own errors are outages, also when
    another exception was raised from them; a plain bug is not."""
    assert is_database_outage(DOWN)
    assert is_database_outage(psycopg.OperationalError("gone"))
    try:
        try:
            raise DOWN
        except OperationalError as error:
            raise RuntimeError("wrapped") from error
    except RuntimeError as wrapped:
        assert is_database_outage(wrapped)
    assert not is_database_outage(ValueError("a bug"))


def test_breaker_fails_fast_while_open_and_closes_when_a_probe_connects() -> None:
    """After a failed connection the breaker refuses at once (no wait for the pool), probes
    at most every half second (a refused probe keeps it open) and closes as soon as a probe
    reaches a real PostgreSQL."""
    clock = ManualClock()
    breaker = Breaker(clock)
    breaker.before_connect(psycopg, {})  # closed: nothing happens
    breaker.trip(DOWN)
    breaker.trip(DOWN)
    assert breaker.is_open and breaker.trips == 1
    down = _params(postgres_url(), host="127.0.0.1", port=free_port())
    with pytest.raises(psycopg.OperationalError, match="unavailable"):
        breaker.before_connect(psycopg, down)  # the probe is refused
    started = time.monotonic()
    with pytest.raises(psycopg.OperationalError, match="failing fast"):
        breaker.before_connect(psycopg, down)
    assert time.monotonic() - started < 0.1
    clock.now += 0.45
    with pytest.raises(psycopg.OperationalError, match="failing fast"):
        breaker.before_connect(psycopg, _params(postgres_url()))  # no probe yet
    clock.now += 0.1
    breaker.before_connect(psycopg, _params(postgres_url()))  # a probe connects
    assert not breaker.is_open


@pytest.mark.django_db(transaction=True)
async def test_a_leave_during_an_outage_is_written_late_with_its_own_time(
    host_user: Any, meeting: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """mark_left while the database is down keeps the leave with the moment it happened;
    once the database answers, the row gets that moment, not the moment it was written."""
    await database_sync_to_async(services.participant_mark_joined)(meeting=meeting,
                                                                    user=host_user)
    real_write = attendance_module._write_left

    async def down(*args: Any) -> None:
        raise DOWN

    def batch_down(requests: Any) -> None:
        raise DOWN

    monkeypatch.setattr(leaves, "participants_leave", batch_down)  # the leave now
    monkeypatch.setattr(attendance_module, "_write_left", down)  # the late leave
    late = LateLeaves(tmp_path)
    monkeypatch.setattr(attendance_module, "late_leaves", late)
    before = timezone.now()
    await mark_left(meeting.id, host_user.pk)
    assert len(late) == 1
    assert late.path is not None and len(late.path.read_text().splitlines()) == 1  # on disk
    assert await late.flush() == 1  # still down: still pending
    late._task.cancel()
    monkeypatch.setattr(attendance_module, "_write_left", real_write)
    assert await late.flush() == 0 and late.written == 1
    assert late.path is None and not list(tmp_path.iterdir())  # the file went with the last
    row = await Participant.objects.aget(meeting=meeting, user=host_user)
    assert row.left_at is not None and before <= row.left_at <= before + timedelta(seconds=2)


async def test_late_leaves_files_are_adopted_only_from_stopped_processes(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """A process's file of pending leaves is held locked while it lives: another process
    (another LateLeaves here) does not take it. Once the owner closes with leaves still
    pending (the database still down) the file stays, the log says how many, and the next one
    to start adopts them with their own times and removes the file."""
    async def down(*args: Any) -> None:
        raise DOWN

    monkeypatch.setattr(attendance_module, "_write_left", down)
    owner, other = LateLeaves(tmp_path), LateLeaves(tmp_path)
    at = timezone.now() - timedelta(minutes=5)
    owner.add("m1", "7", at)
    owner.add("m1", "8", at + timedelta(seconds=1))
    assert owner.path is not None and owner.path.exists()
    assert await other.adopt() == 0 and len(other) == 0  # its owner is alive
    assert await owner.close() == 2
    assert len(list(tmp_path.glob("*.jsonl"))) == 1  # kept for the next start
    assert await other.adopt() == 2
    assert {key: other._pending[key] for key in other._pending} == {
        ("m1", "7"): at, ("m1", "8"): at + timedelta(seconds=1)}
    assert not [p for p in tmp_path.glob("*.jsonl") if p != other.path]  # the old file went
    await other.close()


@pytest.mark.django_db(transaction=True)
async def test_a_late_leave_does_not_end_a_presence_that_began_after_it(
    host_user: Any, meeting: Any
) -> None:
    """The user came back before the late leave could be written: it is dropped, the new
    presence stays open."""
    left_at = timezone.now()
    await database_sync_to_async(services.participant_mark_joined)(meeting=meeting,
                                                                    user=host_user)
    await database_sync_to_async(services.participant_mark_left)(
        meeting_id=meeting.id, user=host_user, at=left_at)
    row = await Participant.objects.aget(meeting=meeting, user=host_user)
    assert row.joined_at > left_at and row.left_at is None


@pytest.mark.django_db
def test_api_and_pages_answer_503_with_retry_after_during_an_outage(
    host_client: Any, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A view that hits a down database: the API answers 503 {code: unavailable} with
    Retry-After, a page answers a plain 503; other errors keep Django's handling."""
    from meetings import api

    def down(*args: Any, **kwargs: Any) -> None:
        raise DOWN

    monkeypatch.setattr(api.MeetingViewSet, "get_queryset", down)
    response = host_client.get("/api/meetings/")
    assert response.status_code == 503
    assert response.json()["code"] == "unavailable"
    assert response["Retry-After"] == "5"

    from django.contrib.auth import views as auth_views

    monkeypatch.setattr(auth_views.LoginView, "get", down)
    page = client.get("/accounts/login/")
    assert page.status_code == 503 and b"unavailable" in page.content


@pytest.mark.django_db(transaction=True)
async def test_socket_not_admitted_during_an_outage_is_told_and_closed_4502(
    host_user: Any, meeting: Any, ws_communicator: Any, ws_expect_close: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Connecting while the join cannot be written (token or session auth): the socket is
    accepted, gets an ``error`` event with code ``unavailable`` and is closed with 4502, so
    the client knows to try again (no 1011, no handshake failure), and holds nothing."""
    from rtc.policy.attendance import attendance
    from rtc.websocket import auth as rtc_auth
    from rtc.websocket import join

    def down(*args: Any, **kwargs: Any) -> None:
        raise DOWN

    monkeypatch.setattr(join.joins, "participants_join", down)
    socket_ = await ws_communicator(meeting.id, user=host_user)
    assert (await socket_.connect(timeout=5))[0]
    event = await socket_.receive_json_from(timeout=5)
    assert event == {"type": "error", "data": {"code": "unavailable",
                                               "reason": event["data"]["reason"]}}
    assert await ws_expect_close(socket_) == 4502
    assert len(attendance) == 0

    for auth, target in (("token", "user_for_token"), ("session", None)):
        monkeypatch.undo()
        if target:
            monkeypatch.setattr(rtc_auth, target, database_sync_to_async(down))
        else:
            monkeypatch.setattr("channels.auth.get_user", database_sync_to_async(down))
        socket_ = await ws_communicator(meeting.id, user=host_user, auth=auth)
        assert (await socket_.connect(timeout=5))[0], auth
        event = await socket_.receive_json_from(timeout=5)
        assert event["type"] == "error" and event["data"]["code"] == "unavailable", auth
        assert await ws_expect_close(socket_) == 4502, auth


@pytest.mark.django_db(transaction=True)
async def test_rtc_join_during_an_outage_needs_no_database(
    rtc_service: Any, host_user: Any, meeting: Any, ws_join: Any, ws_request: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """rtc:join uses the access rules its socket read when it joined the meeting (one
    database trip per join): while the database is down, a joined socket still enters the
    call, and leaves it."""
    from rtc.services import room_service

    socket_ = await ws_join(meeting.id, host_user)

    async def down(*args: Any) -> None:
        raise DOWN

    monkeypatch.setattr(room_service, "meeting_access", down)
    join = {"type": "rtc:join", "requestId": "j1", "data": {"displayName": "Ada"}}
    reply = await ws_request(socket_, join)
    assert reply["data"]["type"] == "rtc:joined", reply
    assert reply["data"]["role"] == "host"
    await ws_request(socket_, {"type": "rtc:leave", "requestId": "l1", "data": {}})
    await socket_.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_a_socket_closing_while_the_channel_layer_is_down_still_leaves(
    rtc_service: Any, host_user: Any, meeting: Any, ws_join: Any, ws_request: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Leaving the group fails (Redis down): the rest of the leave still runs, so the call
    peer goes and the attendance is written (found by bench/chaos.py: peers left behind)."""
    from channels.layers import get_channel_layer

    from rtc.policy.attendance import attendance

    socket_ = await ws_join(meeting.id, host_user)
    reply = await ws_request(socket_, {"type": "rtc:join", "requestId": "j",
                                         "data": {"displayName": "Ada"}})
    assert reply["data"]["type"] == "rtc:joined", reply
    layer = get_channel_layer()

    async def down(*args: Any) -> None:
        raise ConnectionError("Error 111 connecting to redis")

    monkeypatch.setattr(layer, "group_discard", down)
    await ws_request(socket_, {"type": "rtc:leave", "requestId": "l", "data": {}})
    await socket_.disconnect()
    await rtc_service.wait_idle()
    assert rtc_service.counts()["peers"] == 0
    assert len(attendance) == 0
    row = await Participant.objects.aget(meeting=meeting, user=host_user)
    assert row.left_at is not None
