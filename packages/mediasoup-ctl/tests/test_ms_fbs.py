"""The fast FlatBuffers builder and reader give exactly what the library's own code gives.

``mediasoup_ctl.fbs_builder.Builder`` must write the same bytes as ``flatbuffers.Builder``
(so the worker sees the same requests as before it existed), and ``fbs_read.Table`` must read
the same values as the generated accessors. Both are checked on real request bodies: the RTP
parameters of every golden vector (producer, consumable and consumer parameters, mappings),
transport creation options, and on randomly shaped tables.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import flatbuffers
import pytest
from FBS.Router.CreateWebRtcTransportRequest import (
    CreateWebRtcTransportRequest,
    CreateWebRtcTransportRequestT,
)
from FBS.RtpParameters.RtpParameters import RtpParameters
from FBS.Transport.ListenInfo import ListenInfo
from FBS.Transport.Options import Options
from FBS.WebRtcTransport.Listen import Listen
from FBS.WebRtcTransport.ListenIndividual import ListenIndividual, ListenIndividualT
from FBS.WebRtcTransport.WebRtcTransportOptions import (
    WebRtcTransportOptions,
    WebRtcTransportOptionsT,
)
from FBS.Worker.UpdateSettingsRequest import UpdateSettingsRequestT

import ms_fbs_reference as reference
from mediasoup_ctl.fbs_builder import Builder
from mediasoup_ctl.fbs_read import Table, root, slots
from mediasoup_ctl.fbs_rtp import (
    parse_rtp_parameters,
    serialize_encodings,
    serialize_rtp_mapping,
    serialize_rtp_parameters,
)
from mediasoup_ctl.fbs_table import table_spec
from mediasoup_ctl.fbs_transport import listen_info_to_fbs, transport_options

GOLDEN = Path(__file__).parent / "ortc" / "golden"


def _golden_outputs() -> list[dict[str, Any]]:
    outputs = []
    for name in ("producers.json", "consumers.json"):
        for vector in json.loads((GOLDEN / name).read_text())["vectors"]:
            output = vector.get("output")
            if isinstance(output, dict):
                outputs.append(output)
    return outputs


def _rtp_parameter_sets() -> list[dict[str, Any]]:
    found = []
    for output in _golden_outputs():
        for key in ("rtpParameters", "consumableRtpParameters"):
            if isinstance(output.get(key), dict):
                found.append(output[key])
        consumer = output.get("consumer")
        if isinstance(consumer, dict) and isinstance(consumer.get("rtpParameters"), dict):
            found.append(consumer["rtpParameters"])
    return found


RTP_PARAMETERS = _rtp_parameter_sets()
MAPPINGS = [o["rtpMapping"] for o in _golden_outputs() if isinstance(o.get("rtpMapping"), dict)]


def _both(write: Any, size: int = 16, fast_write: Any = None) -> tuple[bytes, bytes]:
    """What ``write(builder)`` (returning a root offset) gives with the stock builder, and
    ``fast_write`` (default: ``write``) with ours."""
    outputs = []
    for cls, function in ((flatbuffers.Builder, write), (Builder, fast_write or write)):
        builder = cls(size)  # small: the buffer has to grow on the way
        builder.FinishSizePrefixed(function(builder))
        outputs.append(bytes(builder.Output()))
    return outputs[0], outputs[1]


def test_golden_rtp_parameters_serialize_to_the_same_bytes():
    """Every RTP parameters dict of the golden vectors: the one-call-per-table serializer
    with our builder writes the bytes the generated-function reference writes with the
    library's builder."""
    assert len(RTP_PARAMETERS) > 300
    for params in RTP_PARAMETERS:
        stock, fast = _both(lambda b, p=params: reference.serialize_rtp_parameters(b, p),
                            fast_write=lambda b, p=params: serialize_rtp_parameters(b, p))
        assert stock == fast
        # and what was written reads back as the same parameters
        table = RtpParameters.GetRootAs(fast, 4)
        assert parse_rtp_parameters(table) == parse_rtp_parameters(
            RtpParameters.GetRootAs(stock, 4))


