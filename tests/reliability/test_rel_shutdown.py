"""Stopping the server closes every peer politely, marks attendance and leaves no worker.

In process: :func:`rtc.lifecycle.shutdown.shutdown` (what daphne's reactor trigger and the ASGI
lifespan run) against real sockets and a real worker. Live: a daphne subprocess gets SIGTERM in the
middle of a call; its clients see ``rtc:reconnect`` and close code 4503, the database says
everyone left, and the worker processes are gone.
"""

from __future__ import annotations

import asyncio
import signal

import pytest
from asgiref.testing import ApplicationCommunicator
from mediasoup_ctl.testing import process_gone

from bots.signaling import SignalingClient
from rtc.lifecycle import shutdown
from rtc.policy.attendance import attendance
from rtc.websocket.envelope import CloseCode
from tests.reliability.conftest import participant_row
from tests.rtc.conftest import audio_parameters
from tests.rtc.live import LiveServer, seed
from tests.support.rtc_client import join_both

pytestmark = pytest.mark.django_db(transaction=True)


async def test_shutdown_tells_peers_closes_sockets_and_marks_attendance(
        rtc_service, rtc_client, ws_communicator, ws_expect_close, meeting, host_user,
        member_user, settings):
    """Two peers in a call (one in its grace period) and a socket outside the call: the
    connected peer gets rtc:reconnect (server_shutdown), every socket is closed with 4503,
    every participant row gets left_at, the room and the worker are gone, and a socket that
    arrives meanwhile is refused with 4503."""
    settings.RTC_LIMITS = {**settings.RTC_LIMITS, "RECONNECT_GRACE_SECONDS": 60}
    host, member = await join_both(rtc_client, meeting, host_user, member_user)
    await host.produce(await host.transport("send"), "audio")
    await member.ws.disconnect()  # the member's peer waits in its grace period
    watcher = await rtc_client(meeting, member_user)  # a socket that is not in the call
    worker = rtc_service.mediasoup.workers[0]

    counts = await shutdown.shutdown()
    assert counts == {"sockets": 2, "peers": 1}
    assert await host.event("rtc:reconnect") == {"reason": "server_shutdown"}
    assert await ws_expect_close(host.ws) == CloseCode.SHUTTING_DOWN
    assert await ws_expect_close(watcher.ws) == CloseCode.SHUTTING_DOWN
    await watcher.drain(0)
    assert watcher.saw("rtc:reconnect") == [], "only call peers are told to reconnect"

    for user in (host_user, member_user):
        assert (await participant_row(meeting, user)).left_at is not None, user
    assert len(attendance) == 0
    assert rtc_service.rooms == {} and rtc_service.mediasoup.workers == []
    await asyncio.wait_for(worker.wait_closed(10), 10)
    assert process_gone(worker.pid)

    late = await ws_communicator(meeting.id, user=member_user)
    connected, _ = await late.connect(timeout=5)
    assert connected
    assert await ws_expect_close(late) == CloseCode.SHUTTING_DOWN


async def test_lifespan_shutdown_runs_the_polite_shutdown(rtc_service, rtc_client, meeting,
                                                          host_user, ws_expect_close):
    """Servers with ASGI lifespan (uvicorn) get the same: lifespan.shutdown closes the call
    and the socket, then completes."""
    from conference.asgi import application

    host = await rtc_client(meeting, host_user)
    await host.join()
    lifespan = ApplicationCommunicator(application, {"type": "lifespan"})
    await lifespan.send_input({"type": "lifespan.startup"})
    assert await lifespan.receive_output(5) == {"type": "lifespan.startup.complete"}
    await lifespan.send_input({"type": "lifespan.shutdown"})
    assert await lifespan.receive_output(15) == {"type": "lifespan.shutdown.complete"}
    assert await host.event("rtc:reconnect") == {"reason": "server_shutdown"}
    assert await ws_expect_close(host.ws) == CloseCode.SHUTTING_DOWN
    assert rtc_service.rooms == {} and rtc_service.mediasoup.workers == []


# --- a live daphne ------------------------------------------------------------------------------

PARTICIPANTS = """
import json
from meetings.models import Participant
rows = Participant.objects.filter(meeting_id={meeting!r}).select_related("user")
print(json.dumps({{p.user.username: [p.joined_at is not None, p.left_at is not None]
                  for p in rows}}))
"""


async def test_sigterm_on_daphne_closes_calls_politely(tmp_path) -> None:
    """SIGTERM on a live daphne during a call: the peer in the call gets rtc:reconnect, both
    sockets get close code 4503 (not a dropped connection), both participants are marked
    left in the database, daphne exits by itself and no worker process is left."""
    server = LiveServer(extra_env={"MEDIASOUP_WORKER_NUM": "2"}).start()
    clients: list[SignalingClient] = []

    async def connected(room: str, user: str, token: str) -> SignalingClient:
        client = SignalingClient(server.ws_url(room, token), name=user)
        clients.append(client)
        await client.connect()  # up to the meeting.state push
        return client

    try:
        data = seed(server)
        ada, bob, ops = [await connected(data[room], user, data["tokens"][user])
                         for room, user in (("meeting", "ada"), ("meeting", "bob"),
                                            ("ops_room", "ops"))]
        await ada.request("rtc:join", {"displayName": "Ada"})
        send = await ada.request("rtc:createTransport", {"direction": "send"})
        await ada.request("rtc:produce", {"transportId": send["id"], "kind": "audio",
                                          "rtpParameters": audio_parameters(),
                                          "appData": {"source": "mic"}})
        stats = await ops.request("rtc:serverStats")
        pids = [d["pid"] for d in stats["workerDumps"]]
        assert len(pids) == 2 and stats["producers"] == 1

        server.process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(server.process.wait, 20)
        close_codes = await asyncio.wait_for(
            asyncio.gather(ada.closed, bob.closed, ops.closed), 10)
        assert code == 0, server.log()
        assert {"type": "rtc:reconnect", "data": {"reason": "server_shutdown"}} in ada.events
        assert close_codes == [4503, 4503, 4503]
        assert all(process_gone(pid) for pid in pids)
        rows = server.shell(PARTICIPANTS.format(meeting=data["meeting"]))
        assert rows["ada"] == [True, True] and rows["bob"] == [True, True], rows
        assert "shutdown done [sockets:3, peers told:1]" in server.log()
    finally:
        await asyncio.gather(*(client.close() for client in clients))
        server.stop()
