"""A big meeting on a live daphne: four bots, two workers, ``RTC_PEERS_PER_ROUTER=2``.

The call spreads over two routers on two workers and everyone decodes everyone's audio and
video, across the pipe between the routers; a closed producer leaves no trace in either
worker's dump, and once all have left neither worker has a router (hence no pipe transport).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from bots.peer import Bot
from tests.rtc.live import LiveServer, running
from tests.support.waiting import eventually

pytestmark = [pytest.mark.timeout(300)]

NAMES = ("ann", "ben", "col", "dee")

SEED = f"""
import json
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from meetings import services
User = get_user_model()
tokens = {{}}
for name in {NAMES!r} + ("ops",):
    user = User.objects.create_user(name, password="pw-" + name, is_staff=(name == "ops"))
    tokens[name] = Token.objects.create(user=user).key
ann = User.objects.get(username="ann")
meeting = services.meeting_create(host=ann, title="Big meeting", capacity=10)
for name in {NAMES[1:]!r}:
    services.participant_invite(meeting=meeting, actor=ann, username=name)
ops = services.meeting_create(host=User.objects.get(username="ops"), title="Operations")
print(json.dumps({{"meeting": str(meeting.id), "ops": str(ops.id), "tokens": tokens}}))
"""


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[LiveServer, dict[str, Any]]]:
    """A daphne with two workers and two peers per router, and the seeded meeting."""
    with running({"MEDIASOUP_WORKER_NUM": "2", "RTC_PEERS_PER_ROUTER": "2"}) as server:
        yield server, server.shell(SEED)


async def _stats(server: LiveServer, data: dict[str, Any]) -> dict[str, Any]:
    ops = Bot(server.ws_url(data["ops"], data["tokens"]["ops"]), origin=server.origin,
              name="ops")
    await ops.connect()
    try:
        return await ops.request("rtc:serverStats", {})
    finally:
        await ops.close()


async def test_four_bots_over_two_workers_decode_everyone(live) -> None:
    """Everyone decodes everyone over two routers on two workers joined by one pipe pair;
    a closed producer is gone from both workers; after all leave no worker has a router."""
    server, data = live
    bots = [Bot(server.ws_url(data["meeting"], data["tokens"][name]), origin=server.origin,
                name=name) for name in NAMES]
    try:
        for bot in bots:
            await bot.connect()
            await bot.join()
        await asyncio.gather(*(bot.publish() for bot in bots))
        await asyncio.gather(*(bot.wait_frames(other.peer_id, timeout=90)
                               for bot in bots for other in bots if other is not bot))
        assert all(w > 0 and h > 0 for bot in bots for w, h in bot.video_sizes)

        stats = await _stats(server, data)
        dumps = stats["workerDumps"]
        assert stats["peers"] == 4 and stats["producers"] == 8 and stats["consumers"] == 24
        assert [len(d["routerIds"]) for d in dumps] == [1, 1], dumps  # one per worker
        call_routers = [r for d in dumps for r in d["routers"]]
        assert all(r["pipeTransports"] == 1 for r in call_routers), dumps
        # Every producer is known to both routers of the call: its own, and the pipe's.
        producers = {pid for bot in bots for pid in bot.producer_ids.values()}
        assert all(set(r["producerIds"]) == producers for r in call_routers), dumps

        video = bots[0].producer_ids["video"]
        await bots[0].request("rtc:closeProducer", {"producerId": video})
        async def video_gone() -> bool:
            dumps = (await _stats(server, data))["workerDumps"]
            return all(video not in r["producerIds"] for d in dumps for r in d["routers"])

        await eventually(video_gone, timeout=10, every=0.1, what="the video gone from every router")
        await asyncio.gather(*(bot.wait_frames(bots[0].peer_id, video=0)
                               for bot in bots[1:]))

        for bot in bots:
            await bot.leave()
        async def no_peers() -> dict[str, Any] | None:
            stats = await _stats(server, data)
            return None if stats["peers"] else stats

        stats = await eventually(no_peers, timeout=20, every=0.1, what="every peer gone")
        assert stats["rooms"] == 0 and stats["transports"] == 0
        assert [d["routerIds"] for d in stats["workerDumps"]] == [[], []], stats["workerDumps"]
    finally:
        await asyncio.gather(*(bot.close() for bot in bots), return_exceptions=True)
