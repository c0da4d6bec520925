"""Small helpers shared by the FlatBuffers conversion modules and the worker objects."""

from __future__ import annotations

import os
from typing import Any

from FBS.Common.StringString import StringString
from FBS.Common.StringStringArray import StringStringArray
from FBS.Common.Uint16String import Uint16String
from FBS.Common.Uint32String import Uint32String

from .errors import InvalidParameterError
from .fbs_read import Table, slots

__all__ = ["s", "new_id", "check_app_data", "trace_event_types", "vector", "string_vector",
           "key_values", "key_value_arrays", "raw_bytes", "fields", "to_dict", "read_key_values",
           "read_key_value_arrays", "U32_KEYS", "U16_KEYS"]

_STRING_STRING = slots(StringString)
_STRING_ARRAY = slots(StringStringArray)
_U32_STRING = slots(Uint32String)
_U16_STRING = slots(Uint16String)
U32_KEYS = (Table.u32, _U32_STRING.Key, _U32_STRING.Value)
"""``read_key_values`` keys for a vector of ``Uint32String``."""
U16_KEYS = (Table.u16, _U16_STRING.Key, _U16_STRING.Value)
"""``read_key_values`` keys for a vector of ``Uint16String``."""


def s(value: bytes | None) -> str | None:
    """A FlatBuffers string (bytes in Python) as ``str``; None stays None."""
    return value.decode() if value is not None else None


def new_id() -> str:
    """A fresh object id (UUIDv4 text, as mediasoup uses): ``str(uuid.uuid4())`` made from
    the same 16 random bytes without the ``UUID`` object (whose checks and integer
    arithmetic were most of the 4 us an id cost; several ids per peer's set-up)."""
    data = bytearray(os.urandom(16))
    data[6] = (data[6] & 0x0F) | 0x40  # version 4
    data[8] = (data[8] & 0x3F) | 0x80  # variant RFC 4122
    text = data.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def check_app_data(app_data: Any) -> None:
    """``app_data`` must be a dict when given (mediasoup: an object)."""
    if app_data is not None and not isinstance(app_data, dict):
        raise InvalidParameterError("if given, app_data must be a dict")


def trace_event_types(types: list[str] | None, known: dict[str, int]) -> list[int]:
    """The ``enable_trace_event`` argument as the worker's enum values: None is none, names
    this kind of object does not trace are skipped (as in mediasoup), a non-list is refused."""
    types = [] if types is None else types
    if not isinstance(types, list) or any(not isinstance(t, str) for t in types):
        raise InvalidParameterError("types must be a list of strings")
    return [known[t] for t in types if t in known]


def vector(table: Any, name: str, parse: Any = None) -> list[Any]:
    """Read the vector field ``name`` of a generated table, parsing each item if asked."""
    length = getattr(table, name + "Length")()
    get = getattr(table, name)
    if parse is None:
        return [get(i) for i in range(length)]
    return [parse(get(i)) for i in range(length)]


def string_vector(table: Any, name: str) -> list[str]:
    """A vector of strings, decoded."""
    get = getattr(table, name)
    return [get(i).decode() for i in range(getattr(table, name + "Length")())]


def key_values(table: Any, name: str) -> list[dict[str, Any]]:
    """A vector of ``{key, value}`` pairs (StringString, Uint32String, ...), decoded."""
    out = []
    get = getattr(table, name)
    for i in range(getattr(table, name + "Length")()):
        item = get(i)
        key, value = item.Key(), item.Value()
        out.append({
            "key": key.decode() if isinstance(key, bytes) else key,
            "value": value.decode() if isinstance(value, bytes) else value,
        })
    return out


def key_value_arrays(table: Any, name: str) -> list[dict[str, Any]]:
    """A vector of ``{key, values}`` (StringStringArray), decoded."""
    out = []
    get = getattr(table, name)
    for i in range(getattr(table, name + "Length")()):
        item = get(i)
        out.append({
            "key": item.Key().decode(),
            "values": [item.Values(j).decode() for j in range(item.ValuesLength())],
        })
    return out


def read_key_values(table: Table, slot: int, numeric_keys: Any = None) -> list[dict[str, Any]]:
    """Like :func:`key_values` with a fast reader: ``StringString`` pairs, or with
    ``numeric_keys`` (``U32_KEYS``/``U16_KEYS``) ``Uint32String``/``Uint16String`` pairs."""
    if numeric_keys is None:
        key, value = _STRING_STRING.Key, _STRING_STRING.Value
        return [{"key": item.str(key), "value": item.str(value)} for item in table.tables(slot)]
    read, key, value = numeric_keys
    return [{"key": read(item, key), "value": item.str(value)} for item in table.tables(slot)]


def read_key_value_arrays(table: Table, slot: int) -> list[dict[str, Any]]:
    """Like :func:`key_value_arrays` with a fast reader (``StringStringArray``)."""
    key, values = _STRING_ARRAY.Key, _STRING_ARRAY.Values
    return [{"key": item.str(key), "values": item.strs(values)} for item in table.tables(slot)]


def raw_bytes(table: Any, field_offset: int) -> bytes:
    """The bytes of a ``[uint8]`` field at vtable offset ``field_offset``, copied in one go."""
    tab = table._tab
    o = tab.Offset(field_offset)
    if o == 0:
        return b""
    start = tab.Vector(o)
    length = tab.VectorLen(o)
    return bytes(tab.Bytes[start:start + length])


def fields(table: Any, keys: tuple[str, ...], out: dict[str, Any] | None = None) -> dict[str, Any]:
    """Read scalar/string fields named in camelCase (accessor = the name capitalized).

    Absent optional fields (None) are left out, as JSON drops ``undefined`` in mediasoup.
    """
    out = {} if out is None else out
    for key in keys:
        value = getattr(table, key[0].upper() + key[1:])()
        if value is None:
            continue
        out[key] = value.decode() if isinstance(value, bytes) else value
    return out


def to_dict(value: Any) -> Any:
    """A FlatBuffers object-API value (``...T`` instances, lists, bytes) as plain data.

    The generated ``...T`` attribute names are already camelCase, as in mediasoup's JSON.
    Used for rarely read, deeply nested data (RTP stream dumps, trace infos).
    """
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list):
        return [to_dict(item) for item in value]
    if hasattr(value, "__dict__"):
        return {k: to_dict(v) for k, v in vars(value).items() if v is not None}
    if hasattr(value, "tolist"):  # numpy arrays, when numpy is installed
        return value.tolist()
    return value
