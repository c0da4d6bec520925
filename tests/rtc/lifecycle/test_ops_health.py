"""/healthz and /readyz: ready only while every worker answers, none is missing, the database
answers a query and the channel layer carries a message; a 503 body names what failed."""

from __future__ import annotations

import os
import signal

import pytest
from channels.layers import channel_layers
from django.db.utils import ConnectionHandler
from django.test import AsyncClient

from bots.live_daphne import free_port
from rtc.lifecycle import health
from tests.rtc.operations.conftest import value
from tests.support.waiting import eventually

pytestmark = pytest.mark.django_db(transaction=True)


async def _until(predicate, timeout: float = 20.0, what: str = "") -> None:
    await eventually(predicate, timeout=timeout, what=what)


async def test_healthz_answers_without_touching_anything(rtc_service):
    """/healthz is 200 while the process serves HTTP, and does not start the worker pool."""
    response = await AsyncClient().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]
    assert not rtc_service.mediasoup.started


async def test_readyz_is_ready_when_everything_answers(rtc_service, settings):
    """With two workers configured, the probe starts the pool, pings both workers, queries the
    database and round-trips the channel layer: 200, every check ok."""
    settings.MEDIASOUP = {**settings.MEDIASOUP, "WORKER_NUM": 2}
    assert not rtc_service.mediasoup.started
    response = await AsyncClient().get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ready" and body["failed"] == []
    assert body["checks"]["workers"] == {"ok": True, "alive": 2, "expected": 2}
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["channel_layer"]["ok"] is True
    assert len(rtc_service.mediasoup.workers) == 2


async def test_readyz_fails_while_a_killed_worker_is_missing(rtc_service, settings, scrape):
    """SIGKILL one of two workers while its replacement cannot start: /readyz is 503 naming
    the workers (1 of 2 alive); once a replacement runs it is 200 again and the restart is
    counted in /metrics."""
    settings.MEDIASOUP = {**settings.MEDIASOUP, "WORKER_NUM": 2}
    client = AsyncClient()
    assert (await client.get("/readyz")).status_code == 200
    restarts = value(await scrape(), "conference_worker_restarts_total")
    good_bin = settings.MEDIASOUP.get("WORKER_BIN")
    settings.MEDIASOUP = {**settings.MEDIASOUP, "WORKER_BIN": "/nonexistent/mediasoup-worker"}
    victim = rtc_service.mediasoup.workers[0]
    os.kill(victim.pid, signal.SIGKILL)
    await _until(lambda: victim not in rtc_service.mediasoup.workers, what="death noticed")

    response = await client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failed"] == ["workers"]
    assert body["checks"]["workers"] == {"ok": False, "alive": 1, "expected": 2}
    samples = await scrape()
    assert value(samples, "conference_workers_alive") == 1
    assert value(samples, "conference_worker_restarts_total") == restarts

    settings.MEDIASOUP = {**settings.MEDIASOUP, "WORKER_BIN": good_bin}
    await _until(lambda: len(rtc_service.mediasoup.workers) == 2, what="replacement")
    response = await client.get("/readyz")
    assert response.status_code == 200, response.content
    samples = await scrape()
    assert value(samples, "conference_workers_alive") == 2
    assert value(samples, "conference_worker_restarts_total") == restarts + 1


async def test_readyz_fails_when_the_database_is_down(rtc_service, monkeypatch):
    """The database check runs SELECT 1 on a real connection; pointed at a PostgreSQL port
    nothing listens on, the connection is refused: 503 naming the database only. Back on the
    real database the same check passes."""
    down = ConnectionHandler({"default": {
        "ENGINE": "django.db.backends.postgresql", "HOST": "127.0.0.1",
        "PORT": str(free_port()), "NAME": "conference", "USER": "postgres",
        "OPTIONS": {"connect_timeout": 2},
    }})
    monkeypatch.setattr(health, "connections", down)
    response = await AsyncClient().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["database"]
    assert body["checks"]["database"] == {"ok": False, "error": "OperationalError"}
    assert body["checks"]["workers"]["ok"] and body["checks"]["channel_layer"]["ok"]

    monkeypatch.undo()
    response = await AsyncClient().get("/readyz")
    assert response.status_code == 200, response.content


async def test_readyz_fails_when_the_channel_layer_is_unreachable(rtc_service, settings,
                                                                  monkeypatch):
    """With the channel layer on a Redis port nothing listens on, the round trip fails: 503
    naming the channel layer only."""
    settings.CHANNEL_LAYERS = {"default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [f"redis://127.0.0.1:{free_port()}/0"]},
    }}
    channel_layers.backends.clear()
    monkeypatch.setattr(health, "CHECK_TIMEOUT", 2.0)
    response = await AsyncClient().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["channel_layer"]
    assert body["checks"]["channel_layer"]["ok"] is False
    assert body["checks"]["channel_layer"]["error"]
