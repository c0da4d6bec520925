"""Consume plans shared by the producers of one shape give what ``ortc`` gives, byte for byte.

The process remembers a consume's negotiation per (shape of the producer's consumable
parameters, capabilities, RTX), for all its routers: the producer's mapped SSRCs and CNAME
are left out of the key and written into the remembered parameters and request template
per call. These tests
consume many producers of many shapes (Opus with and without DTX and a CNAME of the
endpoint's, VP8 simulcast with RTX, VP8 with its own RTX SSRC and a bitrate cap, VP8 SVC,
H264), each producer on a transport of its own with its own SSRCs and CNAME, with several
capabilities (a browser's, one without RTX, one without transport-cc), and check every
consumer's parameters against ``ortc`` run afresh on that producer with the same random
number, and every request's bytes against the request built field by field from that
producer and consumer (no plan, no template).
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from FBS.Request.Method import Method

from mediasoup_ctl import negotiation_cache, ortc
from mediasoup_ctl.consumer import write_consume_request
from mediasoup_ctl.fbs_template import Template
from ms_media import (
    LOOPBACK_UDP,
    MEDIA_CODECS,
    SequentialNumbers,
    audio_parameters,
    simulcast_video_parameters,
    spy,
)

_same = negotiation_cache._same

pytestmark = pytest.mark.usefixtures("own_consume_cache")


def _spy_consumes(worker: Any) -> list[tuple[Any, ...]]:
    """(request id, handler id, body type, bytes sent) of every consume request from now on."""
    writer = worker.channel._messages
    request = writer.request
    seen: list[tuple[Any, ...]] = []

    def recording(request_id: int, method: int, handler_id: str, body_type: int, body: Any) -> Any:
        data = request(request_id, method, handler_id, body_type, body)
        if method == Method.TRANSPORT_CONSUME:
            seen.append((request_id, handler_id, body_type, bytes(data)))
        return data

    writer.request = recording
    return seen


def _shapes(index: int) -> list[tuple[str, dict[str, Any]]]:
    """The producers of endpoint ``index``: its own SSRCs, a CNAME of its own (of a length
    that varies), or none (the transport draws one)."""
    ssrc = 10_000_000 + 101 * index
    cname = "endpoint-" + "x" * (index % 3) + str(index)
    rtcp = {"cname": cname} if index % 4 != 3 else {}
    mic = {**audio_parameters(ssrc), "rtcp": rtcp}
    dtx = {**audio_parameters(ssrc + 1, mid="DTX"), "rtcp": rtcp,
           "encodings": [{"ssrc": ssrc + 1, "dtx": True}]}
    simulcast = {**simulcast_video_parameters(), "rtcp": rtcp}
    camera = {**simulcast_video_parameters("CAM"), "rtcp": rtcp,
              "encodings": [{"ssrc": ssrc + 2, "rtx": {"ssrc": ssrc + 3},
                             "maxBitrate": 500_000 + 1000 * (index % 2)}]}
    svc = {"mid": "SVC", "rtcp": rtcp,
           "encodings": [{"ssrc": ssrc + 4, "scalabilityMode": "L3T3"}],
           "codecs": [{"mimeType": "video/VP9", "payloadType": 98, "clockRate": 90000,
                       "parameters": {"profile-id": 0},
                       "rtcpFeedback": [{"type": "nack"}, {"type": "transport-cc"}]}],
           "headerExtensions": [{"uri": "urn:ietf:params:rtp-hdrext:sdes:mid", "id": 4}]}
    h264 = {"mid": "H264", "rtcp": rtcp, "encodings": [{"ssrc": ssrc + 5}],
            "codecs": [{"mimeType": "video/H264", "payloadType": 102, "clockRate": 90000,
                        "parameters": {"packetization-mode": 1,
                                       "profile-level-id": "42e01f",
                                       "level-asymmetry-allowed": 1},
                        "rtcpFeedback": [{"type": "nack"}, {"type": "transport-cc"}]}],
            "headerExtensions": [{"uri": "urn:ietf:params:rtp-hdrext:sdes:mid", "id": 4}]}
    return [("audio", mic), ("audio", dtx), ("video", simulcast), ("video", camera),
            ("video", svc), ("video", h264)]


CODECS = [*MEDIA_CODECS, {"kind": "video", "mimeType": "video/VP9", "clockRate": 90000,
                          "parameters": {"profile-id": 0}}]
"""The tests' router codecs and VP9 (SVC)."""


