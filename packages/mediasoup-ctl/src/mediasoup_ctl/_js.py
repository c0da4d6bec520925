"""JavaScript value semantics that mediasoup's Node ``ortc`` relies on.

The Node layer tests inputs with ``typeof``, truthiness and ``===``. Python's own notions differ
(``True == 1``, ``[]`` is falsy, ``None`` is not an object), so the port spells the JavaScript
rules out here once instead of approximating them at each call site.
"""

from __future__ import annotations

import copy
import marshal
import math
import re
from typing import Any, TypeVar

_T = TypeVar("_T")

__all__ = [
    "deep_copy",
    "is_number",
    "is_object",
    "is_string",
    "js_str",
    "strict_eq",
    "to_number",
    "truthy",
]

# JavaScript's "." matches anything but these line terminators.
JS_DOT = "[^\n\r\u2028\u2029]"

_RTX_RE = re.compile(JS_DOT + r"+/rtx\Z", re.IGNORECASE)


def is_number(value: Any) -> bool:
    """``typeof value === 'number'`` (a bool is not a number in JavaScript)."""
    cls = type(value)
    if cls is int or cls is float:  # the common cases first: these run on every field
        return True
    if cls is str or cls is bool or value is None:
        return False
    return isinstance(value, int | float) and not isinstance(value, bool)


def is_string(value: Any) -> bool:
    """``typeof value === 'string'``."""
    return isinstance(value, str)


def is_object(value: Any) -> bool:
    """A JSON object (dict). ``null`` and arrays are refused, unlike JavaScript's ``typeof``."""
    return isinstance(value, dict)


def truthy(value: Any) -> bool:
    """JavaScript truthiness: ``0``, ``NaN``, ``''``, ``null`` and ``false`` are falsy; ``[]``
    and ``{}`` are truthy."""
    cls = type(value)
    if cls is str:
        text: str = value
        return text != ""
    if cls is int:
        number: int = value
        return number != 0
    if value is None or value is False:
        return False
    if value is True or cls is dict or cls is list:
        return True
    if is_number(value):
        return value != 0 and not (isinstance(value, float) and math.isnan(value))
    if isinstance(value, str):
        return value != ""
    return True


def strict_eq(a: Any, b: Any) -> bool:
    """``a === b`` for JSON values (objects compare by identity)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a is b
    if is_number(a) and is_number(b):
        same: bool = a == b
        return same
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return a is b
    return a is b  # None / the UNDEFINED sentinel


def _number_str(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


def js_str(value: Any) -> str:
    """``String(value)`` / template-literal conversion for JSON values."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if is_number(value):
        return _number_str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return ",".join("" if v is None else js_str(v) for v in value)
    return "[object Object]"


def to_number(value: Any) -> float:
    """``Number(value)`` for JSON values, used where Node compares with ``>``."""
    if value is None or value is False:
        return 0
    if value is True:
        return 1
    if is_number(value):
        number: float = value
        return number
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return 0
        try:
            return (
                float(int(text, 0)) if text.lower().startswith(("0x", "0o", "0b")) else float(text)
            )
        except ValueError:
            return math.nan
    return math.nan


def is_rtx_mime_type(mime_type: Any) -> bool:
    """``/.+\\/rtx$/i.test(mimeType)``.

    Asked for every codec several times per produce and consume, about a few distinct MIME
    types: the answers for plain strings are remembered (at most 1024 of them).
    """
    if type(mime_type) is not str:
        return isinstance(mime_type, str) and _RTX_RE.search(mime_type) is not None
    known = _RTX_ANSWERS.get(mime_type)
    if known is None:
        known = _RTX_RE.search(mime_type) is not None
        if len(_RTX_ANSWERS) < 1024:
            _RTX_ANSWERS[mime_type] = known
    return known


_RTX_ANSWERS: dict[str, bool] = {}


_ATOMIC = frozenset({str, int, float, bool, type(None)})


def deep_copy(value: _T) -> _T:
    """``copy.deepcopy`` for JSON-like data, several times faster.

    Dicts and lists of plain values (exact ``dict``, ``list``, ``str``, numbers, booleans,
    ``None``, ``tuple``) go through ``marshal`` (C code; shared and cyclic references come
    back shared and cyclic, as with ``deepcopy``). Anything ``marshal`` refuses (subclasses,
    other objects) is copied by :func:`_copy`: dicts and lists here with a memo, scalars
    kept, the rest handed to ``copy.deepcopy`` with the same memo.
    """
    cls = type(value)
    if cls in _ATOMIC:
        return value
    if cls is dict or cls is list:
        try:
            data: Any = value
            copied: _T = marshal.loads(marshal.dumps(data))
            return copied
        except ValueError:  # "unmarshallable object" (a subclass, ...), or nested too deep
            pass
    result: _T = _copy(value, {})
    return result


def _copy(value: Any, memo: dict[int, Any]) -> Any:
    cls = type(value)
    if cls is dict:
        found = memo.get(id(value))
        if found is not None:
            return found
        out: dict[Any, Any] = {}
        memo[id(value)] = out
        for key, item in value.items():
            out[key] = item if type(item) in _ATOMIC else _copy(item, memo)
        return out
    if cls is list:
        found = memo.get(id(value))
        if found is not None:
            return found
        items: list[Any] = []
        memo[id(value)] = items
        for item in value:
            items.append(item if type(item) in _ATOMIC else _copy(item, memo))
        return items
    if cls in _ATOMIC:
        return value
    return copy.deepcopy(value, memo)
