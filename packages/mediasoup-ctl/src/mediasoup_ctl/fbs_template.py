"""Whole request messages built once per shape, then copied with their per-call values.

A produce, consume or transport-creation request is mostly the same bytes from one call to the
next: the same RTP parameters, the same options. What changes is a handful of values (the
request id, the target's id, the new object's id, random SSRCs, a consumer's MID), and where
FlatBuffers puts them depends only on the lengths of the strings, never on their content nor
on the value of a non-default scalar. So the message is built once per shape with stand-in
values, the positions of those values are found, and later calls copy the bytes and write
their values at those positions: a few slice assignments instead of some dozens of tables.

Positions are found without trusting anything about the build: the message is built twice,
with two sets of stand-ins that differ in every byte (strings of ``A``.. against ``a``..,
integers of ``0xA0``.. bytes against ``0xC0``..). Each stand-in must occur in the first
message (a value may be written at several places: a producer's SSRC goes in its parameters
and in its RTP mapping), the second message must have its twin wherever it occurs, and
writing the second set into a copy of the first must give the second message byte for byte. A shape
that fails any of this is marked as not templatable and is built every time.

Integer values are uint32 fields that must be present: 0 (the schema default, which
FlatBuffers leaves out) or a value out of range makes the call fall back to building.
"""

from __future__ import annotations

import marshal
import struct
from collections.abc import Callable
from typing import Any

__all__ = ["Templated", "Template", "make_template", "template_store"]

_PACK_U32 = struct.Struct("<I").pack
_PUT_U32 = struct.Struct("<I").pack_into
_MAX_VALUES = 24
"""Values one template may patch (each needs its own stand-in byte)."""
_STORES_MAX = 256


def template_store(stores: dict[bytes, dict[Any, Any]], content: Any) -> dict[Any, Any] | None:
    """The store in ``stores`` for the constant ``content`` of a request (plain data: dicts,
    lists, strings, numbers, ...), or None when ``content`` is not plain data."""
    try:
        key = marshal.dumps(content)
    except ValueError:  # not plain data (a subclass, an object): no key for it
        return None
    store = stores.get(key)
    if store is None:
        if len(stores) >= _STORES_MAX:
            stores.clear()
        store = stores[key] = {}
    return store


class Templated:
    """A request body whose constant part is shared by the calls that pass the same ``store``
    and ``key``, and whose ``values`` (str or uint32 int) vary per call.

    ``build(builder, values)`` writes the body and returns its offset, exactly as a body
    callable does; it must write each value only where the value itself goes. ``store`` is a
    dict owned by the caller for as long as the constant part it describes stays the same
    (the templates live there); ``key`` tells apart what else changes the bytes (flags)."""

    __slots__ = ("store", "key", "build", "values")

    def __init__(self, store: dict[Any, Any], key: Any,
                 build: Callable[[Any, tuple[Any, ...]], int],
                 values: tuple[str | int, ...]) -> None:
        self.store = store
        self.key = key
        self.build = build
        self.values = values

    def Pack(self, builder: Any) -> int:  # noqa: N802 (the object API's name)
        """Write the body with this call's values (the path without a template)."""
        return self.build(builder, self.values)


class Template:
    """A message and where each value goes: ``(value index, position)``; index 0 is the
    request id, 1 the handler id, then the body's values."""

    __slots__ = ("data", "patches")

    def __init__(self, data: bytes, patches: tuple[tuple[int, int], ...]) -> None:
        self.data = data
        self.patches = patches

    def fill(self, values: list[Any]) -> bytearray:
        """A copy of the message with ``values`` (bytes for strings, ints) written in."""
        data = bytearray(self.data)
        for index, position in self.patches:
            value = values[index]
            if type(value) is int:
                _PUT_U32(data, position, value)
            else:
                data[position:position + len(value)] = value
        return data


def _stand_ins(values: list[Any], second: bool) -> list[Any]:
    out: list[Any] = []
    for index, value in enumerate(values):
        if type(value) is int:
            out.append(int.from_bytes(bytes([(0xC0 if second else 0xA0) + index]) * 4, "little"))
        else:
            out.append(bytes([(0x61 if second else 0x41) + index]) * len(value))
    return out


def make_template(build: Callable[[list[Any]], bytes | bytearray],
                  values: list[Any]) -> Template | None:
    """The template of the message ``build(values)`` writes, or None if it is not one.

    ``values`` holds bytes (an encoded string) or ints; ``build`` gets values of the same
    kinds and lengths (strings are ASCII stand-ins, decodable as they are)."""
    if len(values) > _MAX_VALUES:
        return None
    first, second = _stand_ins(values, False), _stand_ins(values, True)
    a, b = bytes(build(first)), bytes(build(second))
    if len(a) != len(b):
        return None
    patches: list[tuple[int, int]] = []
    for index, (mine, theirs) in enumerate(zip(first, second, strict=True)):
        if type(mine) is int:
            mine, theirs = _PACK_U32(mine), _PACK_U32(theirs)
        elif not mine:
            continue  # an empty string: nothing to write
        position = a.find(mine)
        if position < 0:
            return None
        while position >= 0:  # a value written at several places (an SSRC and its mapping)
            if b[position:position + len(theirs)] != theirs:
                return None
            patches.append((index, position))
            position = a.find(mine, position + len(mine))
    template = Template(a, tuple(patches))
    # Only the stand-ins may differ: the second message from the first one's template.
    if template.fill(second) != b:
        return None
    return template
