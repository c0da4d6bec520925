"""Structured logs: with LOG_FORMAT=json each line is one JSON object, and lines written while a
meeting socket is served carry that connection's meeting, peer and user ids, never another's."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from conference.log_context import ContextFilter, JsonFormatter

pytestmark = pytest.mark.django_db(transaction=True)

REPO = Path(__file__).resolve().parents[3]
PEER_IN_MESSAGE = re.compile(r"\bpeer:([0-9a-f-]{36})")


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """A JSON handler (formatter and filter as LOG_FORMAT=json configures) on the rtc loggers."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    logger = logging.getLogger("rtc")
    previous = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream
    logger.removeHandler(handler)
    logger.setLevel(previous)


async def test_log_lines_carry_the_meeting_and_peer_of_their_connection(
        rtc_service, rtc_client, meeting, host_user, member_user, json_lines):
    """Two peers of one meeting open transports and produce: every line is JSON; the lines
    about each peer's objects carry that peer's id, the meeting id and the user id."""
    host = await rtc_client(meeting, host_user)
    member = await rtc_client(meeting, member_user)
    for client, name in ((host, "Hazel"), (member, "Milo")):
        await client.join(name)
        await client.produce(await client.transport("send"), "audio")
    await host.ok("rtc:leave")
    await member.ok("rtc:leave")

    records = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    assert records, "nothing was logged"
    for record in records:
        assert {"time", "level", "logger", "message"} <= record.keys()
    users = {host.joined["peerId"]: str(host_user.pk), member.joined["peerId"]: str(member_user.pk)}
    about_media = [r for r in records
                   if r["message"].startswith(("transport created", "producer created"))]
    assert len(about_media) == 4, [r["message"] for r in records]
    for record in about_media:
        peer_id = PEER_IN_MESSAGE.search(record["message"]).group(1)
        assert record["peer_id"] == peer_id
        assert record["meeting_id"] == str(meeting.id)
        assert record["user_id"] == users[peer_id]
    joined = [r for r in records if r["message"].startswith("peer joined")]
    assert len(joined) == 2
    for record in joined:  # written before the join reply names the peer
        assert record["meeting_id"] == str(meeting.id) and "peer_id" not in record


def _run_settings(log_format: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import django, logging\n"
        "django.setup()\n"
        "from conference import log_context\n"
        "log_context.bind(meeting_id='m-1', peer_id='p-1')\n"
        "logging.getLogger('rtc.test').info('hello %s', 'world')\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "conference.settings",
           "LOG_FORMAT": log_format}
    env.pop("DATABASE_URL", None)
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, text=True,
                          capture_output=True, timeout=60)


def test_log_format_json_setting_writes_json_lines():
    """A process started with LOG_FORMAT=json logs JSON objects with the bound ids; an
    unknown LOG_FORMAT stops the process at start-up."""
    done = _run_settings("json")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stderr.strip().splitlines()[-1])
    assert record["message"] == "hello world"
    assert record["logger"] == "rtc.test" and record["level"] == "INFO"
    assert record["meeting_id"] == "m-1" and record["peer_id"] == "p-1"
    plain = _run_settings("plain")
    assert plain.returncode == 0, plain.stderr
    assert plain.stderr.strip().splitlines()[-1].endswith("INFO rtc.test hello world")
    bad = _run_settings("xml")
    assert bad.returncode != 0
    assert "LOG_FORMAT must be plain or json" in bad.stderr