def test_golden_mappings_and_encodings_serialize_to_the_same_bytes():
    """Producer mappings and consumable encodings: identical bytes, vtables shared alike."""
    assert MAPPINGS
    for mapping in MAPPINGS:
        stock, fast = _both(lambda b, m=mapping: reference.serialize_rtp_mapping(b, m),
                            fast_write=lambda b, m=mapping: serialize_rtp_mapping(b, m))
        assert stock == fast
    for params in RTP_PARAMETERS:
        encodings = params.get("encodings") or []
        stock, fast = _both(lambda b, e=encodings: reference.serialize_encodings(b, e),
                            fast_write=lambda b, e=encodings: serialize_encodings(b, e))
        assert stock == fast


def test_odd_encodings_and_parameters_serialize_like_the_reference():
    """Falsy SSRCs and payload types, absent or false DTX, float and list parameters, RTX
    and mode-less encodings: left out or written exactly as the reference does."""
    encodings = [{}, {"ssrc": 0, "codecPayloadType": 0, "dtx": False},
                 {"ssrc": 5, "rid": "r", "codecPayloadType": 96, "dtx": True,
                  "rtx": {"ssrc": 6}, "scalabilityMode": "", "maxBitrate": 1.0},
                 {"scalabilityMode": "L1T3", "maxBitrate": 0, "dtx": None}]
    stock, fast = _both(lambda b: reference.serialize_encodings(b, encodings),
                        fast_write=lambda b: serialize_encodings(b, encodings))
    assert stock == fast
    params = {"codecs": [{"mimeType": "video/VP9", "payloadType": 0, "clockRate": 90000,
                          "channels": None, "parameters": {
                              "b": True, "f": 0.5, "i": 2.0, "s": "x", "l": [1, 2], "z": 0},
                          "rtcpFeedback": [{"type": "nack"}, {"type": "ccm", "parameter": ""}]}],
              "headerExtensions": [{"uri": "urn:ietf:params:rtp-hdrext:toffset", "id": 3},
                                   {"uri": "urn:unknown", "id": 4}],
              "rtcp": {"reducedSize": False}, "mid": ""}
    stock, fast = _both(lambda b: reference.serialize_rtp_parameters(b, params),
                        fast_write=lambda b: serialize_rtp_parameters(b, params))
    assert stock == fast


def _webrtc_options(**overrides: Any) -> CreateWebRtcTransportRequestT:
    infos = [{"protocol": "udp", "ip": "127.0.0.1"},
             {"protocol": "tcp", "ip": "0.0.0.0", "announcedAddress": "example.org",
              "port": 40001, "portRange": {"min": 40000, "max": 40100},
              "flags": {"ipv6Only": False, "udpReusePort": True}}]
    options = WebRtcTransportOptionsT(
        base=transport_options(initial_available_outgoing_bitrate=600000,
                               enable_sctp=overrides.get("sctp", False), is_data_channel=True),
        listenType=Listen.ListenIndividual,
        listen=ListenIndividualT(listenInfos=[listen_info_to_fbs(i) for i in infos]),
        enableUdp=True, enableTcp=True, preferUdp=True, preferTcp=False, iceConsentTimeout=30)
    return CreateWebRtcTransportRequestT(transportId="f00d-transport", options=options)


def test_object_api_requests_pack_to_the_same_bytes():
    """``...T.Pack`` (transport creation, settings) writes identical bytes with both builders."""
    for body in (_webrtc_options(), _webrtc_options(sctp=True),
                 UpdateSettingsRequestT(logLevel="warn", logTags=["ice", "dtls", "rtp"])):
        stock, fast = _both(body.Pack)
        assert stock == fast


def test_out_of_range_values_fail_as_with_the_library():
    """A value the schema cannot hold raises the library's TypeError, or struct's error."""
    from FBS.RtpParameters import RtpCodecParameters as Codec

    for cls in (flatbuffers.Builder, Builder):
        for add, value, error in ((Codec.AddPayloadType, 256, TypeError),
                                  (Codec.AddClockRate, -1, TypeError),
                                  (Codec.AddClockRate, 1.5, Exception),
                                  (Codec.AddPayloadType, None, TypeError)):
            builder = cls(64)
            Codec.Start(builder)
            with pytest.raises(error):
                add(builder, value)
        builder = cls(64)
        builder.StartObject(1)
        with pytest.raises(TypeError):
            builder.PrependBoolSlot(0, 2, 0)


