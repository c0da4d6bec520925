"""Whole FlatBuffers tables in one call: what ``Start``, the ``Add``s and ``End`` would write.

The generated code writes a table field by field (``Start``; ``AddPayloadType``; ...;
``End``), each call going through the builder's alignment and vtable bookkeeping. For the
tables of the hot requests (RTP parameters: codecs, encodings, header extensions, ...) that
bookkeeping dominated. A :class:`TableSpec` is taken once from the generated module (slot
numbers, widths and defaults, by running its ``Start``/``Add`` functions on a recorder), and
:func:`write_table` then writes a table from a tuple of values.

The layout of a table depends only on which fields are present and on the alignment of the
position it starts at, so the first table of each such shape compiles a :class:`_Plan`: one
``struct`` format for the object (padding included), the relative positions of its offset
fields, and its vtable bytes and de-duplication key. Later tables of that shape are one
``pack_into``. The result is byte-for-byte what the generated calls write with the stock
``flatbuffers.Builder`` (``tests/mediasoup/test_ms_fbs.py``); anything unusual (forced
defaults, a value ``struct`` refuses, a buffer that must grow) takes the field-by-field path,
which raises the library's errors.
"""

from __future__ import annotations

import struct
from operator import itemgetter, ne
from typing import Any

import flatbuffers
from flatbuffers import number_types as N

__all__ = ["TableSpec", "table_spec", "write_table", "offsets_vector", "StringTable"]

_U32 = struct.Struct("<I").pack_into
_SCALAR, _BOOLEAN, _OFFSET = 0, 1, 2
_SLOT_KINDS: dict[str, tuple[int, str, Any, int]] = {
    # Prepend...Slot method: (width, struct code, number flags, kind)
    "PrependBoolSlot": (1, "?", N.BoolFlags, _BOOLEAN),
    "PrependByteSlot": (1, "B", N.Uint8Flags, _SCALAR),
    "PrependUint8Slot": (1, "B", N.Uint8Flags, _SCALAR),
    "PrependUint16Slot": (2, "H", N.Uint16Flags, _SCALAR),
    "PrependUint32Slot": (4, "I", N.Uint32Flags, _SCALAR),
    "PrependUint64Slot": (8, "Q", N.Uint64Flags, _SCALAR),
    "PrependInt8Slot": (1, "b", N.Int8Flags, _SCALAR),
    "PrependInt16Slot": (2, "h", N.Int16Flags, _SCALAR),
    "PrependInt32Slot": (4, "i", N.Int32Flags, _SCALAR),
    "PrependInt64Slot": (8, "q", N.Int64Flags, _SCALAR),
    "PrependFloat32Slot": (4, "f", N.Float32Flags, _SCALAR),
    "PrependFloat64Slot": (8, "d", N.Float64Flags, _SCALAR),
    "PrependUOffsetTRelativeSlot": (4, "I", N.UOffsetTFlags, _OFFSET),
}


