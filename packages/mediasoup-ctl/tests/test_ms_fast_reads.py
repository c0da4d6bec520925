"""Replies read with ``fbs_read`` say what the generated object API reads from the same bytes.

The hot replies (worker dump and resource usage, router dump, transport dumps, produce and
consume results) are parsed with the fast reader. Here the same reply bytes are also read
with the generated ``...T.InitFromObj`` (which reads every field) and the two must agree.
"""

from __future__ import annotations

from typing import Any

from FBS.Request.Method import Method
from FBS.Router.DumpResponse import DumpResponse as RouterDump
from FBS.Router.DumpResponse import DumpResponseT as RouterDumpT
from FBS.Transport.Dump import DumpT as BaseDumpT
from FBS.WebRtcTransport.DumpResponse import DumpResponse as WebRtcDump
from FBS.WebRtcTransport.DumpResponse import DumpResponseT as WebRtcDumpT
from FBS.Worker.DumpResponse import DumpResponse as WorkerDump
from FBS.Worker.DumpResponse import DumpResponseT as WorkerDumpT
from FBS.Worker.ResourceUsageResponse import ResourceUsageResponse, ResourceUsageResponseT

from mediasoup_ctl.channel import body_of
from mediasoup_ctl.fbs_transport import SCTP_STATES, parse_base_dump
from mediasoup_ctl.fbs_utils import to_dict
from ms_media import LOOPBACK_UDP, MEDIA_CODECS, audio_parameters, simulcast_video_parameters


def _strings(values: list[Any] | None) -> list[str]:
    return [v.decode() for v in values or []]


def _pairs(items: list[Any] | None) -> list[dict[str, Any]]:
    return [{"key": i.key.decode() if isinstance(i.key, bytes) else i.key,
             "value": i.value.decode()} for i in items or []]


def _pair_arrays(items: list[Any] | None) -> list[dict[str, Any]]:
    return [{"key": i.key.decode(), "values": _strings(i.values)} for i in items or []]


def _expected_base(base: BaseDumpT) -> dict[str, Any]:
    """The base transport dump as the object API reads it, in our dict shape."""
    sctp = base.sctpParameters
    expected = {
        "id": base.id.decode(), "direct": base.direct,
        "producerIds": _strings(base.producerIds), "consumerIds": _strings(base.consumerIds),
        "mapSsrcConsumerId": _pairs(base.mapSsrcConsumerId),
        "mapRtxSsrcConsumerId": _pairs(base.mapRtxSsrcConsumerId),
        "dataProducerIds": _strings(base.dataProducerIds),
        "dataConsumerIds": _strings(base.dataConsumerIds),
        "recvRtpHeaderExtensions": to_dict(base.recvRtpHeaderExtensions),
        "rtpListener": {"ssrcTable": _pairs(base.rtpListener.ssrcTable),
                        "midTable": _pairs(base.rtpListener.midTable),
                        "ridTable": _pairs(base.rtpListener.ridTable)},
        "maxMessageSize": base.maxMessageSize,
    }
    if sctp is not None:
        expected["sctpParameters"] = {
            "port": sctp.port, "OS": sctp.os, "MIS": sctp.mis,
            "maxMessageSize": sctp.maxMessageSize, "sendBufferSize": sctp.sendBufferSize,
            "sctpBufferedAmount": sctp.sctpBufferedAmount, "isDataChannel": sctp.isDataChannel}
    if base.sctpState is not None:
        expected["sctpState"] = SCTP_STATES[base.sctpState]
    if base.sctpListener is not None:
        expected["sctpListener"] = {"streamIdTable": _pairs(base.sctpListener.streamIdTable)}
    return expected


async def test_worker_replies_read_alike(worker):
    """Worker dump and resource usage: fast parse == object API on the same reply."""
    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    reply = await worker.channel.request(Method.WORKER_DUMP)
    dump = WorkerDumpT.InitFromObj(body_of(reply, WorkerDump))
    parsed = await worker.dump()
    assert parsed["pid"] == dump.pid == worker.pid
    assert parsed["routerIds"] == _strings(dump.routerIds) == [router.id]
    handlers = parsed["channelMessageHandlers"]
    assert handlers["channelRequestHandlers"] == _strings(
        dump.channelMessageHandlers.channelRequestHandlers)
    assert handlers["channelNotificationHandlers"] == _strings(
        dump.channelMessageHandlers.channelNotificationHandlers)
    assert ("liburing" in parsed) == (dump.liburing is not None)
    usage = await worker.get_resource_usage()
    reply = await worker.channel.request(Method.WORKER_GET_RESOURCE_USAGE)
    expected = ResourceUsageResponseT.InitFromObj(body_of(reply, ResourceUsageResponse))
    assert set(usage) == {f"ru_{k[2:].lower()}" for k in vars(expected)}
    assert usage["ru_maxrss"] > 0 and usage["ru_nswap"] == expected.ruNswap
    router.close()


