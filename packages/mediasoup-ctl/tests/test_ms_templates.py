"""Whole-request templates (``fbs_template``): a templated request is the message built.

A ``Templated`` body is built plainly the first time its shape is seen, turned into a
template the second time, and copied with the call's values after that. Every one of those
messages must be byte-for-byte what the generated functions write for the same values (the
reference in ``ms_fbs_reference``), and a shape that cannot be templated, or a value that
would change the layout, must fall back to building.
"""

from __future__ import annotations

from typing import Any

from FBS.Request.Body import Body as RequestBody
from FBS.Request.Method import Method
from FBS.Router.CreateWebRtcTransportRequest import CreateWebRtcTransportRequestT

import ms_fbs_reference as reference
from mediasoup_ctl.channel_messages import MessageWriter
from mediasoup_ctl.fbs_rtp import serialize_rtp_mapping, serialize_rtp_parameters
from mediasoup_ctl.fbs_template import Template, Templated, make_template, template_store
from test_ms_fbs import MAPPINGS, RTP_PARAMETERS, _webrtc_options


def _transport_body(values: tuple[Any, ...]) -> Any:
    request = _webrtc_options()
    request.transportId = values[0]
    return request


def test_transport_requests_from_a_template_are_the_built_messages():
    """Plain, template-making and template-copied transport requests, with other ids, other
    id lengths and a UTF-8 handler id, are each the reference's message."""
    writer = MessageWriter()
    store: dict[Any, Any] = {}
    cases = [(1, "router-1", "transport-0001"), (2, "router-2", "transport-0002"),
             (3, "router-3", "transport-0003"), (4294967295, "router-é", "transport-x"),
             (5, "router-é", "transport-y"), (6, "router-é", "transport-z"), (7, "", "t")]
    for request_id, handler, transport_id in cases:
        body = Templated(store, None, lambda b, v: _transport_body(v).Pack(b), (transport_id,))
        expected = reference.request_message(
            request_id, Method.ROUTER_CREATE_WEBRTCTRANSPORT, handler,
            RequestBody.Router_CreateWebRtcTransportRequest, _transport_body((transport_id,)))
        assert bytes(writer.request(request_id, Method.ROUTER_CREATE_WEBRTCTRANSPORT, handler,
                                    RequestBody.Router_CreateWebRtcTransportRequest,
                                    body)) == expected
    assert sum(isinstance(t, Template) for t in store.values()) == 2  # two shapes repeated


def test_produce_like_bodies_with_ssrcs_and_strings_patch_exactly():
    """Bodies mixing strings and uint32 values (ids, mapped SSRCs) written at several places
    give the reference bytes for fresh values on every call."""
    writer = MessageWriter()
    store: dict[Any, Any] = {}
    params, mapping = RTP_PARAMETERS[3], MAPPINGS[0]

    def write(builder: Any, values: tuple[Any, ...], serialize: Any = None) -> int:
        rtp, mapper = serialize or (serialize_rtp_parameters, serialize_rtp_mapping)
        name = builder.CreateString(values[0])
        encodings = [dict(e, mappedSsrc=s) for e, s in zip(mapping["encodings"], values[1:],
                                                            strict=False)]
        mapped = mapper(builder, {"codecs": mapping["codecs"], "encodings": encodings})
        rtp_offset = rtp(builder, params)
        builder.StartVector(4, 3, 4)
        for offset in (rtp_offset, mapped, name):
            builder.PrependUOffsetTRelative(offset)
        return builder.EndVector()

    count = len(mapping["encodings"])
    for call in range(5):
        values = (f"producer-{call}", *(100000000 + 7 * call + i for i in range(count)))
        expected = reference.request_message(
            call + 1, Method.TRANSPORT_PRODUCE, "transport", RequestBody.Transport_ProduceRequest,
            lambda b, v=values: write(b, v, (reference.serialize_rtp_parameters,
                                             reference.serialize_rtp_mapping)))
        got = writer.request(call + 1, Method.TRANSPORT_PRODUCE, "transport",
                             RequestBody.Transport_ProduceRequest,
                             Templated(store, "flags", write, values))
        assert bytes(got) == expected, call
    assert any(isinstance(t, Template) for t in store.values())


def test_layout_changing_values_and_untemplatable_shapes_are_built():
    """A 0 (left out of the message as the schema default), a bool, or a body that writes a
    value changed (upper case: the second stand-in's twin is not where the first one was)
    never use a template, and still come out as the built message; a body that writes a
    value twice is templated, both places patched."""
    writer = MessageWriter()

    def upper(builder: Any, values: tuple[Any, ...]) -> int:
        return CreateWebRtcTransportRequestT(transportId=values[0].upper(),
                                             options=_webrtc_options().options).Pack(builder)

    def twice(builder: Any, values: tuple[Any, ...]) -> int:
        return CreateWebRtcTransportRequestT(transportId=values[0] * 2,
                                             options=_webrtc_options().options).Pack(builder)

    for write, templated in ((upper, False), (twice, True)):
        store: dict[Any, Any] = {}
        for call in range(4):
            body = Templated(store, None, write, (f"t{call}",))
            assert bytes(writer.request(call + 1, Method.ROUTER_CREATE_WEBRTCTRANSPORT, "r",
                                        RequestBody.Router_CreateWebRtcTransportRequest,
                                        body)) == bytes(
                writer.build(call + 1, Method.ROUTER_CREATE_WEBRTCTRANSPORT, "r",
                             RequestBody.Router_CreateWebRtcTransportRequest, body))
        [template] = store.values()
        assert (template is not None) is templated  # None: tried once, not templatable
    for value in (0, True):
        other: dict[Any, Any] = {}
        for call in range(3):
            body = Templated(other, None, lambda b, v: b.CreateString(str(v[0])), (value,))
            writer.request(call + 1, Method.WORKER_DUMP, "", 0, body)
        assert other == {}  # no template, not even a first sighting