class _Plan:
    """One table shape (fields present, start alignment) compiled for ``pack_into``."""

    __slots__ = ("size", "packer", "pick", "offsets", "key", "vtable", "maxalign", "end")

    def __init__(self, spec: TableSpec, present: tuple[bool, ...], residue: int) -> None:
        off = residue  # the builder's Offset() modulo 8: enough to place every field
        written = []  # (field index, offset from the end after writing it)
        maxalign = 4
        for index, (_slot, width, _code, _default, _flags, _kind) in enumerate(spec.fields):
            if present[index]:
                off += ((-off) & (width - 1)) + width
                maxalign = max(maxalign, width)
                written.append((index, off))
        off += ((-off) & 3) + 4  # the SOffsetT to the vtable
        self.size = off - residue
        self.maxalign = maxalign
        self.end = off - residue  # object offset relative to the table's start offset
        # Memory order (low to high address): the SOffsetT, then fields last-written first.
        codes, position = ["<i"], 4
        order: list[int] = []
        offsets = []
        for index, after in reversed(written):
            width, code, kind = spec.fields[index][1], spec.fields[index][2], spec.fields[index][5]
            start = off - after
            codes.append("x" * (start - position) + code)
            position = start + width
            if kind == _OFFSET:
                # stock: Offset() before the write + 4 - x, i.e. this offset-after minus x
                offsets.append((len(order), after - residue))
            order.append(index)
        codes.append("x" * (off - residue - position))
        self.packer = struct.Struct("".join(codes)).pack_into
        self.offsets = tuple(offsets)
        # values -> the packed values in memory order (a tuple, whatever their number)
        self.pick = itemgetter(*order) if len(order) > 1 else (
            (lambda values, i=order[0]: (values[i],)) if order else (lambda values: ()))
        vtable = [0] * spec.numfields
        for index, after in written:
            vtable[spec.fields[index][0]] = off - after
        used = len(vtable)
        while used and not vtable[used - 1]:
            used -= 1
        fields = vtable[:used]
        self.key = (*reversed(fields), self.size)
        self.vtable = struct.pack(f"<{used + 2}H", 2 * (used + 2), self.size, *fields)


class TableSpec:
    """How one generated table is written: its slot count and, per ``Add`` in call order,
    ``(slot, width, struct code, default, flags, kind)``. Make it with :func:`table_spec`."""

    __slots__ = ("numfields", "fields", "names", "defaults", "bools", "plans")

    def __init__(self, numfields: int, fields: tuple[tuple[Any, ...], ...],
                 names: tuple[str, ...]) -> None:
        self.numfields = numfields
        self.fields = fields
        self.names = names
        self.defaults = tuple(field[3] for field in fields)
        self.bools = tuple(i for i, field in enumerate(fields) if field[5] == _BOOLEAN)
        # by the start offset's residue modulo 8, then by which fields are present
        self.plans: list[dict[tuple[bool, ...], _Plan]] = [{} for _ in range(8)]


class _SpecRecorder:
    """A stand-in builder that notes what ``Start`` and one ``Add...`` call ask for."""

    def __init__(self) -> None:
        self.numfields: int | None = None
        self.call: tuple[str, int, Any] | None = None

    def StartObject(self, numfields: int) -> None:  # noqa: N802 (the library's name)
        self.numfields = numfields

    def __getattr__(self, name: str) -> Any:
        if name not in _SLOT_KINDS:
            raise AttributeError(name)

        def record(slot: int, _value: Any, default: Any) -> None:
            self.call = (name, slot, default)

        return record


def table_spec(module: Any, *names: str) -> TableSpec:
    """The :class:`TableSpec` of a generated table module (``FBS.X.Y``) for the ``Add`` calls
    ``names`` (``"PayloadType"`` for ``AddPayloadType``), in the order they are made."""
    recorder = _SpecRecorder()
    module.Start(recorder)
    assert recorder.numfields is not None
    fields: list[tuple[Any, ...]] = []
    for name in names:
        recorder.call = None
        getattr(module, "Add" + name)(recorder, 0)
        assert recorder.call is not None, name
        method, slot, default = recorder.call
        width, code, flags, kind = _SLOT_KINDS[method]
        fields.append((slot, width, code, default, flags, kind))
    return TableSpec(recorder.numfields, tuple(fields), names)


