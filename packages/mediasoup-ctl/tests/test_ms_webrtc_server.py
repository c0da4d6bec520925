"""WebRtcServer against the real worker: sockets, shared ports, close cascades.

Real media through one server port, which needs the bots' aiortc peers, is in the
application's tests/mediasoup/test_ms_webrtc_server_media.py."""

from __future__ import annotations

from typing import Any

import pytest

from mediasoup_ctl import (
    InvalidParameterError,
    InvalidStateError,
    WebRtcServer,
    WorkerError,
    create_worker,
)
from mediasoup_ctl.testing import close_twice
from ms_media import MEDIA_CODECS, free_udp_tcp_port


def udp_tcp(port: int) -> list[dict[str, Any]]:
    return [{"protocol": "udp", "ip": "127.0.0.1", "port": port},
            {"protocol": "tcp", "ip": "127.0.0.1", "port": port}]


async def test_server_binds_its_ports_and_shows_in_the_worker_dump(worker):
    """A server listens on the given UDP and TCP port; the worker lists it until it closes."""
    port = free_udp_tcp_port()
    created: list[WebRtcServer] = []
    worker.observer.on("newwebrtcserver", created.append)
    server = await worker.create_webrtc_server(listen_infos=udp_tcp(port),
                                               app_data={"slot": 0})
    assert created == [server] and worker.webrtc_servers == {server.id: server}
    assert server.app_data == {"slot": 0} and not server.closed
    assert (await worker.dump())["webRtcServerIds"] == [server.id]
    dump = await server.dump()
    assert dump["id"] == server.id
    assert dump["udpSockets"] == [{"ip": "127.0.0.1", "port": port}]
    assert dump["tcpServers"] == [{"ip": "127.0.0.1", "port": port}]
    assert dump["webRtcTransportIds"] == [] and dump["tupleHashes"] == []
    # The port is really taken: a second server cannot bind it.
    with pytest.raises(WorkerError):
        await worker.create_webrtc_server(listen_infos=udp_tcp(port)[:1])
    close_twice(server)
    assert worker.webrtc_servers == {}
    assert (await worker.dump())["webRtcServerIds"] == []
    with pytest.raises(InvalidStateError):
        await server.dump()


async def test_port_zero_lets_the_worker_pick_from_its_range(worker):
    """No port (or 0) and no portRange: the worker binds a port of its rtc port range."""
    server = await worker.create_webrtc_server(
        listen_infos=[{"protocol": "udp", "ip": "127.0.0.1"},
                      {"protocol": "tcp", "ip": "127.0.0.1", "port": 0}])
    dump = await server.dump()
    [udp], [tcp] = dump["udpSockets"], dump["tcpServers"]
    assert 40000 <= udp["port"] <= 49999 and 40000 <= tcp["port"] <= 49999  # conftest range
    server.close()


async def test_bad_arguments_are_refused_before_the_worker_sees_them(worker, worker2):
    """Listen infos, app_data and the transport's listen choice are checked as in mediasoup."""
    bad_listen_infos: list[Any] = [
        None, [], {"protocol": "udp", "ip": "127.0.0.1"},
        [{"protocol": "sctp", "ip": "127.0.0.1"}], [{"protocol": "udp"}],
        [{"protocol": "udp", "ip": "127.0.0.1", "port": 70000}],
        [{"protocol": "udp", "ip": "127.0.0.1", "port": "4443"}],
        [{"protocol": "udp", "ip": "127.0.0.1"}] * 9,
    ]
    for listen_infos in bad_listen_infos:
        with pytest.raises(InvalidParameterError):
            await worker.create_webrtc_server(listen_infos=listen_infos)
    with pytest.raises(InvalidParameterError):
        await worker.create_webrtc_server(listen_infos=udp_tcp(0), app_data="x")  # type: ignore
    with pytest.raises(InvalidParameterError, match="invalid IP"):  # the worker's TypeError
        await worker.create_webrtc_server(listen_infos=[{"protocol": "udp", "ip": "nope"}])
    assert (await worker.dump())["webRtcServerIds"] == [] and worker.webrtc_servers == {}

    server = await worker.create_webrtc_server(listen_infos=udp_tcp(0))
    other = await worker2.create_webrtc_server(listen_infos=udp_tcp(0))
    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    with pytest.raises(InvalidParameterError, match="one is mandatory"):
        await router.create_webrtc_transport()
    with pytest.raises(InvalidParameterError, match="only one"):
        await router.create_webrtc_transport(
            webrtc_server=server, listen_infos=[{"protocol": "udp", "ip": "127.0.0.1"}])
    with pytest.raises(InvalidParameterError, match="another worker"):
        await router.create_webrtc_transport(webrtc_server=other)
    with pytest.raises(InvalidParameterError):
        await router.create_webrtc_transport(webrtc_server="id")
    server.close()
    with pytest.raises(InvalidStateError):
        await router.create_webrtc_transport(webrtc_server=server)
    assert router.transports == {} and other.webrtc_transports == {}
    await worker2.dump()
    other.close()