def _random_table(builder: Any, rng: random.Random, depth: int) -> int:
    """A table of random fields (scalars of every width, strings, vectors, sub-tables)."""
    children = []
    for _ in range(rng.randrange(3)):
        if depth < 3:
            children.append(("table", _random_table(builder, rng, depth + 1)))
    for _ in range(rng.randrange(3)):
        children.append(("string", builder.CreateString("x" * rng.randrange(9))))
    if rng.random() < 0.5:
        items = [rng.randrange(1 << 16) for _ in range(rng.randrange(6))]
        builder.StartVector(2, len(items), 2)
        for item in reversed(items):
            builder.PrependUint16(item)
        children.append(("vector", builder.EndVector()))
    slots_count = rng.randrange(1, 12)
    builder.StartObject(slots_count)
    writers = [
        lambda s: builder.PrependBoolSlot(s, rng.random() < 0.5, False),
        lambda s: builder.PrependUint8Slot(s, rng.randrange(256), 0),
        lambda s: builder.PrependUint16Slot(s, rng.randrange(1 << 16), 0),
        lambda s: builder.PrependUint32Slot(s, rng.randrange(1 << 32), 0),
        lambda s: builder.PrependUint64Slot(s, rng.randrange(1 << 64), 0),
        lambda s: builder.PrependInt16Slot(s, rng.randrange(-100, 100), 0),
        lambda s: builder.PrependFloat64Slot(s, rng.random(), 0.0),
    ]
    free = list(range(slots_count))
    rng.shuffle(free)
    for slot in free[: rng.randrange(slots_count + 1)]:
        if children and rng.random() < 0.4:
            builder.PrependUOffsetTRelativeSlot(slot, children.pop()[1], 0)
        else:
            rng.choice(writers)(slot)
    return builder.EndObject()


def test_random_tables_build_to_the_same_bytes():
    """Random table shapes (alignment, padding, shared and trimmed vtables): same bytes."""
    for seed in range(300):
        def write(builder: Any, seed: int = seed) -> int:
            rng = random.Random(seed)
            offsets = [_random_table(builder, rng, 0) for _ in range(rng.randrange(1, 4))]
            builder.StartVector(4, len(offsets), 4)
            for offset in reversed(offsets):
                builder.PrependUOffsetTRelative(offset)
            vector = builder.EndVector()
            builder.StartObject(1)
            builder.PrependUOffsetTRelativeSlot(0, vector, 0)
            return builder.EndObject()

        stock, fast = _both(write, size=1 + seed % 64)
        assert stock == fast, f"seed {seed}"


def test_reader_reads_what_the_generated_accessors_read():
    """``fbs_read.Table`` with ``slots()`` offsets gives the generated accessors' values."""
    builder = Builder(64)
    builder.FinishSizePrefixed(_webrtc_options(sctp=True).Pack(builder))
    data = bytes(builder.Output())
    generated = CreateWebRtcTransportRequest.GetRootAs(data, 4)
    fast = root(data, 4)
    request_slots = slots(CreateWebRtcTransportRequest)
    assert fast.str(request_slots.TransportId) == generated.TransportId().decode()
    options = generated.Options()
    fast_options = fast.table(request_slots.Options)
    assert isinstance(fast_options, Table)
    option_slots = slots(WebRtcTransportOptions)
    for name in ("EnableUdp", "EnableTcp", "PreferUdp", "PreferTcp"):
        # absent fields read as the schema's default (enableUdp: true), as generated code does
        assert fast_options.bool(getattr(option_slots, name)) == getattr(options, name)()
    assert option_slots.EnableUdp.default is True and not fast_options.has(option_slots.EnableUdp)
    assert fast_options.u8(option_slots.IceConsentTimeout) == options.IceConsentTimeout()
    base = fast_options.table(option_slots.Base)
    base_slots = slots(Options)
    assert base.u32(base_slots.InitialAvailableOutgoingBitrate) == \
        options.Base().InitialAvailableOutgoingBitrate()
    assert base.u32(base_slots.MaxMessageSize, None) == options.Base().MaxMessageSize()
    listen = fast_options.table(option_slots.Listen)
    infos = listen.tables(slots(ListenIndividual).ListenInfos)
    generated_listen = ListenIndividual()
    union = options.Listen()
    generated_listen.Init(union.Bytes, union.Pos)
    info_slots = slots(ListenInfo)
    assert len(infos) == generated_listen.ListenInfosLength() == 2
    for index, info in enumerate(infos):
        expected = generated_listen.ListenInfos(index)
        assert info.str(info_slots.Ip) == expected.Ip().decode()
        assert info.str(info_slots.AnnouncedAddress) == (
            expected.AnnouncedAddress().decode() if expected.AnnouncedAddress() else None)
        assert info.u16(info_slots.Port) == expected.Port()
        assert info.u8(info_slots.Protocol) == expected.Protocol()
    assert fast.table(99) is None and fast.strs(99) == [] and fast.u32(99, None) is None


