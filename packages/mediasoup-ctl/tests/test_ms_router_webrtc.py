"""Router and WebRtcTransport against the real worker: creation, parameters, requests, closing."""

from __future__ import annotations

import pytest

from mediasoup_ctl import InvalidParameterError, InvalidStateError, UnsupportedError
from mediasoup_ctl.testing import close_twice
from ms_media import LOOPBACK_UDP, MEDIA_CODECS

FAKE_DTLS = {
    "role": "client",
    "fingerprints": [{"algorithm": "sha-256", "value": ":".join(["AB"] * 32)}],
}


async def test_router_capabilities_dump_and_close(worker):
    """A router gets RTP capabilities from its codecs, shows in the worker, and closes once."""
    router = await worker.create_router(media_codecs=MEDIA_CODECS, app_data={"room": "r1"})
    mimes = [c["mimeType"] for c in router.rtp_capabilities["codecs"]]
    assert {"audio/opus", "video/VP8", "video/H264", "video/rtx"} <= set(mimes)
    assert router.app_data == {"room": "r1"}
    assert (await worker.dump())["routerIds"] == [router.id]
    assert (await router.dump())["id"] == router.id
    close_twice(router)
    assert worker.routers == {}
    assert (await worker.dump())["routerIds"] == []
    with pytest.raises(InvalidStateError):
        await router.dump()
    with pytest.raises(InvalidStateError):
        await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP)


async def test_invalid_codecs_fail_before_the_worker_sees_them(worker):
    """Bad media codecs raise InvalidParameterError/UnsupportedError and create nothing."""
    with pytest.raises(InvalidParameterError):
        await worker.create_router(media_codecs=[{"kind": "audio", "mimeType": "opus"}])
    with pytest.raises(UnsupportedError):
        await worker.create_router(media_codecs=[
            {"kind": "audio", "mimeType": "audio/nope", "clockRate": 8000}])
    with pytest.raises(InvalidParameterError):
        await worker.create_router(media_codecs=[], app_data=[1])  # type: ignore[arg-type]
    assert (await worker.dump())["routerIds"] == []


async def test_webrtc_transport_parameters_and_options(worker):
    """ICE/DTLS/SCTP parameters come back in mediasoup's shape and honour the options."""
    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    transport = await router.create_webrtc_transport(
        listen_infos=[{"protocol": "udp", "ip": "127.0.0.1", "announcedAddress": "10.0.0.1"},
                      {"protocol": "tcp", "ip": "127.0.0.1"}],
        enable_udp=True, enable_tcp=True, prefer_udp=True,
        initial_available_outgoing_bitrate=1_000_000, enable_sctp=True,
        num_sctp_streams={"OS": 256, "MIS": 128}, max_sctp_message_size=100_000,
        app_data={"peer": "p1"})
    assert transport.type == "webrtc" and transport.ice_role == "controlled"
    assert set(transport.ice_parameters) == {"usernameFragment", "password", "iceLite"}
    assert transport.ice_parameters["iceLite"] is True
    udp, tcp = transport.ice_candidates
    assert udp["protocol"] == "udp" and udp["address"] == "10.0.0.1" and udp["type"] == "host"
    assert tcp["protocol"] == "tcp" and tcp["tcpType"] == "passive"
    assert udp["priority"] > tcp["priority"]  # prefer_udp
    assert transport.dtls_parameters["role"] == "auto"
    assert {f["algorithm"] for f in transport.dtls_parameters["fingerprints"]} >= {"sha-256"}
    assert transport.sctp_parameters == {
        "port": 5000, "OS": 256, "MIS": 128, "maxMessageSize": 100_000,
        "sendBufferSize": 262144, "sctpBufferedAmount": 0, "isDataChannel": True}
    assert (transport.ice_state, transport.dtls_state, transport.sctp_state) == (
        "new", "new", "new")
    assert router.transports == {transport.id: transport}
    dump = await transport.dump()
    assert dump["id"] == transport.id and dump["iceCandidates"] == transport.ice_candidates
    [stats] = await transport.get_stats()
    assert stats["type"] == "webrtc-transport" and stats["transportId"] == transport.id
    assert stats["iceState"] == "new" and stats["bytesReceived"] == 0


async def test_webrtc_transport_requests(worker):
    """connect, restart_ice, bitrates and trace events reach the worker and update state."""
    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    transport = await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP)
    old = dict(transport.ice_parameters)
    new = await transport.restart_ice()
    assert new["usernameFragment"] != old["usernameFragment"]
    assert transport.ice_parameters == new
    await transport.set_max_incoming_bitrate(1_500_000)
    await transport.set_max_outgoing_bitrate(2_000_000)
    await transport.set_min_outgoing_bitrate(100_000)
    [stats] = await transport.get_stats()
    assert stats["maxIncomingBitrate"] == 1_500_000
    assert stats["maxOutgoingBitrate"] == 2_000_000
    await transport.enable_trace_event(["bwe", "probation", "bogus"])
    assert (await transport.dump())["traceEventTypes"] == ["probation", "bwe"]
    with pytest.raises(InvalidParameterError):
        await transport.set_max_incoming_bitrate(-1)
    with pytest.raises(InvalidParameterError):
        await transport.connect(dtls_parameters={"fingerprints": []})
    with pytest.raises(InvalidParameterError):
        await transport.connect(dtls_parameters={"role": "boss", "fingerprints": []})
    await transport.connect(dtls_parameters=FAKE_DTLS)
    assert transport.dtls_parameters["role"] == "server"  # remote is client


async def test_webrtc_transport_refuses_bad_arguments(worker):
    """Missing or malformed listen infos fail before anything is sent."""
    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    for bad in ([], [{"protocol": "sctp", "ip": "127.0.0.1"}], [{"protocol": "udp"}], None):
        with pytest.raises(InvalidParameterError):
            await router.create_webrtc_transport(listen_infos=bad)
    with pytest.raises(InvalidParameterError):
        await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP,
                                             num_sctp_streams={"OS": 1})
    with pytest.raises(TypeError):
        await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP, bogus_option=1)
    assert (await router.dump())["transportIds"] == []


async def test_transport_close_is_one_request_and_cleans_up(worker):
    """transport.close() removes it from router and worker; calls then raise."""
    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    transport = await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP,
                                                     enable_sctp=True)
    events = []
    transport.observer.on("close", lambda: events.append("observer close"))
    transport.on("routerclose", lambda: events.append("routerclose"))
    transport.close()
    assert transport.closed and events == ["observer close"]
    assert (transport.ice_state, transport.dtls_state, transport.sctp_state) == (
        "closed", "closed", "closed")
    assert router.transports == {}
    assert (await router.dump())["transportIds"] == []
    with pytest.raises(InvalidStateError):
        await transport.get_stats()
    with pytest.raises(InvalidStateError):
        await transport.produce(kind="audio", rtp_parameters={})
