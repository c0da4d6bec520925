"""Real media through one WebRtcServer port: the bots' aiortc peers against the real worker."""

from __future__ import annotations

from typing import Any

from mediasoup_ctl import WebRtcServer
from mediasoup_ctl.testing import MEDIA_CODECS, free_udp_tcp_port, wait_for
from ms_peer import Peer


def udp_tcp(port: int) -> list[dict[str, Any]]:
    return [{"protocol": "udp", "ip": "127.0.0.1", "port": port},
            {"protocol": "tcp", "ip": "127.0.0.1", "port": port}]


class _OnServer:
    """Stands in for a router in :class:`ms_peer.Peer`: its transports go on ``server``."""

    def __init__(self, router: Any, server: WebRtcServer) -> None:
        self.router, self.server = router, server
        self.rtp_capabilities = router.rtp_capabilities

    async def create_webrtc_transport(self, *, listen_infos: Any, **options: Any) -> Any:
        return await self.router.create_webrtc_transport(webrtc_server=self.server, **options)


async def test_real_media_flows_through_one_server_port(worker):
    """Bob decodes Alice's audio and video; all four transports used the server's one port."""
    port = free_udp_tcp_port()
    server = await worker.create_webrtc_server(listen_infos=udp_tcp(port))
    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    alice = Peer(_OnServer(router, server), "alice")  # type: ignore[arg-type]
    bob = Peer(_OnServer(router, server), "bob")  # type: ignore[arg-type]
    try:
        for peer in (alice, bob):
            await peer.join()
        await alice.publish()
        assert set(alice.producers) == {"audio", "video"}
        for kind in ("audio", "video"):
            await bob.subscribe(alice.producers[kind])
        ok = await wait_for(lambda: bob.counts["video"] >= 20 and bob.counts["audio"] >= 20, 20)
        assert ok, f"bob decoded {bob.counts}"
        transports = [alice.server_send, alice.server_recv, bob.server_send, bob.server_recv]
        assert len(server.webrtc_transports) == 4
        for transport in (alice.server_send, bob.server_recv):
            assert transport.dtls_state == "connected"
            assert transport.ice_selected_tuple["localPort"] == port
        assert {c["port"] for t in transports for c in t.ice_candidates} == {port}
        assert len((await server.dump())["tupleHashes"]) >= 2
    finally:
        for peer in (alice, bob):
            await peer.close()
    server.close()
    assert all(t.closed for t in transports) and router.transports == {}
    assert all(p.closed for p in alice.producers.values())
    router.close()