def test_table_writer_matches_generated_calls_with_forced_defaults_and_errors():
    """``Builder.table`` = ``Start`` + ``Add``s + ``End``: also with forced defaults, and a
    value out of range fails with the library's TypeError."""
    from FBS.Transport import ProduceRequest as Produce

    spec = table_spec(Produce, "ProducerId", "Kind", "RtpParameters", "RtpMapping",
                      "KeyFrameRequestDelay", "Paused")

    def generated(builder: Any) -> int:
        builder.ForceDefaults(True)
        text = builder.CreateString("p")
        Produce.Start(builder)
        Produce.AddProducerId(builder, text)
        Produce.AddKind(builder, 0)
        Produce.AddRtpParameters(builder, text)
        Produce.AddRtpMapping(builder, text)
        Produce.AddKeyFrameRequestDelay(builder, 0)
        Produce.AddPaused(builder, False)
        return Produce.End(builder)

    def fast(builder: Builder) -> int:
        builder.ForceDefaults(True)
        text = builder.CreateString("p")
        return builder.table(spec, (text, 0, text, text, 0, False))

    stock, ours = _both(generated, fast_write=fast)
    assert stock == ours
    for values in ((0, 256, 0, 0, 0, False), (0, 1, 0, 0, -1, False), (0, 1, 0, 0, 0, 2)):
        with pytest.raises(TypeError):
            Builder(16).table(spec, values)


def test_request_messages_match_the_generated_functions():
    """Whole request messages (envelope, one-string bodies, object-API and callable bodies),
    built or copied from a template, are the bytes the generated functions write."""
    from FBS.Request.Body import Body as RequestBody
    from FBS.Request.Method import Method
    from FBS.Transport.CloseProducerRequest import CloseProducerRequestT
    from FBS.Worker.CloseRouterRequest import CloseRouterRequestT

    from mediasoup_ctl.channel_messages import MessageWriter
    from mediasoup_ctl.fbs_table import StringTable
    from mediasoup_ctl.producer import _CLOSE_PRODUCER
    from mediasoup_ctl.router import _CLOSE_ROUTER

    writer = MessageWriter()
    params = RTP_PARAMETERS[0]
    close = RequestBody.Transport_CloseProducerRequest
    cases = [
        (7, Method.WORKER_DUMP, "", 0, None, None),
        (8, Method.ROUTER_DUMP, "router-id", 0, None, None),
        (9, Method.ROUTER_DUMP, "router-id", 0, None, None),  # from the template
        (4294967295, Method.TRANSPORT_CLOSE_PRODUCER, "t", close,
         CloseProducerRequestT(producerId="p-1"), StringTable(_CLOSE_PRODUCER, "p-1")),
        (5, Method.TRANSPORT_CLOSE_PRODUCER, "u", close,  # same lengths: from the template
         CloseProducerRequestT(producerId="p-2"), StringTable(_CLOSE_PRODUCER, "p-2")),
        (6, Method.TRANSPORT_CLOSE_PRODUCER, "transport-é", close,  # other lengths, UTF-8
         CloseProducerRequestT(producerId="producer"), StringTable(_CLOSE_PRODUCER, "producer")),
        (11, Method.WORKER_CLOSE_ROUTER, "", RequestBody.Worker_CloseRouterRequest,
         CloseRouterRequestT(routerId="r" * 36), StringTable(_CLOSE_ROUTER, "r" * 36)),
        (12, Method.ROUTER_CREATE_WEBRTCTRANSPORT, "r",
         RequestBody.Router_CreateWebRtcTransportRequest, _webrtc_options(), None),
        (10, Method.TRANSPORT_PRODUCE, "t", RequestBody.Transport_ProduceRequest,
         lambda b: reference.serialize_rtp_parameters(b, params),
         lambda b: serialize_rtp_parameters(b, params)),
    ]
    for request_id, method, handler, body_type, body, fast_body in cases:
        expected = reference.request_message(request_id, method, handler, body_type, body)
        assert bytes(writer.request(request_id, method, handler, body_type,
                                    fast_body or body)) == expected
        assert bytes(writer.build(request_id, method, handler, body_type,
                                  fast_body or body)) == expected
    assert len(writer.templates) == 2 and len(writer.string_templates) == 3


