"""A FlatBuffers builder that writes the same bytes as ``flatbuffers.Builder``, faster.

The pure-Python ``flatbuffers.Builder`` spends most of its time on bookkeeping: every scalar
goes through ``Prepend`` → ``Prep`` → ``Pad`` → ``Place`` → ``enforce_number`` →
``encode.Write``, five or six Python calls for four bytes. Every request to the worker is
built with it, and a produce or consume request writes a few hundred scalars, so this was
the largest single cost of those calls. :class:`Builder` overrides the methods the generated
``FBS`` code calls (``StartObject``, ``Prepend*Slot``, ``CreateString``, vectors, ...) with
flat versions that pack with precompiled ``struct`` objects. The layout rules (alignment,
padding, vtable de-duplication, trimming of trailing empty vtable slots) are the library's,
step by step, so the output is byte-for-byte the same; ``tests/mediasoup/test_ms_fbs.py``
checks that against the stock builder. A value out of range still raises the library's
``TypeError`` (we call its ``enforce_number`` when ``struct`` refuses a value).

The hottest tables (RTP parameters, codecs, encodings, ...) go one step further:
:meth:`Builder.table` writes a whole table in one call from a ``fbs_table.TableSpec``.
"""

from __future__ import annotations

import struct
from typing import Any

import flatbuffers
from flatbuffers import number_types as N

from .fbs_table import TableSpec, offsets_vector, write_table

__all__ = ["Builder"]

_U8 = struct.Struct("<B").pack_into
_I8 = struct.Struct("<b").pack_into
_BOOL = struct.Struct("<?").pack_into
_U16 = struct.Struct("<H").pack_into
_I16 = struct.Struct("<h").pack_into
_U32 = struct.Struct("<I").pack_into
_I32 = struct.Struct("<i").pack_into
_U64 = struct.Struct("<Q").pack_into
_I64 = struct.Struct("<q").pack_into
_F32 = struct.Struct("<f").pack_into
_F64 = struct.Struct("<d").pack_into
_ZEROS = [bytes(n) for n in range(16)]
_MAX = flatbuffers.Builder.MAX_BUFFER_SIZE


_VTABLE_STRUCTS: dict[int, struct.Struct] = {}


def _vtable_struct(n: int) -> struct.Struct:
    """``n`` little-endian uint16 (a vtable of n - 2 fields), compiled once per size."""
    packer = _VTABLE_STRUCTS.get(n)
    if packer is None:
        packer = _VTABLE_STRUCTS[n] = struct.Struct(f"<{n}H")
    return packer


def _refused(x: Any, flags: Any, error: struct.error) -> Exception:
    """The error the stock builder raises for ``x``: its range TypeError, else struct's."""
    N.enforce_number(x, flags)  # raises TypeError when x is out of range, as the library does
    return error


