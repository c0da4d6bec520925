"""Fast reads of FlatBuffers tables, for the replies on the hot path.

The generated ``FBS`` accessors are convenient but slow in pure Python: each field read
re-reads the vtable through ``flatbuffers.table.Table`` (four ``encode.Get`` calls, each with a
range check and a fresh ``memoryview``), about 1–2 µs per field, and nested tables re-import
their class on every call. Reading a WebRtcTransport dump that way took longer than the
worker took to create the transport. :class:`Table` unpacks the vtable once with one ``struct``
call and reads fields with one more.

Field positions are not written here as numbers: :func:`slots` asks the generated class
itself, by calling each accessor on a recorder that notes the vtable offset it looks up. So
``F = slots(DumpResponse)`` then ``table.u32(F.Pid)`` reads what ``dump.Pid()`` reads.
"""

from __future__ import annotations

import builtins
import operator
import struct
from collections.abc import Callable, Iterable
from types import SimpleNamespace
from typing import Any

__all__ = ["Table", "Slot", "slots", "root", "of", "Scalars"]

_I32 = struct.Struct("<i").unpack_from
_U8 = struct.Struct("<B").unpack_from
_U16 = struct.Struct("<H").unpack_from
_U32 = struct.Struct("<I").unpack_from
_U64 = struct.Struct("<Q").unpack_from
_VTABLES: dict[int, Any] = {}


def _vtable(n: int) -> Any:
    """``unpack_from`` of ``n`` uint16 (a whole vtable), compiled once per size."""
    unpack = _VTABLES.get(n)
    if unpack is None:
        unpack = _VTABLES[n] = struct.Struct(f"<{n}H").unpack_from
    return unpack


class Slot(int):
    """A field's vtable offset, carrying the schema default the generated accessor returns."""

    default: Any


_SCHEMA: Any = object()
"""Getter default meaning "the schema's default for this field" (``slot.default``)."""


