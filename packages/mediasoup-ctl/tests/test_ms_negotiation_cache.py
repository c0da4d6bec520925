"""Remembered produce and consume negotiations give what ``ortc`` gives, request for request.

``negotiation_cache`` keeps the result of a produce and of a consume (per router) for
inputs that repeat, and copies the request from a template. These tests
repeat produces and consumes against the real worker with a known sequence of random
SSRCs, and check each object's parameters against the ``ortc`` chain run afresh with the
same random numbers, each request's bytes against the message built without templates, and
that every object owns its own parameters.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from mediasoup_ctl import negotiation_cache, ortc
from mediasoup_ctl.fbs_template import Template, Templated
from ms_media import (
    LOOPBACK_UDP,
    MEDIA_CODECS,
    SequentialNumbers,
    audio_parameters,
    simulcast_video_parameters,
    spy,
)

pytestmark = pytest.mark.usefixtures("own_consume_cache")


def _spy_requests(worker: Any) -> list[tuple[bytes, bytes]]:
    """(bytes sent, bytes built without templates) of every templated request from now on."""
    writer = worker.channel._messages
    request = writer.request
    seen: list[tuple[bytes, bytes]] = []

    def recording(request_id: int, method: int, handler_id: str, body_type: int, body: Any) -> Any:
        data = request(request_id, method, handler_id, body_type, body)
        if type(body) is Templated:
            seen.append((bytes(data), bytes(writer.build(request_id, method, handler_id,
                                                         body_type, body))))
        return data

    writer.request = recording
    return seen


def _expected_produce(kind: str, given: dict[str, Any], caps: dict[str, Any], cname: str,
                      base: int) -> tuple[dict[str, Any], dict[str, Any]]:
    params = ortc.validate_rtp_parameters(given)
    if not params.get("encodings"):
        params["encodings"] = [{}]
    params["rtcp"] = {**(params.get("rtcp") or {}), "cname": cname}
    params = ortc.negotiate_in_place(params, caps)
    original = ortc.generate_random_number
    ortc.generate_random_number = lambda: base
    try:
        mapping = ortc.get_producer_rtp_parameters_mapping(params, caps)
    finally:
        ortc.generate_random_number = original
    return params, ortc.get_consumable_rtp_parameters(kind, params, caps, mapping)


async def test_repeated_produces_match_ortc_and_the_built_requests(worker, monkeypatch):
    """The same parameters produced again and again (new transports, one transport) give
    each producer what ortc gives with its random SSRC base, in a request identical to the
    one built field by field; the worker accepts every one."""
    counter = SequentialNumbers(200_000_000)
    monkeypatch.setattr(ortc, "generate_random_number", counter)
    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    sent = _spy_requests(worker)
    producers = []
    for round_ in range(4):
        transport = await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP)
        for kind, params in (("audio", audio_parameters()),
                             ("video", simulcast_video_parameters())):
            producer = await transport.produce(kind=kind, rtp_parameters=params)
            expected = _expected_produce(kind, params, router.rtp_capabilities,
                                         "audio-cname", counter.given[-1])
            assert (producer.rtp_parameters, producer.consumable_rtp_parameters) == expected
            producers.append(producer)
        assert len(transport.producers) == 2, round_
    assert len(router._produce_plans) == 2
    assert len(sent) == 4 + 8 and all(got == built for got, built in sent)  # transports too
    # Every producer owns its parameters: changing one changes no other, nor the next.
    producers[0].rtp_parameters["codecs"][0]["parameters"]["changed"] = 1
    producers[0].consumable_rtp_parameters["encodings"][0]["ssrc"] = 1
    assert "changed" not in producers[2].rtp_parameters["codecs"][0]["parameters"]
    later = await producers[0]._transport.produce(kind="audio", rtp_parameters={
        **audio_parameters(), "mid": "9", "encodings": [{"ssrc": 999}]})
    assert "changed" not in later.rtp_parameters["codecs"][0]["parameters"]


async def test_transports_without_a_cname_keep_their_own(worker):
    """Parameters without rtcp.cname: each transport draws its own CNAME, remembered or not."""
    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    params = audio_parameters()
    del params["rtcp"]
    cnames = []
    for _ in range(3):
        transport = await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP)
        first = await transport.produce(kind="audio", rtp_parameters=params)
        second = await transport.produce(kind="audio", rtp_parameters={**params, "mid": "7",
                                                                       "encodings": [
                                                                           {"ssrc": 4242}]})
        assert first.rtp_parameters["rtcp"]["cname"] == second.rtp_parameters["rtcp"]["cname"]
        cnames.append(first.rtp_parameters["rtcp"]["cname"])
    assert len(set(cnames)) == 3


async def test_repeated_consumes_match_ortc_and_the_built_requests(worker, monkeypatch):
    """Consumers of one producer with the same capabilities: each gets ortc's parameters for
    its own random SSRC (RTX right after) and its own MID, in the request built field by
    field, with or without RTX, paused or not."""
    counter = SequentialNumbers(200_000_000)
    monkeypatch.setattr(ortc, "generate_random_number", counter)
    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    send = await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP)
    recv = await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP)
    video = await send.produce(kind="video", rtp_parameters=simulcast_video_parameters())
    caps = copy.deepcopy(router.rtp_capabilities)
    sent = _spy_requests(worker)
    consumers = []
    for index in range(12):
        enable_rtx = index % 3 != 2
        consumer = await recv.consume(producer_id=video.id, rtp_capabilities=caps,
                                      paused=index % 2 == 0, enable_rtx=enable_rtx)
        ssrc = counter.given[-1]
        monkeypatch.setattr(ortc, "generate_random_number", lambda s=ssrc: s)
        expected = ortc.get_consumer_rtp_parameters(
            consumable_rtp_parameters=video.consumable_rtp_parameters,
            remote_rtp_capabilities=caps, enable_rtx=enable_rtx)
        monkeypatch.setattr(ortc, "generate_random_number", counter)
        expected["mid"] = str(index)
        assert consumer.rtp_parameters == expected
        assert consumer.paused == (index % 2 == 0)
        consumers.append(consumer)
    assert len(negotiation_cache._consume_cache) == 2
    assert len(sent) == 12 and all(got == built for got, built in sent)
    consumers[0].rtp_parameters["encodings"][0]["ssrc"] = 1
    assert consumers[4].rtp_parameters["encodings"][0]["ssrc"] != 1
    assert sorted((await recv.dump())["consumerIds"]) == sorted(c.id for c in consumers)


async def test_caches_are_bounded(worker, monkeypatch):
    """Past CACHE_MAX distinct inputs a cache starts over instead of growing."""
    monkeypatch.setattr(negotiation_cache, "CACHE_MAX", 2)
    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    transport = await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP)
    for index in range(5):
        await transport.produce(kind="audio", rtp_parameters={
            **audio_parameters(), "mid": str(index), "encodings": [{"ssrc": 1000 + index}]})
        assert len(router._produce_plans) <= 2


async def test_can_consume_is_remembered_per_producer_and_capabilities(worker, monkeypatch):
    """Router.can_consume answers what ortc.can_consume answers, asks ortc once per
    (producer's shape, capabilities), and never remembers capabilities ortc refused."""
    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    transport = await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP)
    video = await transport.produce(kind="video", rtp_parameters=simulcast_video_parameters())
    calls, real = spy(monkeypatch, ortc, "can_consume")
    caps = router.rtp_capabilities
    audio_only = {**caps, "codecs": [c for c in caps["codecs"] if c["kind"] == "audio"]}
    invalid = {"codecs": [{"kind": "video"}]}
    for _ in range(3):
        assert router.can_consume(producer_id=video.id, rtp_capabilities=copy.deepcopy(caps))
        assert not router.can_consume(producer_id=video.id, rtp_capabilities=audio_only)
        assert not router.can_consume(producer_id=video.id, rtp_capabilities=invalid)
    assert len(calls) == 2 + 3  # each valid capabilities once; the invalid ones every time
    assert (None, video._consumable_shape.key, None) not in negotiation_cache._consume_cache
    assert len(negotiation_cache._consume_cache) == 2
    consumer = await transport.consume(producer_id=video.id, rtp_capabilities=caps)
    assert consumer.rtp_parameters["codecs"][0]["mimeType"] == "video/VP8"
    # the consume plan sits beside the two answers
    assert len(negotiation_cache._consume_cache) == 3


