"""``fbs_read.Scalars`` reads what the per-field getters read, whatever fields a buffer omits.

FlatBuffers leaves out a field equal to its default, so the same table type comes with
different vtables (a worker with no swaps omits ``ru_nswap``); ``Scalars`` compiles one
``struct`` format per vtable. These tests build buffers with every pattern of absent fields
that matters and compare with the generated accessors and :class:`Table`'s getters.
"""

from __future__ import annotations

import itertools
import random
import struct

import flatbuffers
import pytest
from FBS.RtpParameters.RtpEncodingParameters import (
    RtpEncodingParameters,
    RtpEncodingParametersT,
)
from FBS.Worker.ResourceUsageResponse import ResourceUsageResponse, ResourceUsageResponseT

from mediasoup_ctl.fbs_read import Scalars, Slot, Table, root, slots

_USAGE = slots(ResourceUsageResponse)
_NAMES = ("utime", "stime", "maxrss", "ixrss", "idrss", "isrss", "minflt", "majflt", "nswap",
          "inblock", "oublock", "msgsnd", "msgrcv", "nsignals", "nvcsw", "nivcsw")


def _built(obj: object) -> Table:
    builder = flatbuffers.Builder(256)
    builder.Finish(obj.Pack(builder))  # type: ignore[attr-defined]
    return root(bytes(builder.Output()))


def test_resource_usage_of_every_zero_pattern_reads_as_the_getters():
    """All present, all absent, each one absent, and random mixes (values up to 2**64-1)."""
    reader = Scalars((name, getattr(_USAGE, "Ru" + name.capitalize()), "Q") for name in _NAMES)
    rng = random.Random(7)
    patterns = [set(), set(_NAMES), *({name} for name in _NAMES),
                *(set(rng.sample(_NAMES, rng.randint(1, 15))) for _ in range(40))]
    vtables = set()
    for zeros in patterns:
        usage = ResourceUsageResponseT()
        for name in _NAMES:
            value = 0 if name in zeros else rng.choice([1, 2**31, 2**64 - 1,
                                                        rng.randint(1, 2**40)])
            setattr(usage, "ru" + name.capitalize(), value)
        table = _built(usage)
        vtables.add(table._fields)
        expected = {name: getattr(usage, "ru" + name.capitalize()) for name in _NAMES}
        got = reader.read(table)
        assert got == expected and list(got) == list(_NAMES)
        assert got == {name: table.u64(getattr(_USAGE, "Ru" + name.capitalize()))
                       for name in _NAMES}
        assert reader.read(table) == expected  # the compiled layout, second time
    assert len(vtables) > 10


def test_mixed_widths_bools_and_schema_defaults():
    """uint32, uint8 and bool fields of an encoding, present or absent, as the getters say."""
    slots_ = slots(RtpEncodingParameters)
    reader = Scalars([("ssrc", slots_.Ssrc, "I"), ("dtx", slots_.Dtx, "?"),
                      ("pt", slots_.CodecPayloadType, "B"), ("max", slots_.MaxBitrate, "I")])
    for ssrc, dtx, pt, bitrate in itertools.product((None, 0, 4294967295), (False, True),
                                                    (None, 0, 101), (None, 900000)):
        encoding = RtpEncodingParametersT()
        encoding.ssrc, encoding.dtx = ssrc, dtx
        encoding.codecPayloadType, encoding.maxBitrate = pt, bitrate
        table = _built(encoding)
        assert reader.read(table) == {
            "ssrc": table.u32(slots_.Ssrc), "dtx": table.bool(slots_.Dtx),
            "pt": table.u8(slots_.CodecPayloadType), "max": table.u32(slots_.MaxBitrate)}
        assert reader.read(table) == {"ssrc": ssrc, "dtx": dtx, "pt": pt, "max": bitrate}


def test_overlapping_fields_of_a_malformed_buffer_are_read_one_by_one():
    """A vtable whose fields overlap has no struct format: each field is read on its own."""
    first, second = Slot(4), Slot(6)
    first.default = second.default = 0
    # vtable (size 8, object 12, fields at +4 and +6), then the table: soffset 8, 8 bytes.
    buf = struct.pack("<4Hi8B", 8, 12, 4, 6, 8, 1, 2, 3, 4, 5, 6, 7, 8)
    table = Table(buf, 8)
    reader = Scalars([("a", first, "I"), ("b", second, "I")])
    expected = {"a": struct.unpack_from("<I", buf, 12)[0],
                "b": struct.unpack_from("<I", buf, 14)[0]}
    assert reader.read(table) == expected == {"a": table.u32(first), "b": table.u32(second)}
    with pytest.raises(ValueError):
        Scalars([("a", first, "I")])