class Builder(flatbuffers.Builder):
    """Drop-in ``flatbuffers.Builder`` (same API, same bytes) with a fast write path."""

    __slots__ = ()

    # -- layout primitives ---------------------------------------------------------------------

    def _grow(self, head: int, needed: int) -> int:
        """Grow the buffer (at its front, as the library does) until ``needed`` bytes fit."""
        while head < needed:
            old = len(self.Bytes)
            self.GrowByteBuffer()
            head += len(self.Bytes) - old
        return head

    def Prep(self, size: int, additionalBytes: int) -> None:  # noqa: N802, N803 (library API)
        if size > self.minalign:
            self.minalign = size
        head = self.head
        align = (head - len(self.Bytes) - additionalBytes) & (size - 1)
        if head < align + size + additionalBytes:
            head = self._grow(head, align + size + additionalBytes)
        if align:
            self.Bytes[head - align:head] = _ZEROS[align]
            head -= align
        self.head = head

    def Pad(self, n: int) -> None:  # noqa: N802
        if n <= 0:
            return
        head = self.head
        self.Bytes[head - n:head] = bytes(n)
        self.head = head - n

    def Offset(self) -> int:  # noqa: N802
        return len(self.Bytes) - self.head

    def _scalar(self, pack: Any, width: int, x: Any, flags: Any) -> int:
        """Align for and write one scalar in front; returns its offset from the end."""
        head = self.head
        buf = self.Bytes
        align = (head - len(buf)) & (width - 1)
        if head < align + width or self.minalign < width:
            self.Prep(width, 0)  # the rare paths: grow the buffer, raise minalign
            head = self.head
            buf = self.Bytes
        elif align:
            buf[head - align:head] = _ZEROS[align]
            head -= align
        head -= width
        try:
            pack(buf, head, x)
        except struct.error as exc:
            raise _refused(x, flags, exc) from None
        self.head = head
        return len(buf) - head

    # -- tables --------------------------------------------------------------------------------

    def StartObject(self, numfields: int) -> None:  # noqa: N802
        self.assertNotNested()
        self.current_vtable = [0] * numfields
        self.objectEnd = len(self.Bytes) - self.head
        self.nested = True

    def Slot(self, slotnum: int) -> None:  # noqa: N802
        self.assertNested()
        self.current_vtable[slotnum] = len(self.Bytes) - self.head

    def _slot(self, pack: Any, width: int, flags: Any, o: int, x: Any, d: Any) -> None:
        if x != d or (self.forceDefaults and d is not None):
            self.current_vtable[o] = self._scalar(pack, width, x, flags)

    def PrependBoolSlot(self, o: int, x: Any, d: Any) -> None:  # noqa: N802
        if x is not True and x is not False and not (x is None and d is None):
            N.enforce_number(x, N.BoolFlags)  # the library refuses 2, "x", None (TypeError)
        self._slot(_BOOL, 1, N.BoolFlags, o, x, d)

    def PrependByteSlot(self, o: int, x: Any, d: Any) -> None:  # noqa: N802
        self._slot(_U8, 1, N.Uint8Flags, o, x, d)

    PrependUint8Slot = PrependByteSlot

    def PrependUint16Slot(self, o: int, x: Any, d: Any) -> None:  # noqa: N802
        self._slot(_U16, 2, N.Uint16Flags, o, x, d)

    def PrependUint32Slot(self, o: int, x: Any, d: Any) -> None:  # noqa: N802
        if x != d or (self.forceDefaults and d is not None):
            self.current_vtable[o] = self._scalar(_U32, 4, x, N.Uint32Flags)

    def PrependUint64Slot(self, o: int, x: Any, d: Any) -> None:  # noqa: N802
        self._slot(_U64, 8, N.Uint64Flags, o, x, d)

    def PrependInt8Slot(self, o: int, x: Any, d: Any) -> None:  # noqa: N802
        self._slot(_I8, 1, N.Int8Flags, o, x, d)

    def PrependInt16Slot(self, o: int, x: Any, d: Any) -> None:  # noqa: N802
        self._slot(_I16, 2, N.Int16Flags, o, x, d)

    def PrependInt32Slot(self, o: int, x: Any, d: Any) -> None:  # noqa: N802
        self._slot(_I32, 4, N.Int32Flags, o, x, d)

    def PrependInt64Slot(self, o: int, x: Any, d: Any) -> None:  # noqa: N802
        self._slot(_I64, 8, N.Int64Flags, o, x, d)

    def PrependFloat32Slot(self, o: int, x: Any, d: Any) -> None:  # noqa: N802
        self._slot(_F32, 4, N.Float32Flags, o, x, d)

    def PrependFloat64Slot(self, o: int, x: Any, d: Any) -> None:  # noqa: N802
        self._slot(_F64, 8, N.Float64Flags, o, x, d)

    def PrependUOffsetTRelativeSlot(self, o: int, x: int, d: int) -> None:  # noqa: N802
        if x != d or self.forceDefaults:
            self.PrependUOffsetTRelative(x)
            self.current_vtable[o] = len(self.Bytes) - self.head

    def PrependUOffsetTRelative(self, off: int) -> None:  # noqa: N802
        head = self.head
        buf = self.Bytes
        size = len(buf)
        align = (head - size) & 3
        if head < align + 4 or self.minalign < 4:
            self.Prep(4, 0)
            head = self.head
            buf = self.Bytes
            size = len(buf)
        elif align:
            buf[head - align:head] = _ZEROS[align]
            head -= align
        if off > size - head:
            raise flatbuffers.builder.OffsetArithmeticError(
                "flatbuffers: Offset arithmetic error.")
        head -= 4
        _U32(buf, head, size - head - off)
        self.head = head

    def EndObject(self) -> int:  # noqa: N802
        self.assertNested()
        self.nested = False
        return self.WriteVtable()

    def WriteVtable(self) -> int:  # noqa: N802
        """The library's algorithm: de-duplicate on the trimmed vtable, else write it."""
        # The SOffsetT in front of the object (4-aligned), patched below.
        head = self.head
        buf = self.Bytes
        align = (head - len(buf)) & 3
        if head < align + 4 or self.minalign < 4:
            self.Prep(4, 0)
            head = self.head
            buf = self.Bytes
        elif align:
            buf[head - align:head] = _ZEROS[align]
            head -= align
        head -= 4
        object_offset = len(buf) - head
        vtable = self.current_vtable
        # The vtable without its trailing empty slots, fields as offsets from the object.
        used = len(vtable)
        while used and not vtable[used - 1]:
            used -= 1
        fields = [object_offset - elem if elem else 0 for elem in vtable[:used]]
        fields.reverse()
        fields.append(object_offset - self.objectEnd)
        key = tuple(fields)
        existing = self.vtables.get(key)
        if existing is None:
            # 2 + used VOffsetT right in front of the object (no padding: it is 4-aligned).
            n = used + 2
            if head < 2 * n:
                self.head = head
                head = self._grow(head, 2 * n)
                buf = self.Bytes
            fields.reverse()  # object size first, then the fields in slot order
            head -= 2 * n
            _vtable_struct(n).pack_into(buf, head, 2 * n, *fields)
            self.head = head
            existing = len(buf) - head
            self.vtables[key] = existing
        else:
            self.head = head
        _I32(buf, len(buf) - object_offset, existing - object_offset)
        self.current_vtable = None  # type: ignore[assignment]  # as the library: no object open
        return object_offset

    def table(self, spec: TableSpec, values: tuple[Any, ...]) -> int:
        """A whole table in one call (see :func:`.fbs_table.write_table`)."""
        return write_table(self, spec, values)

    def offsets_vector(self, offsets: list[int]) -> int:
        """A vector of offsets in one call (see :func:`.fbs_table.offsets_vector`)."""
        return offsets_vector(self, offsets)

    # -- vectors and strings -------------------------------------------------------------------

    def StartVector(self, elemSize: int, numElems: int, alignment: int) -> int:  # noqa: N802, N803
        self.assertNotNested()
        self.nested = True
        self.vectorNumElems = numElems
        self.Prep(4, elemSize * numElems)
        self.Prep(alignment, elemSize * numElems)
        return len(self.Bytes) - self.head

    def EndVector(self, numElems: int | None = None) -> int:  # noqa: N802, N803
        if numElems is not None:
            return super().EndVector(numElems)  # the deprecated, checked form
        self.assertNested()
        self.nested = False
        head = self.head - 4
        _U32(self.Bytes, head, self.vectorNumElems)
        self.head = head
        self.vectorNumElems = None
        return len(self.Bytes) - head

    def CreateString(self, s: str | bytes, encoding: str = "utf-8",  # noqa: N802
                     errors: str = "strict") -> int:
        if self.nested:
            raise flatbuffers.builder.IsNestedError()
        if isinstance(s, str):
            x = s.encode(encoding, errors)
        elif isinstance(s, bytes | bytearray):
            x = bytes(s)
        else:
            raise TypeError("non-string passed to CreateString")
        n = len(x)
        # Prep(4, n + 1), inlined: the length is 4-aligned, the bytes and a NUL follow it.
        head = self.head
        buf = self.Bytes
        align = (head - len(buf) - n - 1) & 3
        if head < align + n + 5 or self.minalign < 4:
            self.Prep(4, n + 1)
            head = self.head
            buf = self.Bytes
        elif align:
            buf[head - align:head] = _ZEROS[align]
            head -= align
        head -= n + 5
        buf[head + 4:head + 4 + n] = x
        buf[head + 4 + n] = 0
        _U32(buf, head, n)
        self.head = head
        return len(buf) - head

    # -- plain scalars (vector items) ----------------------------------------------------------

    def PrependBool(self, x: Any) -> None:  # noqa: N802
        if x is not True and x is not False:
            N.enforce_number(x, N.BoolFlags)
        self._scalar(_BOOL, 1, x, N.BoolFlags)

    def PrependByte(self, x: Any) -> None:  # noqa: N802
        self._scalar(_U8, 1, x, N.Uint8Flags)

    PrependUint8 = PrependByte

    def PrependUint16(self, x: Any) -> None:  # noqa: N802
        self._scalar(_U16, 2, x, N.Uint16Flags)

    def PrependUint32(self, x: Any) -> None:  # noqa: N802
        self._scalar(_U32, 4, x, N.Uint32Flags)

    def PrependUint64(self, x: Any) -> None:  # noqa: N802
        self._scalar(_U64, 8, x, N.Uint64Flags)

    def PrependInt8(self, x: Any) -> None:  # noqa: N802
        self._scalar(_I8, 1, x, N.Int8Flags)

    def PrependInt16(self, x: Any) -> None:  # noqa: N802
        self._scalar(_I16, 2, x, N.Int16Flags)

    def PrependInt32(self, x: Any) -> None:  # noqa: N802
        self._scalar(_I32, 4, x, N.Int32Flags)

    def PrependInt64(self, x: Any) -> None:  # noqa: N802
        self._scalar(_I64, 8, x, N.Int64Flags)

    def PrependFloat32(self, x: Any) -> None:  # noqa: N802
        self._scalar(_F32, 4, x, N.Float32Flags)

    def PrependFloat64(self, x: Any) -> None:  # noqa: N802
        self._scalar(_F64, 8, x, N.Float64Flags)

    def PrependVOffsetT(self, x: int) -> None:  # noqa: N802
        self._scalar(_U16, 2, x, N.VOffsetTFlags)