async def test_endpoints_with_their_own_ssrcs_and_cnames_share_one_plan(worker, monkeypatch):
    """Produces that differ only in what each endpoint draws for itself (its SSRCs, its RTX
    SSRCs, its CNAME; parameters given with or without a CNAME), each on a transport of its
    own, share one plan per shape, and each producer still gets exactly what ortc gives for
    its own values, in a request identical to the one built field by field."""
    counter = SequentialNumbers(200_000_000)
    monkeypatch.setattr(ortc, "generate_random_number", counter)
    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    sent = _spy_requests(worker)

    def camera(ssrc: int, cname: str | None) -> dict[str, Any]:
        params = simulcast_video_parameters()
        params["encodings"] = [{"ssrc": ssrc, "rtx": {"ssrc": ssrc + 1}, "maxBitrate": 500000}]
        if cname is None:
            del params["rtcp"]
        else:
            params["rtcp"] = {"cname": cname}
        return params

    for index in range(5):
        transport = await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP)
        cname = f"endpoint-{index}" if index < 4 else None
        mic = {**audio_parameters(), "encodings": [{"ssrc": 3_000_000 + 17 * index}],
               "rtcp": {"cname": cname} if cname else {}}
        for kind, params in (("audio", mic), ("video", camera(5_000_000 + 31 * index, cname))):
            producer = await transport.produce(kind=kind, rtp_parameters=params)
            own = transport._cname_for(None)
            assert own == (cname or own)
            expected = _expected_produce(kind, params, router.rtp_capabilities, own,
                                         counter.given[-1])
            assert (producer.rtp_parameters, producer.consumable_rtp_parameters) == expected
            assert producer.rtp_parameters["encodings"][0]["ssrc"] == \
                params["encodings"][0]["ssrc"]
    # One plan per shape: audio and video with a CNAME, audio and video without.
    assert len(router._produce_plans) == 4
    assert len(sent) == 5 + 10 and all(got == built for got, built in sent)
    # The two shapes produced four times were copied from templates (SSRCs, CNAME patched).
    assert sum(any(isinstance(t, Template) for t in plan.templates.values())
               for plan in router._produce_plans.values()) == 2
