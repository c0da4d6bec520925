"""MEDIASOUP_WEBRTC_SERVER_PORT: every call transport of a worker shares its one WebRtcServer
port, and a worker that replaces a dead one listens on the same port again."""

from __future__ import annotations

import os
import signal

import pytest
from mediasoup_ctl.testing import free_udp_tcp_port

from rtc.services.room_service import RoomService

pytestmark = pytest.mark.django_db(transaction=True)


async def test_call_transports_use_the_worker_server_port(rtc_service: RoomService, rtc_client,
                                                          meeting, host_user, member_user,
                                                          settings):
    """Two peers' send and receive transports all announce the configured port (UDP and TCP)
    and are listed by the worker's WebRtcServer; leaving lets go of them there too."""
    port = free_udp_tcp_port()
    settings.MEDIASOUP = {**settings.MEDIASOUP, "WEBRTC_SERVER_PORT": port}
    host = await rtc_client(meeting, host_user)
    member = await rtc_client(meeting, member_user)
    await host.join("Hazel")
    await member.join("Milo")
    created = [await client.ok("rtc:createTransport", {"direction": direction})
               for client in (host, member) for direction in ("send", "recv")]
    assert {(c["protocol"], c["port"]) for t in created for c in t["iceCandidates"]} == {
        ("udp", port), ("tcp", port)}
    [worker] = rtc_service.mediasoup.workers
    server = rtc_service.mediasoup.webrtc_server_of(worker)
    assert server is not None and worker.webrtc_servers == {server.id: server}
    dump = await server.dump()
    assert dump["udpSockets"] == [{"ip": "127.0.0.1", "port": port}]
    assert dump["tcpServers"] == [{"ip": "127.0.0.1", "port": port}]
    assert sorted(dump["webRtcTransportIds"]) == sorted(t["id"] for t in created)
    for client in (host, member):
        await client.ok("rtc:leave")
    assert (await server.dump())["webRtcTransportIds"] == []
    assert server.webrtc_transports == {}


async def test_replacement_worker_gets_the_dead_workers_port(rtc_service: RoomService,
                                                             settings):
    """Slot i listens on base+i; the worker replacing a killed one listens on its port."""
    base = free_udp_tcp_port()
    settings.MEDIASOUP = {**settings.MEDIASOUP, "WEBRTC_SERVER_PORT": base}
    pool = rtc_service.mediasoup
    await pool.start()
    [old] = pool.workers
    old_server = pool.webrtc_server_of(old)
    assert old_server is not None
    assert (await old_server.dump())["udpSockets"] == [{"ip": "127.0.0.1", "port": base}]
    os.kill(old.pid, signal.SIGKILL)
    await old.wait_closed(10)
    await pool.wait_idle()
    assert pool.replacements == 1 and old_server.closed
    [new] = pool.workers
    server = pool.webrtc_server_of(new)
    assert new is not old and server is not None and server is not old_server
    dump = await server.dump()
    assert dump["udpSockets"] == dump["tcpServers"] == [{"ip": "127.0.0.1", "port": base}]


async def test_no_setting_means_no_server(rtc_service: RoomService, settings):
    """Unset (today's behaviour): workers get no WebRtcServer; transports bind their own."""
    settings.MEDIASOUP = {**settings.MEDIASOUP, "WEBRTC_SERVER_PORT": None}
    await rtc_service.mediasoup.start()
    [worker] = rtc_service.mediasoup.workers
    assert rtc_service.mediasoup.webrtc_server_of(worker) is None
    assert worker.webrtc_servers == {} and (await worker.dump())["webRtcServerIds"] == []
