"""Recording on a cluster of live nodes: the node owning the call records it, whichever node is
asked; a node drained while it records ends its recording truthfully and composes it when it
starts again.

Two daphne nodes (`tests.rtc.cluster.conftest.make_cluster`) on one PostgreSQL database and one
Redis, their composed recordings in one S3-compatible bucket (a local S3 server, moto's server
mode): in a cluster the storage is shared, so any node serves any recording's file.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bots.peer import Bot
from bots.signaling import SignalingError
from tests.recordings.conftest import (
    LocalS3,
    decode_errors,
    ffprobe,
    mean_volume,
    tile_contrast,
)
from tests.rtc.cluster.conftest import Cluster, make_cluster, wait_for
from tests.support.processes import ffmpeg_under
from tests.support.waiting import eventually

pytestmark = [pytest.mark.django_db(transaction=False), pytest.mark.timeout(300)]

ROW = """
import json
from recordings.models import Recording
r = Recording.objects.get(pk={rid!r})
print(json.dumps({{"status": r.status, "stop_reason": r.stop_reason, "duration": r.duration,
                  "failure_reason": r.failure_reason, "node": r.node, "details": r.details}}))
"""


@pytest.fixture(scope="module")
def cluster(local_s3: LocalS3) -> Iterator[Cluster]:
    """Two nodes sharing the local S3 bucket for composed recordings."""
    yield from make_cluster(2, env={
        "RECORDING_WIDTH": "640", "RECORDING_HEIGHT": "360", "RECORDING_MIN_FREE_MB": "1",
        "RECORDING_STORAGE_BACKEND": "storages.backends.s3.S3Storage",
        "RECORDING_STORAGE_OPTIONS": json.dumps(local_s3.options(location="cluster"))})


@pytest.fixture(autouse=True)
async def quiet(cluster: Cluster) -> None:
    """Each test starts on a quiet cluster, whatever the one before left."""
    await cluster.settle()


def _http(cluster: Cluster, node: int, user: str, method: str, path: str,
          **headers: str) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"{cluster.live.nodes[node].url}{path}", method=method,
        headers={"Authorization": f"Token {cluster.tokens[user]}", **headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    if body[:1] in (b"{", b"["):
        return status, json.loads(body)
    return status, body


async def api(cluster: Cluster, node: int, user: str, method: str, path: str,
              **headers: str) -> tuple[int, Any]:
    """``method path`` on node ``node`` as ``user``: status and JSON (or bytes)."""
    return await asyncio.to_thread(_http, cluster, node, user, method, path, **headers)


async def settled(cluster: Cluster, node: int, path: str, timeout: float = 120,
                  lost: str = "") -> dict:
    """The recording at ``path`` once it is ``ready`` or ``failed`` (read through ``node``),
    other than failed with the reason ``lost`` (a lost node's, until that node is back)."""
    async def settled() -> dict[str, Any] | None:
        status, body = await api(cluster, node, "bob", "GET", path)
        assert status == 200, body
        done = body["status"] == "ready" or (body["status"] == "failed"
                                             and body["failure_reason"] != lost)
        return body if done else None

    return await eventually(settled, timeout=timeout, every=0.5, what="the recording settled")


async def call_on_two_nodes(cluster: Cluster, meeting: str) -> tuple[Bot, Bot]:
    """bob joins first on node0 (which takes the call: equal loads go to the smallest id),
    alice (the host) on node1; both publish and receive each other."""
    bob = await cluster.bot(0, meeting, "bob")
    await bob.join()
    assert cluster.owner(meeting) == "node0"
    alice = await cluster.bot(1, meeting, "alice")
    await alice.join()
    await bob.publish()
    await alice.publish()
    await alice.wait_frames(bob.peer_id)
    await bob.wait_frames(alice.peer_id)
    return alice, bob


def check_file(path: Path, *, duration: float, details: dict[str, Any],
               peers: list[str]) -> None:
    """The composed file plays: video and audio, about ``duration`` long, no decode error,
    audio not silent, and each peer's tile shows its moving pattern."""
    streams = {s["codec_type"] for s in ffprobe(path, "stream=codec_type")["streams"]}
    assert streams == {"video", "audio"}
    probed = float(ffprobe(path, "format=duration")["format"]["duration"])
    assert abs(probed - duration) < 1.0, (probed, duration)
    assert decode_errors(path) == ""
    assert mean_volume(path, 1.0, max(1.0, duration - 2.0)) > -50.0
    for peer in peers:
        spreads = tile_contrast(path, details["layout"]["tiles"][peer])
        assert max(spreads) > 10.0, (peer, spreads)


async def _download_and_check(cluster: Cluster, meeting: str, rid: str, path: Path,
                              peers: list[str]) -> None:
    """Bob downloads the finished recording ``rid`` from node1 into ``path``; it plays as
    its row says (duration, tracks of ``peers``)."""
    status, content = await api(cluster, 1, "bob", "GET",
                                f"/api/meetings/{meeting}/recordings/{rid}/file/")
    assert status == 200
    path.write_bytes(content)
    row = cluster.live.shell(ROW.format(rid=rid))
    check_file(path, duration=row["duration"], details=row["details"], peers=peers)


async def test_any_node_starts_and_stops_the_recording_the_owner_makes(
        cluster: Cluster, tmp_path: Path) -> None:
    """Through node1, which does not own the call: the API starts the recording (201), everyone
    on both nodes is told, a second start is refused (409 on node0's API, ``conflict`` on
    node1's socket), status and stop work through node1; node0 recorded it, and the composed
    file, downloaded with ranges through node1, has both peers' media."""
    meeting = cluster.meeting("record across nodes")
    alice, bob = await call_on_two_nodes(cluster, meeting)
    base = f"/api/meetings/{meeting}/recordings/"
    status, body = await api(cluster, 1, "alice", "POST", base)
    assert status == 201 and body["status"] == "recording", body
    rid = body["id"]
    started = time.monotonic()
    for bot in (alice, bob):
        await bot.signaling.wait_event("rtc:recordingStarted", recordingId=rid)
    status, body = await api(cluster, 0, "alice", "POST", base)
    assert status == 409 and "already" in body["detail"], body
    with pytest.raises(SignalingError) as refused:
        await alice.signaling.request("rtc:startRecording", {})
    assert refused.value.code == "conflict"
    assert (await api(cluster, 1, "bob", "POST", base))[0] == 403  # a member may not
    status, body = await api(cluster, 1, "bob", "GET", f"{base}{rid}/")
    assert status == 200 and body["status"] == "recording"
    await asyncio.sleep(5.0)
    status, body = await api(cluster, 1, "alice", "POST", f"{base}{rid}/stop/")
    ran = time.monotonic() - started
    assert status == 200 and body["status"] == "processing", body
    for bot in (alice, bob):
        await bot.signaling.wait_event("rtc:recordingStopped", recordingId=rid)
    assert (await api(cluster, 1, "alice", "POST", f"{base}{rid}/stop/"))[0] == 409

    done = await settled(cluster, 1, f"{base}{rid}/")
    assert done["status"] == "ready", done
    row = cluster.live.shell(ROW.format(rid=rid))
    assert row["node"] == "node0" and row["details"]["recorder"] == "node0"
    assert abs(row["duration"] - ran) < 1.5, (row["duration"], ran)
    status, part = await api(cluster, 1, "bob", "GET", f"{base}{rid}/file/",
                             Range="bytes=0-99")
    assert status == 206 and len(part) == 100
    status, content = await api(cluster, 1, "bob", "GET", f"{base}{rid}/file/")
    assert status == 200 and content[:100] == part and len(content) == done["size"]
    path = tmp_path / "across.webm"
    path.write_bytes(content)
    check_file(path, duration=row["duration"], details=row["details"],
               peers=[alice.peer_id, bob.peer_id])
    await alice.leave()
    await bob.leave()
    await cluster.close_bots()
    await wait_for(lambda: cluster.owner(meeting) is None, timeout=10,
                   what="the call ended when its peers left")


async def test_a_drained_recording_node_ends_the_recording_and_composes_it_when_back(
        cluster: Cluster, tmp_path: Path) -> None:
    """The host starts recording through its socket on node1 (relayed to node0, the owner);
    node0 gets SIGTERM: the recording stops first (``node_draining``: the peers are told, the
    row is ``processing``, never left ``recording``), node0 exits 0 with no FFmpeg left; the
    call moves to node1, which records it again (a new recording that names the one it
    continues); when node0 starts again it composes the first recording, which node1 then
    serves."""
    meeting = cluster.meeting("record drain")
    alice, bob = await call_on_two_nodes(cluster, meeting)
    peers = [alice.peer_id, bob.peer_id]
    reply = await alice.signaling.request("rtc:startRecording", {})
    rid = reply["recordingId"]
    started = time.monotonic()
    await bob.signaling.wait_event("rtc:recordingStarted", recordingId=rid)
    await asyncio.sleep(4.0)
    node0 = cluster.live.nodes[0]
    stopped = time.monotonic()
    assert await asyncio.to_thread(cluster.live.terminate, 0) == 0
    await alice.signaling.wait_event("rtc:recordingStopped", recordingId=rid,
                                     reason="node_draining")
    row = cluster.live.shell(ROW.format(rid=rid))
    assert row["status"] == "processing" and row["stop_reason"] == "node_draining", row
    assert abs(row["duration"] - (stopped - started)) < 1.5, row
    assert ffmpeg_under(node0.workdir) == []
    status, body = await api(cluster, 1, "alice", "GET", f"/api/meetings/{meeting}/recordings/")
    assert status == 200 and {r["id"]: r["status"] for r in body}[rid] == "processing"

    # The call moved to node1 with alice: node1 records it again, saying what it continues.
    moved = await eventually(lambda: [e["data"]["recordingId"] for e in alice.events
                                      if e["type"] == "rtc:recordingStarted"
                                      and e["data"]["recordingId"] != rid],
                             timeout=30, what="node1 records the call again")
    await asyncio.sleep(3.0)
    status, body = await api(cluster, 1, "alice", "POST",
                             f"/api/meetings/{meeting}/recordings/{moved[0]}/stop/")
    assert status == 200, body
    after = cluster.live.shell(ROW.format(rid=moved[0]))
    assert (after["details"]["recorder"], after["details"]["continues"]) == ("node1", rid)
    done = await settled(cluster, 1, f"/api/meetings/{meeting}/recordings/{moved[0]}/")
    assert done["status"] == "ready" and done["duration"] > 2.0, done

    await asyncio.to_thread(node0.start, migrate=False)  # the same node (NODE_ID, disk)
    done = await settled(cluster, 1, f"/api/meetings/{meeting}/recordings/{rid}/")
    assert done["status"] == "ready", done
    await _download_and_check(cluster, meeting, rid, tmp_path / "drained.webm", peers)
    await cluster.close_bots()


async def test_a_killed_recording_node_fails_its_recording_then_composes_it_when_back(
        cluster: Cluster, tmp_path: Path) -> None:
    """node0 is SIGKILLed while it records: once its lease runs out node1 (which noticed)
    marks the recording ``failed`` with ``node_lost`` and says why (it never stays
    ``recording``); when node0 starts again it composes what it saved, which becomes
    ``ready`` and plays."""
    meeting = cluster.meeting("record kill")
    alice, bob = await call_on_two_nodes(cluster, meeting)
    peers = [alice.peer_id, bob.peer_id]
    base = f"/api/meetings/{meeting}/recordings/"
    status, body = await api(cluster, 1, "alice", "POST", base)
    assert status == 201, body
    rid = body["id"]
    await bob.signaling.wait_event("rtc:recordingStarted", recordingId=rid)
    await asyncio.sleep(4.0)
    killed = time.monotonic()
    cluster.live.kill(0)
    def ended() -> dict[str, Any] | None:
        row = cluster.live.shell(ROW.format(rid=rid))
        return None if row["status"] == "recording" else row

    row = await eventually(ended, timeout=20, every=0.5, what="the recording ended")
    print(f"recording of a killed node failed {time.monotonic() - killed:.1f}s after SIGKILL")  # noqa: T201
    assert row["status"] == "failed" and row["stop_reason"] == "node_lost", row
    assert "node0" in row["failure_reason"], row

    await asyncio.to_thread(cluster.live.nodes[0].start, migrate=False)
    done = await settled(cluster, 1, f"{base}{rid}/", lost=row["failure_reason"])
    assert done["status"] == "ready", done
    assert done["duration"] > 2.0, done
    await _download_and_check(cluster, meeting, rid, tmp_path / "killed.webm", peers)
    await cluster.close_bots()