def write_table(builder: flatbuffers.Builder, spec: TableSpec, values: tuple[Any, ...]) -> int:
    """Write a whole table: ``Start``, ``Add<name>(value)`` for each field of ``spec`` in
    order, then ``End``; returns the table's offset, with the same bytes as those calls.

    As with the ``Add`` functions, a value equal to the field's default is left out, so pass
    the default (``None``, 0, ``False``) for a field the generated code would not add.
    """
    if len(values) != len(spec.fields):
        raise ValueError(f"{len(spec.fields)} values expected, got {len(values)}")
    if builder.nested:
        raise flatbuffers.builder.IsNestedError()
    if builder.forceDefaults:
        return _write_fields(builder, spec, values)
    present = tuple(map(ne, values, spec.defaults))
    for index in spec.bools:
        x = values[index]
        if present[index] and x is not True and x is not False:
            N.enforce_number(x, N.BoolFlags)  # the library refuses 2, "x", None
    buf = builder.Bytes
    size = len(buf)
    head = builder.head
    start = size - head
    plans = spec.plans[start & 7]
    plan = plans.get(present)
    if plan is None:
        plan = plans[present] = _Plan(spec, present, start & 7)
    if head < plan.size + len(plan.vtable):
        return _write_fields(builder, spec, values)  # the buffer must grow first
    args = plan.pick(values)
    if plan.offsets:
        args = list(args)
        for position, after in plan.offsets:
            args[position] = start + after - args[position]
    object_offset = start + plan.end
    existing = builder.vtables.get(plan.key)
    head -= plan.size
    try:
        if existing is None:
            vtable = plan.vtable
            plan.packer(buf, head, len(vtable), *args)
            buf[head - len(vtable):head] = vtable
            existing = builder.vtables[plan.key] = object_offset + len(vtable)
            head -= len(vtable)
        else:
            plan.packer(buf, head, existing - object_offset, *args)
    except struct.error:
        # A value struct refuses (or an offset ahead of the head): the generic path raises
        # what the library raises. Nothing was committed: the head has not moved.
        return _write_fields(builder, spec, values)
    builder.head = head
    if plan.maxalign > builder.minalign:
        builder.minalign = plan.maxalign
    builder.objectEnd = start
    return object_offset


def _write_fields(builder: flatbuffers.Builder, spec: TableSpec, values: tuple[Any, ...]
                  ) -> int:
    """Field by field, exactly as ``Start`` + ``Prepend...Slot`` calls + ``End``."""
    builder.StartObject(spec.numfields)
    for (slot, _width, code, default, _flags, kind), x in zip(spec.fields, values, strict=True):
        if kind == _OFFSET:
            builder.PrependUOffsetTRelativeSlot(slot, x, default)
        else:
            getattr(builder, _METHODS[code, kind])(slot, x, default)
    return builder.EndObject()


_METHODS = {(code, kind): method for method, (_w, code, _f, kind) in _SLOT_KINDS.items()
            if method != "PrependByteSlot"}


def offsets_vector(builder: flatbuffers.Builder, offsets: list[int]) -> int:
    """A vector of offsets (tables, strings) in the given order: what ``StartVector(4, n,
    4)``, ``PrependUOffsetTRelative`` for each (last first) and ``EndVector`` write."""
    if builder.nested:
        raise flatbuffers.builder.IsNestedError()
    count = len(offsets)
    buf = builder.Bytes
    head = builder.head
    align = (head - len(buf) - 4 * count) & 3  # Prep(4, 4 * count), inlined
    if head < align + 4 + 4 * count or builder.minalign < 4:
        builder.Prep(4, 4 * count)
        buf = builder.Bytes
        head = builder.head
    elif align:
        buf[head - align:head] = bytes(align)
        head -= align
    size = len(buf)
    for off in reversed(offsets):
        if off > size - head:
            raise flatbuffers.builder.OffsetArithmeticError(
                "flatbuffers: Offset arithmetic error.")
        head -= 4
        _U32(buf, head, size - head - off)
    head -= 4
    _U32(buf, head, count)  # EndVector: the length
    builder.head = head
    return size - head


class StringTable:
    """A request body that is a table of one string field (``CloseProducerRequest`` and the
    like): ``StringTable(spec, "id")`` packs what the ``...T(field="id").Pack`` would."""

    __slots__ = ("spec", "value")

    def __init__(self, spec: TableSpec, value: str) -> None:
        self.spec = spec
        self.value = value

    def Pack(self, builder: Any) -> int:  # noqa: N802 (the object API's name)
        """Write the string, then the table."""
        return write_table(builder, self.spec, (builder.CreateString(self.value),))