def test_one_string_bodies_pack_like_the_object_api():
    """Every ``StringTable`` body in use writes what its ``...T(field=...).Pack`` writes."""
    from FBS.Router.CloseRtpObserverRequest import CloseRtpObserverRequestT
    from FBS.Router.CloseTransportRequest import CloseTransportRequestT
    from FBS.Transport.CloseConsumerRequest import CloseConsumerRequestT
    from FBS.Transport.CloseDataConsumerRequest import CloseDataConsumerRequestT
    from FBS.Transport.CloseDataProducerRequest import CloseDataProducerRequestT
    from FBS.Transport.CloseProducerRequest import CloseProducerRequestT
    from FBS.Worker.CloseRouterRequest import CloseRouterRequestT
    from FBS.Worker.CreateRouterRequest import CreateRouterRequestT

    from mediasoup_ctl import consumer, data_consumer, data_producer, producer, router
    from mediasoup_ctl.fbs_table import StringTable

    pairs = [
        (CloseRouterRequestT(routerId="x-1"), router._CLOSE_ROUTER),
        (CreateRouterRequestT(routerId="x-1"), router._CREATE_ROUTER),
        (CloseTransportRequestT(transportId="x-1"), router._CLOSE_TRANSPORT),
        (CloseRtpObserverRequestT(rtpObserverId="x-1"), router._CLOSE_RTP_OBSERVER),
        (CloseProducerRequestT(producerId="x-1"), producer._CLOSE_PRODUCER),
        (CloseConsumerRequestT(consumerId="x-1"), consumer._CLOSE_CONSUMER),
        (CloseDataProducerRequestT(dataProducerId="x-1"), data_producer._CLOSE_DATA_PRODUCER),
        (CloseDataConsumerRequestT(dataConsumerId="x-1"), data_consumer._CLOSE_DATA_CONSUMER),
    ]
    for body, spec in pairs:
        stock, fast = _both(body.Pack, fast_write=StringTable(spec, "x-1").Pack)
        assert stock == fast, type(body).__name__


def test_cached_parts_give_the_bytes_built_in_place(monkeypatch):
    """RTP parameters whose codecs and header extensions come from the fragment cache (any
    start alignment, sharing earlier vtables, with what follows sharing theirs) are
    byte-for-byte the reference's, miss and hit."""
    from mediasoup_ctl import fbs_fragments

    monkeypatch.setattr(fbs_fragments, "_CACHE", {})
    for prefix in range(9):  # a string before the codecs moves where they start
        def reference_write(builder: Any, p: dict[str, Any], n: int = prefix) -> int:
            builder.CreateString("x" * n)
            return reference.serialize_rtp_parameters(builder, p)

        def fast_write(builder: Any, p: dict[str, Any], n: int = prefix) -> int:
            builder.CreateString("x" * n)
            return serialize_rtp_parameters(builder, p)

        for params in RTP_PARAMETERS[::7]:
            for _ in range(2):  # a miss, then a hit
                stock, fast = _both(lambda b, p=params: reference_write(b, p),
                                    fast_write=lambda b, p=params: fast_write(b, p))
                assert stock == fast
    assert len(fbs_fragments._CACHE) > 9
    # after other tables (vtables to share, at other distances)
    for params in RTP_PARAMETERS[::5]:
        for _ in range(2):
            stock, fast = _both(
                lambda b, p=params: (reference.serialize_rtp_mapping(b, MAPPINGS[0]),
                                     reference.serialize_rtp_parameters(b, p))[1],
                fast_write=lambda b, p=params: (serialize_rtp_mapping(b, MAPPINGS[0]),
                                                serialize_rtp_parameters(b, p))[1])
            assert stock == fast