class Table:
    """One table of a FlatBuffers buffer: ``buf`` (bytes-like) and the table's ``pos``.

    Field getters take the field's :class:`Slot` (from :func:`slots`) and, when the field is
    absent, return the schema default as the generated accessors do, or ``default`` if given.
    """

    __slots__ = ("buf", "pos", "_fields")

    def __init__(self, buf: Any, pos: int) -> None:
        self.buf = buf
        self.pos = pos
        vtable = pos - _I32(buf, pos)[0]
        size = _U16(buf, vtable)[0] >> 1
        unpack = _VTABLES.get(size)
        if unpack is None:
            unpack = _vtable(size)
        # (vtable size, object size, field offsets...): index = vtable offset // 2
        self._fields = unpack(buf, vtable)

    def at(self, slot: int) -> int:
        """Absolute position of the field at vtable offset ``slot``, or 0 when absent."""
        fields = self._fields
        index = slot >> 1
        if index < len(fields):
            offset: int = fields[index]
            if offset:
                return self.pos + offset
        return 0

    def has(self, slot: int) -> bool:
        """Whether the field is present."""
        return self.at(slot) != 0

    def u8(self, slot: int, default: Any = _SCHEMA) -> Any:
        """A ubyte/enum field."""
        fields = self._fields
        index = slot >> 1
        if index < len(fields) and fields[index]:
            return _U8(self.buf, self.pos + fields[index])[0]
        return slot.default if default is _SCHEMA else default  # type: ignore[attr-defined]

    def bool(self, slot: int, default: Any = _SCHEMA) -> Any:
        """A bool field."""
        fields = self._fields
        index = slot >> 1
        if index < len(fields) and fields[index]:
            return _U8(self.buf, self.pos + fields[index])[0] != 0
        return slot.default if default is _SCHEMA else default  # type: ignore[attr-defined]

    def u16(self, slot: int, default: Any = _SCHEMA) -> Any:
        """A uint16 field."""
        fields = self._fields
        index = slot >> 1
        if index < len(fields) and fields[index]:
            return _U16(self.buf, self.pos + fields[index])[0]
        return slot.default if default is _SCHEMA else default  # type: ignore[attr-defined]

    def u32(self, slot: int, default: Any = _SCHEMA) -> Any:
        """A uint32 field."""
        fields = self._fields
        index = slot >> 1
        if index < len(fields) and fields[index]:
            return _U32(self.buf, self.pos + fields[index])[0]
        return slot.default if default is _SCHEMA else default  # type: ignore[attr-defined]

    def u64(self, slot: int, default: Any = _SCHEMA) -> Any:
        """A uint64 field."""
        fields = self._fields
        index = slot >> 1
        if index < len(fields) and fields[index]:
            return _U64(self.buf, self.pos + fields[index])[0]
        return slot.default if default is _SCHEMA else default  # type: ignore[attr-defined]

    def str(self, slot: int, default: Any = None, errors: str = "strict") -> Any:
        """A string field, decoded (UTF-8)."""
        fields = self._fields
        index = slot >> 1
        if index >= len(fields) or not fields[index]:
            return default
        buf = self.buf
        p = self.pos + fields[index]
        p += _U32(buf, p)[0]
        start = p + 4
        return str(buf[start:start + _U32(buf, p)[0]], "utf-8", errors)

    def required(self, slot: int) -> Table:
        """A sub-table field the schema marks ``required`` (absent only in a broken buffer)."""
        table = self.table(slot)
        if table is None:
            raise ValueError(f"required table field (vtable offset {slot}) is absent")
        return table

    def table(self, slot: int) -> Table | None:
        """A sub-table (or union value) field."""
        fields = self._fields
        index = slot >> 1
        if index >= len(fields) or not fields[index]:
            return None
        p = self.pos + fields[index]
        return Table(self.buf, p + _U32(self.buf, p)[0])

    def _vector(self, slot: int) -> tuple[int, int]:
        p = self.at(slot)
        if not p:
            return 0, 0
        p += _U32(self.buf, p)[0]
        return p + 4, _U32(self.buf, p)[0]

    def tables(self, slot: int) -> list[Table]:
        """A vector of tables (``[]`` when absent)."""
        start, length = self._vector(slot)
        buf = self.buf
        out = []
        for p in range(start, start + 4 * length, 4):
            out.append(Table(buf, p + _U32(buf, p)[0]))
        return out

    def strs(self, slot: int) -> list[builtins.str]:
        """A vector of strings, decoded (``[]`` when absent)."""
        start, length = self._vector(slot)
        buf = self.buf
        out = []
        for p in range(start, start + 4 * length, 4):
            p += _U32(buf, p)[0]
            out.append(str(buf[p + 4:p + 4 + _U32(buf, p)[0]], "utf-8"))
        return out

    def u8s(self, slot: int) -> list[int]:
        """A vector of ubyte/enum values."""
        start, length = self._vector(slot)
        return list(self.buf[start:start + length])

    def u16s(self, slot: int) -> list[int]:
        """A vector of uint16."""
        start, length = self._vector(slot)
        return list(struct.unpack_from(f"<{length}H", self.buf, start)) if length else []


_Layout = tuple[Callable[[Any, int], tuple[Any, ...]], Callable[[tuple[Any, ...]], Any],
                tuple[Any, ...]]
_LAYOUTS_MAX = 64


