"""A worker killed in the middle of calls disturbs nothing else: with real media flowing in two
meetings on two workers of a live daphne, SIGKILL of one meeting's worker leaves the other
meeting's peers decoding each other's audio and video without a pause, with the same peers,
router and worker, and no ``rtc:reconnect``; the first meeting recovers on a replacement
worker and its media flows again.

(Recovery of the killed worker's own call is shown end to end by
``tests/rtc/test_rtc_e2e.py::test_killed_worker_call_recovers_with_media``; the in-process model
by ``tests/rtc/services/test_rtc_worker_faults.py``.)
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from tests.rtc.call_client import CallClient
from tests.rtc.live import PASSWORD, LiveServer
from tests.support.waiting import eventually

pytestmark = [pytest.mark.timeout(120)]

SEED = """
import json
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from meetings import services
User = get_user_model()
def user(name, **extra):
    u = User.objects.create_user(name, password={password!r}, **extra)
    return u, Token.objects.get_or_create(user=u)[0].key
tokens = {{}}
users = {{}}
for name, extra in [("ada", {{}}), ("bob", {{}}), ("cy", {{}}), ("dan", {{}}),
                    ("ops", {{"is_staff": True}})]:
    users[name], tokens[name] = user(name, **extra)
first = services.meeting_create(host=users["ada"], title="First")
services.participant_invite(meeting=first, actor=users["ada"], username="bob")
second = services.meeting_create(host=users["cy"], title="Second")
services.participant_invite(meeting=second, actor=users["cy"], username="dan")
ops_room = services.meeting_create(host=users["ops"], title="Operations")
print(json.dumps({{"first": str(first.id), "second": str(second.id),
                  "ops_room": str(ops_room.id), "tokens": tokens}}))
"""


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[LiveServer, dict[str, Any]]]:
    """A daphne with two workers, two meetings (ada+bob, cy+dan) and a staff user."""
    server = LiveServer(extra_env={"MEDIASOUP_WORKER_NUM": "2"}).start()
    try:
        yield server, server.shell(SEED.format(password=PASSWORD))
    finally:
        server.stop()


@pytest.fixture
async def clients(live) -> AsyncIterator[Any]:
    """Factory of connected CallClients, closed at teardown."""
    server, data = live
    made: list[CallClient] = []

    async def make(name: str, meeting: str) -> CallClient:
        client = CallClient(server.ws_url(data[meeting], data["tokens"][name]), server.url,
                            name)
        assert (await client.connect())["type"] == "meeting.state"
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


async def _routers(ops: CallClient) -> dict[int, list[str]]:
    stats = await ops.request("rtc:serverStats")
    return {d["pid"]: d["routerIds"] for d in stats["workerDumps"]}


async def test_killing_one_meetings_worker_leaves_the_other_meetings_media_flowing(live,
                                                                                 clients):
    """Meeting one (ada, bob) and meeting two (cy, dan) each on their own worker, media both
    ways. SIGKILL meeting one's worker: cy and dan keep decoding each other (during the
    recovery too), are never told to reconnect and keep their peers; meeting two's worker and
    router are the same; ada and bob get rtc:reconnect, resume on a new worker and decode
    each other again."""
    ops = await clients("ops", "ops_room")
    ada, bob = await clients("ada", "first"), await clients("bob", "first")
    for client in (ada, bob):
        await client.join()
        await client.publish()
    routers = await _routers(ops)
    first_pid = next(pid for pid, ids in routers.items() if ids)
    cy, dan = await clients("cy", "second"), await clients("dan", "second")
    for client in (cy, dan):
        await client.join()
        await client.publish()
    routers = await _routers(ops)
    second_pid = next(pid for pid, ids in routers.items() if ids and pid != first_pid)
    second_router = routers[second_pid]
    assert len(routers[first_pid]) == 1 and len(second_router) == 1, routers
    ids = {c.name: c.joined["peerId"] for c in (ada, bob, cy, dan)}
    await asyncio.gather(ada.wait_frames(ids["bob"]), bob.wait_frames(ids["ada"]),
                         cy.wait_frames(ids["dan"]), dan.wait_frames(ids["cy"]))

    os.kill(first_pid, signal.SIGKILL)
    # Meeting two goes on decoding while meeting one is being moved: 2 s worth of frames.
    await asyncio.gather(cy.wait_frames(ids["dan"], audio=80, video=20),
                         dan.wait_frames(ids["cy"], audio=80, video=20))
    await eventually(lambda: ada.reconnects > 0 and bob.reconnects > 0, timeout=30,
                     what="both clients reconnected")
    await asyncio.gather(ada.wait_frames(ids["bob"]), bob.wait_frames(ids["ada"]),
                         cy.wait_frames(ids["dan"]), dan.wait_frames(ids["cy"]))

    assert (cy.reconnects, dan.reconnects) == (0, 0)
    assert not [e for c in (cy, dan) for e in c.events if e["type"] in
                ("rtc:reconnect", "rtc:peerLeft", "rtc:producerClosed")]
    assert (cy.joined["peerId"], dan.joined["peerId"]) == (ids["cy"], ids["dan"])
    assert (ada.joined["peerId"], ada.joined["resumed"]) == (ids["ada"], True)
    after = await _routers(ops)
    assert first_pid not in after and len(after) == 2, "the dead worker was replaced"
    # Meeting one may have moved onto meeting two's worker (the replacement was not up yet).
    assert second_router[0] in after[second_pid], "meeting two kept its worker and router"
    stats = await ops.request("rtc:serverStats")
    assert (stats["rooms"], stats["peers"], stats["producers"]) == (2, 4, 8)

    for client in (ada, bob, cy, dan):
        await client.leave()
    async def nobody_left() -> bool:
        return not (await ops.request("rtc:serverStats"))["peers"]

    await eventually(nobody_left, timeout=20, what="every peer gone")
    assert all(not ids for ids in (await _routers(ops)).values())
