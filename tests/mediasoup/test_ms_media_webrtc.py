"""Real media through the worker: two pymediasoup peers exchange audio and video."""

from __future__ import annotations

from mediasoup_ctl.testing import MEDIA_CODECS, wait_for
from ms_peer import Peer


async def test_two_peers_exchange_decodable_audio_and_video_in_both_dtls_roles(worker):
    """Each peer decodes the other's audio and video; the worker ran DTLS as client and server.

    pymediasoup's send transport is DTLS server (worker = client) and its receive transport
    DTLS client (worker = server), so every frame counted here crossed both roles.
    """
    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    alice, bob = Peer(router, "alice"), Peer(router, "bob")
    states: list[tuple[str, str]] = []
    traces: list[dict] = []
    scores: list[tuple[str, list]] = []
    try:
        for peer in (alice, bob):
            await peer.join()
            for transport in (peer.server_send, peer.server_recv):
                transport.on("dtlsstatechange",
                             lambda s, t=transport: states.append((t.id, s)))
                transport.on("icestatechange", lambda s, t=transport: states.append((t.id, s)))
            await peer.server_recv.enable_trace_event(["bwe"])
            peer.server_recv.on("trace", traces.append)
            await peer.publish()
            for producer in peer.producers.values():
                producer.on("score", lambda score, p=producer: scores.append((p.kind, score)))
        assert set(alice.producers) == {"audio", "video"} == set(bob.producers)
        for viewer, source in ((alice, bob), (bob, alice)):
            for kind in ("audio", "video"):
                await viewer.subscribe(source.producers[kind])
        ok = await wait_for(
            lambda: all(p.counts["video"] >= 20 and p.counts["audio"] >= 20
                        for p in (alice, bob)), 20)
        assert ok, f"decoded frames: alice={alice.counts} bob={bob.counts}"
        for peer in (alice, bob):
            assert peer.server_send.dtls_parameters["role"] == "client"  # worker as client
            assert peer.server_recv.dtls_parameters["role"] == "server"  # worker as server
            assert peer.server_send.dtls_state == peer.server_recv.dtls_state == "connected"
            assert peer.server_send.ice_state in ("connected", "completed")
            # tests/conftest.py keeps aiortc on loopback (bots.loopback).
            assert peer.server_send.ice_selected_tuple["localAddress"] == "127.0.0.1"
            assert peer.server_send.ice_selected_tuple["remoteIp"] == "127.0.0.1"
            assert peer.server_send.dtls_remote_cert.startswith("-----BEGIN CERTIFICATE")
        assert sum(1 for _, s in states if s == "connected") >= 8  # ICE + DTLS x 4 transports
        # The worker scores what it receives and estimates what it sends.
        assert {kind for kind, score in scores if score and score[0]["score"] > 0} == {
            "audio", "video"}
        assert alice.producers["video"].score[0]["ssrc"] > 0
        assert traces and traces[0]["type"] == "bwe" and traces[0]["direction"] == "out"
        assert traces[0]["info"]["bweType"] in ("transport-cc", "remb")
        consumer_scores = [c.score for c in alice.server_recv.consumers.values()]
        assert all(s["producerScore"] > 0 for s in consumer_scores), consumer_scores
        video = alice.producers["video"]
        stats = await video.get_stats()
        assert stats and stats[0]["type"] == "inbound-rtp" and stats[0]["packetCount"] > 0
        [transport_stats] = await alice.server_send.get_stats()
        assert transport_stats["bytesReceived"] > 0
        assert transport_stats["dtlsState"] == "connected"
        consumer = next(iter(bob.server_recv.consumers.values()))
        await consumer.request_key_frame()
        assert any(s["type"] == "outbound-rtp" and s["packetCount"] > 0
                   for s in await consumer.get_stats())
    finally:
        for peer in (alice, bob):
            await peer.close()
    router.close()