async def test_transports_on_one_server_share_its_port(worker):
    """Two transports of two routers announce the server's port; the server tracks both."""
    port = free_udp_tcp_port()
    server = await worker.create_webrtc_server(listen_infos=udp_tcp(port))
    handled: list[Any] = []
    unhandled: list[Any] = []
    server.observer.on("webrtctransporthandled", handled.append)
    server.observer.on("webrtctransportunhandled", unhandled.append)
    router_a = await worker.create_router(media_codecs=MEDIA_CODECS)
    router_b = await worker.create_router(media_codecs=MEDIA_CODECS)
    first = await router_a.create_webrtc_transport(webrtc_server=server)
    second = await router_b.create_webrtc_transport(webrtc_server=server, enable_tcp=False)
    assert handled == [first, second]
    assert {(c["protocol"], c["port"], c["ip"]) for c in first.ice_candidates} == {
        ("udp", port, "127.0.0.1"), ("tcp", port, "127.0.0.1")}
    assert [(c["protocol"], c["port"]) for c in second.ice_candidates] == [("udp", port)]
    assert first.ice_parameters["usernameFragment"] != second.ice_parameters["usernameFragment"]
    dump = await server.dump()
    assert sorted(dump["webRtcTransportIds"]) == sorted([first.id, second.id])
    assert {u["webRtcTransportId"]: u["localIceUsernameFragment"]
            for u in dump["localIceUsernameFragments"]} == {
        first.id: first.ice_parameters["usernameFragment"],
        second.id: second.ice_parameters["usernameFragment"]}
    assert server.webrtc_transports == {first.id: first, second.id: second}
    # Closing a transport (or its router) lets go of it in the server too.
    first.close()
    router_b.close()
    assert unhandled == [first, second] and server.webrtc_transports == {}
    assert (await server.dump())["webRtcTransportIds"] == []
    router_a.close()
    server.close()


async def test_closing_the_server_closes_its_transports(worker):
    """server.close(): its transports close with ``listenserverclose``, the router drops them."""
    server = await worker.create_webrtc_server(listen_infos=udp_tcp(0))
    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    on_server = await router.create_webrtc_transport(webrtc_server=server)
    own = await router.create_webrtc_transport(
        listen_infos=[{"protocol": "udp", "ip": "127.0.0.1"}])
    events: list[str] = []
    on_server.on("listenserverclose", lambda: events.append("listenserverclose"))
    on_server.on("routerclose", lambda: events.append("routerclose"))
    on_server.observer.on("close", lambda: events.append("observer close"))
    unhandled: list[Any] = []
    server.observer.on("webrtctransportunhandled", unhandled.append)
    server.close()
    assert events == ["listenserverclose", "observer close"] and unhandled == [on_server]
    assert on_server.closed and on_server.ice_state == "closed"
    assert on_server.dtls_state == "closed"
    assert router.transports == {own.id: own} and not own.closed
    assert (await router.dump())["transportIds"] == [own.id]  # the worker closed it too
    assert (await worker.dump())["webRtcServerIds"] == []
    router.close()


async def test_closing_the_worker_closes_the_server(worker_bin):
    """worker.close(): routers close their transports, then the server emits ``workerclose``."""
    worker = await create_worker(log_level="warn", rtc_min_port=40000, rtc_max_port=49999)
    try:
        server = await worker.create_webrtc_server(listen_infos=udp_tcp(0))
        router = await worker.create_router(media_codecs=MEDIA_CODECS)
        transport = await router.create_webrtc_transport(webrtc_server=server)
        events: list[str] = []
        server.on("workerclose", lambda: events.append("server workerclose"))
        server.observer.on("close", lambda: events.append("server observer close"))
        transport.on("routerclose", lambda: events.append("transport routerclose"))
        transport.on("listenserverclose", lambda: events.append("transport listenserverclose"))
        worker.close()
        assert events == ["transport routerclose", "server workerclose",
                          "server observer close"]
        assert server.closed and transport.closed and worker.webrtc_servers == {}
        assert server.webrtc_transports == {}
        with pytest.raises(InvalidStateError):
            await worker.create_webrtc_server(listen_infos=udp_tcp(0))
    finally:
        worker.close()
        await worker.wait_closed(10)
