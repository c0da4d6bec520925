"""Recordings and cluster nodes, in one process: the API of a node that does not own the call
hands the start and the stop to the owner through the cluster relay (really across the
channel layer, with the owner's ids in Redis), refusals come back as the same 409; and the
recordings of a node that died (its lease ran out) never stay ``recording``.

The end-to-end proof with live daphne nodes is ``test_recording_cluster``.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import redis.asyncio as aioredis
from asgiref.sync import ThreadSensitiveContext
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from meetings import services as meeting_services
from recordings import handover, live, processing, services
from recordings.models import Recording
from rtc import cluster
from rtc.cluster.node import Node
from rtc.cluster.store import ClusterStore
from rtc.recording.manager import recorder
from rtc.services.mediasoup_service import MediasoupService
from rtc.services.room_service import RoomService
from tests.cluster.conftest import REDIS_URL
from tests.recordings.test_recording_files import _left_behind
from tests.support.waiting import eventually

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


@pytest.fixture
async def nodes(rtc_service: RoomService, rtc_settings: Any) -> AsyncIterator[tuple[Node, Node]]:
    """``front`` (this process's node, no call) and ``owner`` (whose RoomService is the
    test's, where the calls run), with a key prefix of their own in Redis."""
    rtc_settings.CLUSTER = {"ENABLED": True, "LEASE_SECONDS": 2, "RELAY_TIMEOUT_SECONDS": 3,
                            "DRAIN_SECONDS": 0}
    redis = aioredis.from_url(REDIS_URL)
    prefix = f"conf-rec-nodes-{uuid.uuid4().hex[:8]}:cluster:"
    layer = get_channel_layer()

    def make(name: str, service: Any) -> Node:
        return Node(node_id=name, store=ClusterStore(redis, prefix=prefix, lease_ms=2000),
                    layer=layer, service=service, lease_seconds=2, address="127.0.0.1")

    front = make("front-node", RoomService(MediasoupService(num_workers=1)))
    owner = make("owner-node", rtc_service)
    for node in (front, owner):
        await node.start()
    for node in (front, owner):
        await node.heartbeat()
    try:
        yield front, owner
    finally:
        cluster.set_local_node(None)
        from rtc.policy.attendance import attendance

        attendance.listener = None
        for node in (front, owner):
            await node.stop()
        keys = [k async for k in redis.scan_iter(match=f"{prefix}*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


async def test_a_node_without_the_call_hands_start_and_stop_to_its_owner(
        nodes, recording_env, rtc_client, api_as, meeting, host_user) -> None:
    """The call runs on ``owner``; the API is served by ``front``: start answers 201 and the
    owner records, a second start is refused 409 with the owner's message, stop answers 200
    and the owner stops it; a stop of another recording and an owner gone from the records
    are refused (409), not left hanging."""
    front, owner = nodes
    assert await owner.store.claim(str(meeting.id), owner.id) == owner.id
    host = await rtc_client(meeting, host_user)
    await host.join("Hazel")  # served here, by the owner's RoomService
    cluster.set_local_node(front)
    client = await api_as(host_user)
    base = f"/api/meetings/{meeting.id}/recordings/"

    async def post(path: str) -> Any:
        # As under daphne (Django's ASGIHandler), each request's sync code gets a thread of
        # its own; the test client would run it on the one thread the owner's relayed
        # database calls also need (in one process only: nodes are processes).
        async with ThreadSensitiveContext():
            return await client.post(path)

    started = await post(base)
    assert started.status_code == 201, started.content
    rid = started.json()["id"]
    assert recorder.active(meeting.id).recording_id == rid
    assert (await host.event("rtc:recordingStarted"))["recordingId"] == rid
    again = await post(base)
    assert again.status_code == 409
    assert again.json()["detail"] == "This meeting is being recorded already."
    with pytest.raises(live.ApplicationError) as other:
        await live.stop_recording(meeting_id=meeting.id, recording_id=uuid.uuid4())
    assert other.value.code == "conflict"

    stopped = await post(f"{base}{rid}/stop/")
    assert stopped.status_code == 200 and stopped.json()["id"] == rid
    assert recorder.active(meeting.id) is None
    await processing.wait_idle()
    recording = await Recording.objects.aget(pk=rid)  # no media was sent: nothing composed
    assert recording.stop_reason == "stopped" and recording.status == "failed"

    front.records.pop(owner.id)  # as if the owner's lease ran out a moment ago
    gone = await post(base)
    assert gone.status_code == 409 and "media server is gone" in gone.json()["detail"]
    await host.ok("rtc:leave")


def _recording_of(meeting: Any, user: Any, root: Path, *, node: str,
                  recorder_id: str) -> Recording:
    return services.recording_create(meeting_id=meeting.pk, started_by_id=user.pk,
                                     work_root=root, node=node, recorder=recorder_id)


async def test_the_recordings_of_a_lost_node_leave_recording(recording_env, rtc_settings,
                                                             host_user) -> None:
    """A node dies while recording: one recording whose tracks are on this node's disk is
    taken over and composed here (``node_lost``); one on another node's disk is ``failed``
    (``node_lost``, saying so) and composed when that node starts again; one made by a live
    sibling of this node is left to it; the one node told acts once."""
    meetings = [await database_sync_to_async(meeting_services.meeting_create)(
        host=host_user, title=f"m{i}") for i in range(3)]
    work = recording_env / "work"
    make = database_sync_to_async(_recording_of)
    here = await make(meetings[0], host_user, work, node="test-node", recorder_id="dead-1")
    there = await make(meetings[1], host_user, work, node="disk-b", recorder_id="dead-2")
    sibling = await make(meetings[2], host_user, work, node="test-node", recorder_id="alive")
    for recording in (here, there, sibling):
        await database_sync_to_async(_left_behind)(recording, final=False)

    assert await processing.nodes_lost(["dead-1", "dead-2"]) == 2
    assert await processing.nodes_lost(["dead-1", "dead-2"]) == 0
    await processing.wait_idle()
    here = await Recording.objects.aget(pk=here.pk)
    assert here.status == "ready" and here.stop_reason == "node_lost", here.failure_reason
    there = await Recording.objects.aget(pk=there.pk)
    assert there.status == "failed" and there.stop_reason == "node_lost"
    assert there.failure_reason.startswith("the server recording it (dead-2) stopped")
    assert Path(there.work_dir).exists()  # partial media kept

    cluster.set_local_node(SimpleNamespace(id="me", records={"me": {}, "alive": {}}))
    try:
        assert await processing.recover() == 0  # disk-b's recording is not this node's
        rtc_settings.RECORDING = {**rtc_settings.RECORDING, "NODE": "disk-b"}
        assert await processing.recover() == 1  # disk-b started again
        await processing.wait_idle()
    finally:
        cluster.set_local_node(None)
    there = await Recording.objects.aget(pk=there.pk)
    assert there.status == "ready" and there.failure_reason == "", there.failure_reason
    assert (await Recording.objects.aget(pk=sibling.pk)).status == "recording"
    assert await database_sync_to_async(services.recording_reopen)(recording_id=there.pk) \
        is False


async def test_stopping_a_recording_whose_process_died(recording_env, meeting,
                                                       host_user) -> None:
    """Stop asked for a recording still ``recording`` whose session is gone (its process
    died): on the node holding its tracks it is finished from what was saved; a recording
    made on another node's disk is refused (409), as is a stop when none runs."""
    make = database_sync_to_async(_recording_of)
    work = recording_env / "work"
    elsewhere = await make(meeting, host_user, work, node="disk-b", recorder_id="")
    with pytest.raises(live.ApplicationError) as refused:
        await live.stop_recording(meeting_id=meeting.id)
    assert refused.value.message == "This recording is made by another server."
    await database_sync_to_async(services.recording_mark_failed)(recording_id=elsewhere.pk,
                                                                  reason="test")
    mine = await make(meeting, host_user, work, node="test-node", recorder_id="")
    await database_sync_to_async(_left_behind)(mine, final=False)
    stopped = await live.stop_recording(meeting_id=meeting.id, recording_id=mine.pk)
    assert stopped.status == "processing" and stopped.stop_reason == "stopped"
    await processing.wait_idle()
    assert (await Recording.objects.aget(pk=mine.pk)).status == "ready"
    with pytest.raises(live.ApplicationError) as none:
        await live.stop_recording(meeting_id=meeting.id)
    assert none.value.message == "No recording of this meeting is running."


async def test_the_next_owner_of_a_drained_call_records_it_again(
        nodes, recording_env, peer_in, meeting, host_user) -> None:
    """A drained node leaves a note for its stopped recording; the node the call moves to
    finds it when the call's first track is published there and records the call again, the
    new recording naming the one it continues; the note is used once, and forgotten here
    when the call ends."""
    front, owner = nodes
    previous = await database_sync_to_async(_recording_of)(
        meeting, host_user, recording_env / "work", node="test-node", recorder_id="gone")
    await database_sync_to_async(services.recording_mark_processing)(
        recording_id=previous.pk, ended_at=None, duration=2.0, stop_reason="node_draining")
    cluster.set_local_node(front)  # the draining node writes the note
    await handover.leave_note(await Recording.objects.select_related("started_by").aget(
        pk=previous.pk))
    assert await owner.store.claim(str(meeting.id), owner.id) == owner.id
    cluster.set_local_node(owner)  # the call's next owner
    host = await peer_in(meeting, host_user, "Hazel")
    await eventually(lambda: recorder.active(meeting.id) is not None, what="the recording resumed")
    session = recorder.active(meeting.id)
    continued = await Recording.objects.aget(pk=session.recording_id)
    assert continued.details == {"recorder": "owner-node", "continues": str(previous.pk)}
    assert continued.started_by_id == host_user.pk
    assert str(meeting.id) in handover._checked
    await live.stop_recording(meeting_id=meeting.id)
    await processing.wait_idle()
    assert await owner.store.redis.get(f"{owner.store.prefix}recording-resume:{meeting.id}") \
        is None
    await host.leave()
    await eventually(lambda: str(meeting.id) not in handover._checked,  # the call ended here
                     what="the handover check forgotten")