def _capabilities(router: Any) -> list[dict[str, Any]]:
    """A browser's capabilities (the router's), the same without RTX, and without
    transport-cc (REMB or no estimator then)."""
    full = copy.deepcopy(router.rtp_capabilities)
    no_rtx = copy.deepcopy(full)
    no_rtx["codecs"] = [c for c in no_rtx["codecs"] if c["mimeType"] != "video/rtx"]
    no_tcc = copy.deepcopy(full)
    no_tcc["headerExtensions"] = [e for e in no_tcc["headerExtensions"]
                                  if "transport-wide-cc" not in e["uri"]]
    return [full, no_rtx, no_tcc]


def _expected(producer: Any, caps: dict[str, Any], enable_rtx: bool, ssrc: int,
              mid: str) -> dict[str, Any]:
    """ortc's consumer parameters for this producer, with ``ssrc`` as its random draw."""
    original = ortc.generate_random_number
    ortc.generate_random_number = lambda: ssrc
    try:
        params = ortc.get_consumer_rtp_parameters(
            consumable_rtp_parameters=producer.consumable_rtp_parameters,
            remote_rtp_capabilities=caps, pipe=False, enable_rtx=enable_rtx)
    finally:
        ortc.generate_random_number = original
    params["mid"] = mid
    return dict(params)


async def test_producers_of_one_shape_share_consume_plans_and_match_ortc(worker, monkeypatch):
    """Eight endpoints' producers of six shapes, each consumed with three capabilities, with
    and without RTX, paused or not: every consumer gets exactly ortc's parameters for its own
    producer (mapped SSRCs, CNAME) and its own random SSRC, every request is byte for byte
    the one built without plan nor template, the plans are per shape (not per producer),
    their templates are used, and the worker takes every consumer with the producer's
    encodings."""
    counter = SequentialNumbers(300_000_000)
    monkeypatch.setattr(ortc, "generate_random_number", counter)
    router = await worker.create_router(media_codecs=CODECS)
    recv = await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP)
    producers = []
    for index in range(8):
        send = await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP)
        for kind, params in _shapes(index):
            producers.append(await send.produce(kind=kind, rtp_parameters=params))
    assert {p.type for p in producers} == {"simple", "simulcast", "svc"}
    capabilities = _capabilities(router)
    sent = _spy_consumes(worker)
    writer = worker.channel._messages
    consumers = []
    for round_ in range(2):
        for number, producer in enumerate(producers):
            for variant, caps in enumerate(capabilities):
                enable_rtx = producer.kind == "video" and (round_ + variant) % 3 != 2
                paused = (number + round_) % 2 == 0
                consumer = await recv.consume(producer_id=producer.id, rtp_capabilities=caps,
                                              paused=paused, enable_rtx=enable_rtx)
                ssrc = counter.given[-1]
                mid = consumer.rtp_parameters["mid"]
                expected = _expected(producer, caps, enable_rtx, ssrc, mid)
                assert _same(consumer.rtp_parameters, expected), (round_, number, variant)
                assert consumer.rtp_parameters["rtcp"]["cname"] == \
                    producer.rtp_parameters["rtcp"]["cname"]
                request_id, handler_id, body_type, data = sent[-1]
                flags = (producer.kind, producer.type, paused, None, False)
                built = writer.build(request_id, Method.TRANSPORT_CONSUME, handler_id,
                                     body_type, lambda b, c=consumer, p=producer, f=flags:
                                     write_consume_request(
                                         b, c.id, p.id, c.rtp_parameters,
                                         p.consumable_rtp_parameters["encodings"], f))
                assert data == bytes(built), (round_, number, variant)
                consumers.append((producer, consumer))
    assert len(sent) == len(consumers) == 2 * 48 * 3
    plans = [v for v in negotiation_cache._consume_cache.values()
             if isinstance(v, negotiation_cache.ConsumePlan)]
    # One plan per (shape, capabilities, RTX), not per producer: 2 audio shapes x 3
    # capabilities, and 5 video shapes (the camera's two bitrate caps are two) x the 5
    # (capabilities, RTX) pairs used; the CNAMEs and SSRCs of the 8 endpoints make none.
    assert len(plans) == 2 * 3 + 5 * 5
    assert sum(isinstance(t, Template) for plan in plans for t in plan.templates.values()) >= 6
    for producer, consumer in consumers[:48]:
        dump = await consumer.dump()
        assert dump["producerId"] == producer.id
        assert [e["ssrc"] for e in dump["consumableRtpEncodings"]] == \
            [e["ssrc"] for e in producer.consumable_rtp_parameters["encodings"]]
        assert dump["rtpParameters"]["encodings"][0]["ssrc"] == \
            consumer.rtp_parameters["encodings"][0]["ssrc"]
    # Every consumer owns its parameters.
    consumers[0][1].rtp_parameters["rtcp"]["cname"] = "changed"
    assert all(c.rtp_parameters["rtcp"]["cname"] != "changed" for _, c in consumers[1:])