class Scalars:
    """Reads a fixed set of scalar fields of one table type into a dict with one ``struct``
    unpack, compiled once per vtable layout (which fields the builder wrote, and where).

    A reply made of many scalars (resource usage: sixteen uint64) cost one getter call per
    field, 8 us for the resource usage, a third of that request's round trip; the builder
    writes the same layout for the same absent fields, so a few layouts serve every reply.
    ``fields``: ``(key, slot, struct code)`` with codes ``B``, ``H``, ``I``, ``Q``, ``b``,
    ``h``, ``i``, ``q``, ``f``, ``d`` or ``?`` (bool); absent fields read as their schema
    default, as :class:`Table`'s getters do.
    """

    __slots__ = ("keys", "_slots", "_codes", "_layouts")

    def __init__(self, fields: Iterable[tuple[str, Slot, str]]) -> None:
        items = tuple(fields)
        if len(items) < 2:
            raise ValueError("Scalars reads two fields or more")
        self.keys = tuple(key for key, _, _ in items)
        self._slots = tuple(slot for _, slot, _ in items)
        self._codes = tuple(code for _, _, code in items)
        self._layouts: dict[tuple[int, ...], _Layout | None] = {}

    def read(self, table: Table) -> dict[str, Any]:
        """The fields of ``table`` as ``{key: value}``, keys in the order given."""
        vtable = table._fields
        try:
            layout = self._layouts[vtable]
        except KeyError:
            layout = self._compile(vtable)
        if layout is None:  # fields that overlap (a malformed buffer): read one by one
            return {key: _read_one(table, slot, code)
                    for key, slot, code in zip(self.keys, self._slots, self._codes, strict=True)}
        unpack, order, defaults = layout
        # Equal lengths by construction (the layout orders every key): no strict check, which
        # cost a sixth of the read.
        return dict(zip(self.keys, order(unpack(table.buf, table.pos) + defaults), strict=False))

    def _compile(self, vtable: tuple[int, ...]) -> _Layout | None:
        present: list[tuple[int, int]] = []  # (offset in the table, index in self.keys)
        absent: list[int] = []
        for index, slot in enumerate(self._slots):
            field = slot >> 1
            offset = vtable[field] if field < len(vtable) else 0
            if offset:
                present.append((offset, index))
            else:
                absent.append(index)
        present.sort()
        fmt, at = "<", 0
        layout: _Layout | None = None
        for offset, index in present:
            if offset < at:
                break
            code = self._codes[index]
            fmt += f"{offset - at}x{code}" if offset > at else code
            at = offset + struct.calcsize("<" + code)
        else:
            positions = [0] * len(self.keys)
            for position, (_, index) in enumerate(present):
                positions[index] = position
            for position, index in enumerate(absent, len(present)):
                positions[index] = position
            layout = (struct.Struct(fmt).unpack_from, operator.itemgetter(*positions),
                      tuple(self._slots[index].default for index in absent))
        if len(self._layouts) >= _LAYOUTS_MAX:
            self._layouts.clear()
        self._layouts[vtable] = layout
        return layout


def _read_one(table: Table, slot: Slot, code: str) -> Any:
    at = table.at(slot)
    if not at:
        return slot.default
    value = struct.unpack_from("<" + code, table.buf, at)[0]
    return value


def root(buf: Any, offset: int = 0) -> Table:
    """The root table of a buffer whose uoffset to the root is at ``offset``."""
    return Table(buf, offset + _U32(buf, offset)[0])


def of(obj: Any) -> Table:
    """The fast reader over a generated table object (or a fast Table, returned as is)."""
    if isinstance(obj, Table):
        return obj
    return Table(obj._tab.Bytes, obj._tab.Pos)


class _Recorder:
    """Stands in for ``flatbuffers.table.Table`` and notes the vtable offset asked for."""

    __slots__ = ("slot",)
    Pos = 0
    Bytes = b""

    def __init__(self) -> None:
        self.slot: int | None = None

    def Offset(self, slot: int) -> int:  # noqa: N802 (the library's name)
        self.slot = slot
        return 0  # "absent": the accessor returns its default without reading anything


def slots(cls: type[Any]) -> SimpleNamespace:
    """``{accessor name: Slot}`` of a generated table class, as attributes.

    Each accessor (``Pid``, ``RouterIds``, ...) is called once on a recorder; vector item
    accessors get index 0. ``...Length``, ``...IsNone`` and ``...AsNumpy`` helpers are skipped.
    """
    found: dict[str, Slot] = {}
    for name, member in vars(cls).items():
        if not callable(member) or name == "Init" or name.startswith(("_", "GetRoot")) or \
                name.endswith(("Length", "IsNone", "AsNumpy")):
            continue
        probe = object.__new__(cls)
        recorder = _Recorder()
        probe._tab = recorder
        try:
            default = member(probe)
        except TypeError:
            default = member(probe, 0)
        if recorder.slot is not None:
            found[name] = slot = Slot(recorder.slot)
            slot.default = default
    return SimpleNamespace(**found)