async def test_router_and_transport_dumps_read_alike(worker):
    """Router dump maps and WebRtcTransport dumps (SCTP, TCP candidates) agree field by field."""
    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    send = await router.create_webrtc_transport(
        listen_infos=[*LOOPBACK_UDP, {"protocol": "tcp", "ip": "127.0.0.1"}],
        enable_tcp=True, enable_sctp=True)
    recv = await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP)
    await send.produce(kind="audio", rtp_parameters=audio_parameters())
    video = await send.produce(kind="video", rtp_parameters=simulcast_video_parameters())
    await recv.consume(producer_id=video.id, rtp_capabilities=router.rtp_capabilities)

    expected_router = RouterDumpT.InitFromObj(
        body_of(await worker.channel.request(Method.ROUTER_DUMP, router.id), RouterDump))
    parsed = await router.dump()
    assert parsed["transportIds"] == _strings(expected_router.transportIds)
    assert parsed["mapProducerIdConsumerIds"] == _pair_arrays(
        expected_router.mapProducerIdConsumerIds)
    assert parsed["mapConsumerIdProducerId"] == _pairs(expected_router.mapConsumerIdProducerId)
    assert parsed["mapConsumerIdProducerId"][0]["value"] == video.id

    for transport in (send, recv):
        reply = await worker.channel.request(Method.TRANSPORT_DUMP, transport.id)
        expected = WebRtcDumpT.InitFromObj(body_of(reply, WebRtcDump))
        dump = await transport.dump()
        assert parse_base_dump(body_of(reply, WebRtcDump).Base()) == {
            **_expected_base(expected.base),
            "traceEventTypes": []}
        assert {k: dump[k] for k in _expected_base(expected.base)} == \
            _expected_base(expected.base)
        assert dump["iceParameters"] == {
            "usernameFragment": expected.iceParameters.usernameFragment.decode(),
            "password": expected.iceParameters.password.decode(),
            "iceLite": expected.iceParameters.iceLite}
        assert [(c["foundation"], c["priority"], c["ip"], c["port"], c["protocol"],
                 "tcpType" in c) for c in dump["iceCandidates"]] == [
            (c.foundation.decode(), c.priority, c.address.decode(), c.port,
             "udp" if c.protocol == 1 else "tcp", c.tcpType is not None)
            for c in expected.iceCandidates]
        assert [f["value"] for f in dump["dtlsParameters"]["fingerprints"]] == [
            f.value.decode() for f in expected.dtlsParameters.fingerprints]
        # what creation returned is what a later dump reads
        assert transport.ice_parameters == dump["iceParameters"]
        assert transport.ice_candidates == dump["iceCandidates"]
        assert transport.dtls_parameters == dump["dtlsParameters"]
    assert send.sctp_parameters == (await send.dump())["sctpParameters"]
    assert any(c["protocol"] == "tcp" for c in send.ice_candidates)
    router.close()


async def test_produce_and_consume_results_read_alike(worker):
    """Producer type, consumer score, pause state and preferred layers match the dumps."""
    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    send = await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP)
    recv = await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP)
    audio = await send.produce(kind="audio", rtp_parameters=audio_parameters())
    video = await send.produce(kind="video", rtp_parameters=simulcast_video_parameters(),
                               paused=True)
    assert (audio.type, video.type) == ("simple", "simulcast")
    consumer = await recv.consume(producer_id=video.id,
                                  rtp_capabilities=router.rtp_capabilities, paused=True)
    dump = await consumer.dump()
    assert consumer.paused is dump["paused"] is True
    assert consumer.producer_paused is dump["producerPaused"] is True
    assert consumer.preferred_layers == {"spatialLayer": dump["preferredSpatialLayer"],
                                         "temporalLayer": dump["preferredTemporalLayer"]}
    assert consumer.score == {"score": 10, "producerScore": 0, "producerScores": [0, 0, 0]}
    plain = await recv.consume(producer_id=audio.id, rtp_capabilities=router.rtp_capabilities)
    assert plain.preferred_layers is None and plain.paused is False
    assert plain.score["producerScores"] == [0]
    router.close()