async def test_can_consume_is_asked_once_per_shape(worker, monkeypatch):
    """Router.can_consume for many producers of one shape asks ortc once per capabilities,
    and answers what ortc answers for each."""
    router = await worker.create_router(media_codecs=CODECS)
    producers = []
    for index in range(6):
        send = await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP)
        kind, params = _shapes(index)[3]
        producers.append(await send.produce(kind=kind, rtp_parameters=params))
    calls, real = spy(monkeypatch, ortc, "can_consume")
    caps = router.rtp_capabilities
    audio_only = {**caps, "codecs": [c for c in caps["codecs"] if c["kind"] == "audio"]}
    for producer in producers:
        assert router.can_consume(producer_id=producer.id, rtp_capabilities=caps)
        assert not router.can_consume(producer_id=producer.id, rtp_capabilities=audio_only)
        assert real(producer.consumable_rtp_parameters, caps)
    # Two shapes among the six (two bitrate caps; endpoint 3's CNAME, drawn by its
    # transport, is written in like the others), two capabilities.
    assert len(calls) == 2 * 2


async def test_a_plan_whose_values_are_not_copies_is_not_kept(worker, monkeypatch):
    """Were a consumer's parameters to depend on a producer's mapped SSRC otherwise than by
    copy, the plan would not hold for other producers: it is refused (the check fills it
    with other values), and every consumer still gets what ortc gives for its producer."""
    real = ortc.get_consumer_rtp_parameters

    def reading_the_ssrc(**kwargs: Any) -> Any:
        params = real(**kwargs)
        params["encodings"][0]["maxBitrate"] = \
            kwargs["consumable_rtp_parameters"]["encodings"][0]["ssrc"] % 100_000 + 1
        return params

    monkeypatch.setattr(ortc, "get_consumer_rtp_parameters", reading_the_ssrc)
    router = await worker.create_router(media_codecs=CODECS)
    recv = await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP)
    for index in range(4):
        send = await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP)
        kind, params = _shapes(index)[0]
        producer = await send.produce(kind=kind, rtp_parameters=params)
        consumer = await recv.consume(producer_id=producer.id,
                                      rtp_capabilities=router.rtp_capabilities)
        mapped = producer.consumable_rtp_parameters["encodings"][0]["ssrc"]
        assert consumer.rtp_parameters["encodings"][0]["maxBitrate"] == mapped % 100_000 + 1
    assert not any(isinstance(v, negotiation_cache.ConsumePlan)
                   for v in negotiation_cache._consume_cache.values())


async def test_the_consume_cache_is_bounded(worker, monkeypatch):
    """Past CONSUME_CACHE_MAX distinct (shape, capabilities) the router's consume cache starts
    over instead of growing, and consumes still get ortc's parameters."""
    monkeypatch.setattr(negotiation_cache, "CONSUME_CACHE_MAX", 2)
    router = await worker.create_router(media_codecs=CODECS)
    send = await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP)
    recv = await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP)
    producer = await send.produce(kind="audio", rtp_parameters=_shapes(0)[0][1])
    for index in range(5):
        caps = copy.deepcopy(router.rtp_capabilities)
        caps["headerExtensions"] = caps["headerExtensions"][index:]
        assert router.can_consume(producer_id=producer.id, rtp_capabilities=caps)
        consumer = await recv.consume(producer_id=producer.id, rtp_capabilities=caps)
        assert len(negotiation_cache._consume_cache) <= 2
        expected = _expected(producer, caps, False,
                             consumer.rtp_parameters["encodings"][0]["ssrc"],
                             consumer.rtp_parameters["mid"])
        assert _same(consumer.rtp_parameters, expected), index


async def test_routers_with_the_same_codecs_share_the_plans(worker, worker2, monkeypatch):
    """Producers of one shape on routers of two workers, consumed with capabilities decoded
    from JSON (as a browser's request brings them): the other routers' consumes use the plan
    the first one's made (ortc runs for the first consume only), and each gets ortc's
    parameters for its own producer."""
    calls, _ = spy(monkeypatch, ortc, "get_consumer_rtp_parameters")
    for index, owner in enumerate((worker, worker, worker2, worker2)):
        router = await owner.create_router(media_codecs=CODECS)
        send = await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP)
        recv = await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP)
        producer = await send.produce(kind="audio", rtp_parameters=_shapes(index)[0][1])
        caps = json.loads(json.dumps(router.rtp_capabilities))
        consumer = await recv.consume(producer_id=producer.id, rtp_capabilities=caps)
        made = len(calls)
        expected = _expected(producer, caps, False,
                             consumer.rtp_parameters["encodings"][0]["ssrc"],
                             consumer.rtp_parameters["mid"])
        del calls[made:]  # the test's own call
        assert _same(consumer.rtp_parameters, expected), index
    assert len(calls) == 2  # the first consume and its check with other values