def test_make_template_refuses_messages_whose_length_follows_the_values():
    """The two stand-in builds must have the same length; different lengths mean no template."""
    assert make_template(lambda v: b"x" * (v[0] & 0xFF), [7]) is None
    assert make_template(lambda v: b"x", [b""]) is not None  # nothing to patch is fine
    assert make_template(lambda v: b"x", [1] * 30) is None  # more values than stand-ins


def test_template_stores_are_keyed_by_plain_content_only():
    """Equal plain content shares a store; content marshal cannot key has none."""
    stores: dict[bytes, dict[Any, Any]] = {}
    first = template_store(stores, ([{"ip": "127.0.0.1"}], True))
    assert template_store(stores, ([{"ip": "127.0.0.1"}], True)) is first
    assert template_store(stores, ([{"ip": "127.0.0.1"}], 1)) is not first  # True is not 1

    class Custom(dict):  # type: ignore[type-arg]
        pass

    assert template_store(stores, Custom()) is None


def _reference_connect_body(dtls: dict[str, Any]) -> Any:
    """The connect request's body as the generated functions write it."""
    import FBS.WebRtcTransport.ConnectRequest as FbsConnectRequest
    import FBS.WebRtcTransport.DtlsParameters as FbsDtlsParameters
    import FBS.WebRtcTransport.Fingerprint as FbsFingerprint

    from mediasoup_ctl.webrtc_transport import DTLS_ROLES, FINGERPRINT_ALGORITHMS

    def build(builder: Any) -> int:
        offsets = []
        for fp in dtls["fingerprints"]:
            value = builder.CreateString(fp["value"])
            FbsFingerprint.Start(builder)
            FbsFingerprint.AddAlgorithm(builder, FINGERPRINT_ALGORITHMS[fp["algorithm"]])
            FbsFingerprint.AddValue(builder, value)
            offsets.append(FbsFingerprint.End(builder))
        vector = reference.offsets_vector(builder, offsets)
        FbsDtlsParameters.Start(builder)
        FbsDtlsParameters.AddFingerprints(builder, vector)
        FbsDtlsParameters.AddRole(builder, DTLS_ROLES[dtls.get("role") or "auto"])
        dtls_offset = FbsDtlsParameters.End(builder)
        FbsConnectRequest.Start(builder)
        FbsConnectRequest.AddDtlsParameters(builder, dtls_offset)
        return int(FbsConnectRequest.End(builder))

    return build


async def test_connect_requests_from_a_template_are_the_built_messages(worker):
    """WebRtcTransport.connect's requests (one fingerprint or several, each role, values of
    other lengths and of other endpoints, repeated so that templates are made and copied) are
    byte for byte the messages the generated functions build, and the worker accepts each."""
    from ms_media import LOOPBACK_UDP, MEDIA_CODECS

    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    channel = router._channel
    written: list[bytes] = []
    write = channel._write
    channel._write = lambda data, alone: (written.append(bytes(data)), write(data, alone))[1]
    sha256 = ":".join(["AB"] * 32)
    cases = [
        {"role": "client", "fingerprints": [{"algorithm": "sha-256", "value": sha256}]},
        {"role": "client", "fingerprints": [{"algorithm": "sha-256", "value": sha256.lower()}]},
        {"role": "client", "fingerprints": [{"algorithm": "sha-256", "value": ":".join(
            ["5A"] * 32)}]},
        {"fingerprints": [{"algorithm": "sha-1", "value": ":".join(["01"] * 20)},
                          {"algorithm": "sha-512", "value": ":".join(["FE"] * 64)}]},
        {"role": "server", "fingerprints": [{"algorithm": "sha-256", "value": sha256}]},
        {"role": "auto", "fingerprints": [{"algorithm": "sha-1", "value": ":".join(["02"] * 20)},
                                          {"algorithm": "sha-512", "value": ":".join(
                                              ["EF"] * 64)}]},
        {"role": "client", "fingerprints": [{"algorithm": "sha-256", "value": "x"}]},
    ]
    try:
        for dtls in [*cases, *cases]:
            transport = await router.create_webrtc_transport(listen_infos=LOOPBACK_UDP)
            written.clear()
            await transport.connect(dtls_parameters=dtls)
            [message] = written
            expected = reference.request_message(
                channel._next_id, Method.WEBRTCTRANSPORT_CONNECT, transport.id,
                RequestBody.WebRtcTransport_ConnectRequest, _reference_connect_body(dtls))
            assert message == expected, dtls
            transport.close()
    finally:
        channel._write = write
    from mediasoup_ctl.webrtc_transport import _CONNECT_TEMPLATES

    assert any(isinstance(t, Template) for t in _CONNECT_TEMPLATES.values())  # copies were made


def test_new_id_is_uuid4_text_of_the_same_random_bytes(monkeypatch):
    """``new_id`` gives exactly ``str(uuid.uuid4())`` for the same 16 random bytes (version and
    variant bits set the same way), and fresh ids differ."""
    import os
    import random
    import uuid

    from mediasoup_ctl import fbs_utils

    rng = random.Random(4)
    for _ in range(200):
        raw = bytes(rng.randrange(256) for _ in range(16))
        monkeypatch.setattr(os, "urandom", lambda n, raw=raw: raw[:n])
        ours = fbs_utils.new_id()
        theirs = str(uuid.uuid4())
        assert ours == theirs
        assert uuid.UUID(ours).version == 4 and uuid.UUID(ours).variant == uuid.RFC_4122
    monkeypatch.undo()
    assert len({fbs_utils.new_id() for _ in range(1000)}) == 1000
