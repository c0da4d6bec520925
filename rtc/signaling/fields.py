"""Field readers for the request schemas: each returns a checked value or raises ``invalid``.

Small and strict: JSON booleans are not integers, ids are short URL-safe strings, strings
have length bounds, and :func:`check_json` bounds any free-form JSON value.
"""

from __future__ import annotations

import marshal
import math
import re
from collections.abc import Mapping
from typing import Any

import orjson

from rtc.signaling.errors import ErrorCode, SignalingError

__all__ = [
    "ID_PATTERN",
    "MAX_ID_LENGTH",
    "as_object",
    "boolean",
    "check_json",
    "identifier",
    "integer",
    "invalid",
    "list_of_objects",
    "only_keys",
    "string",
]

MAX_ID_LENGTH = 64
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_JSON_DEPTH = 8
MAX_JSON_NODES = 4000
MAX_JSON_STRING = 1024
# Safe integer range of JavaScript: anything beyond cannot come from a browser honestly.
MAX_SAFE_INT = 2**53 - 1


def invalid(message: str) -> SignalingError:
    """The ``invalid`` error with ``message``."""
    return SignalingError(ErrorCode.INVALID, message)


def only_keys(data: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    """Refuse keys the schema does not know (typos must not pass silently)."""
    extra = [key for key in data if key not in allowed]
    if extra:
        name = str(extra[0])[:32]
        raise invalid(f"unexpected field {name!r} in {where}")


def as_object(value: Any, where: str) -> dict[str, Any]:
    """``value`` if it is a JSON object."""
    if not isinstance(value, dict):
        raise invalid(f"{where} must be an object")
    return value


def string(data: Mapping[str, Any], key: str, *, required: bool = True,
           max_length: int = MAX_ID_LENGTH, choices: tuple[str, ...] | None = None,
           pattern: re.Pattern[str] | None = None) -> str | None:
    """A string of 1..``max_length`` characters (or one of ``choices``); None if absent."""
    value = data.get(key)
    if value is None:
        if required:
            raise invalid(f"{key} is required")
        return None
    if not isinstance(value, str):
        raise invalid(f"{key} must be a string")
    if choices is not None:
        if value not in choices:
            raise invalid(f"{key} must be one of {', '.join(choices)}")
        return value
    if not value or len(value) > max_length:
        raise invalid(f"{key} must be 1 to {max_length} characters")
    if pattern is not None and not pattern.fullmatch(value):
        raise invalid(f"{key} is malformed")
    return value


def identifier(data: Mapping[str, Any], key: str) -> str:
    """An object id: required, short, URL-safe characters only."""
    value = data.get(key)
    if value is None:
        raise invalid(f"{key} is required")
    if not isinstance(value, str) or not ID_PATTERN.fullmatch(value):
        raise invalid(f"{key} must be an id")
    return value


def integer(data: Mapping[str, Any], key: str, *, required: bool, minimum: int,
            maximum: int) -> int | None:
    """An integer in ``[minimum, maximum]`` (never a boolean); None if absent."""
    value = data.get(key)
    if value is None:
        if required:
            raise invalid(f"{key} is required")
        return None
    # bool is an int in Python, never in JSON schemas.
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(f"{key} must be an integer")
    if not minimum <= value <= maximum:
        raise invalid(f"{key} must be between {minimum} and {maximum}")
    return value


def boolean(data: Mapping[str, Any], key: str, default: bool) -> bool:
    """A JSON boolean, ``default`` when absent or null."""
    value = data.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise invalid(f"{key} must be true or false")
    return value


_PASSED_MAX = 128
_passed: dict[tuple[bytes, int, int, int, int], None] = {}
"""Values that passed :func:`check_json`, by their ``marshal`` bytes and the bounds: a
browser sends the same RTP capabilities with its join and with every consume, and every
browser of a version sends the same ones."""


def check_json(value: Any, where: str, *, max_bytes: int, max_depth: int = MAX_JSON_DEPTH,
               max_nodes: int = MAX_JSON_NODES, max_string: int = MAX_JSON_STRING) -> None:
    """Bound an arbitrary JSON value: plain JSON types, finite numbers, depth, nodes, size.

    A JSON decoder may accept NaN, Infinity and integers of any size; none of them belongs in a
    signaling message, and a huge nested value must not cost more than a bounded walk.

    A value equal to one that passed with the same bounds passes at once: equal ``marshal``
    bytes mean the same plain types holding the same values (``marshal`` tells ``True`` from
    ``1`` and ``1`` from ``1.0``, and refuses subclasses and other objects: those values are
    walked every time). The bytes of a value too large to pass are never made.
    """
    key = None
    if type(value) is dict and len(value) <= max_nodes:
        try:
            blob = marshal.dumps(value)
        except ValueError:  # not plain data (a subclass, an object): walked, never kept
            pass
        else:
            key = (blob, max_bytes, max_depth, max_nodes, max_string)
            if key in _passed:
                return
    _walk_json(value, where, max_depth=max_depth, max_nodes=max_nodes, max_string=max_string)
    try:
        size = len(orjson.dumps(value))  # compact UTF-8; the walk refused NaN and big ints
    except TypeError:
        raise invalid(f"{where} is not plain JSON") from None
    if size > max_bytes:
        raise invalid(f"{where} is too large")
    if key is not None:
        if len(_passed) >= _PASSED_MAX:
            _passed.clear()
        _passed[key] = None


def _walk_json(value: Any, where: str, *, max_depth: int, max_nodes: int,
               max_string: int) -> None:
    """The bounded walk of :func:`check_json` (depth first, the first fault raised). The
    exact JSON types are told by ``type``; anything else takes the ``isinstance`` checks."""
    nodes = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    pop, push = stack.pop, stack.append
    while stack:
        item, depth = pop()
        nodes += 1
        if nodes > max_nodes:
            raise invalid(f"{where} is too large")
        if depth > max_depth:
            raise invalid(f"{where} is nested too deeply")
        kind = type(item)
        if kind is str:
            if len(item) > max_string:
                raise invalid(f"{where} has a string that is too long")
        elif kind is dict:
            depth += 1
            for key, child in item.items():
                if not isinstance(key, str) or len(key) > max_string:
                    raise invalid(f"{where} has a bad key")
                push((child, depth))
        elif kind is list:
            depth += 1
            stack.extend([(child, depth) for child in item])
        elif item is None or kind is bool:
            continue
        elif kind is int:
            if abs(item) > MAX_SAFE_INT:
                raise invalid(f"{where} has an integer out of range")
        else:
            _check_other(item, depth, where, max_string, push)


def _check_other(item: Any, depth: int, where: str, max_string: int,
                 push: Any) -> None:
    """One node that is not of an exact JSON type: the original ``isinstance`` checks."""
    if isinstance(item, bool):
        return
    if isinstance(item, int):
        if abs(item) > MAX_SAFE_INT:
            raise invalid(f"{where} has an integer out of range")
    elif isinstance(item, float):
        if not math.isfinite(item):
            raise invalid(f"{where} has a number out of range")
    elif isinstance(item, str):
        if len(item) > max_string:
            raise invalid(f"{where} has a string that is too long")
    elif isinstance(item, list):
        for child in item:
            push((child, depth + 1))
    elif isinstance(item, dict):
        for key, child in item.items():
            if not isinstance(key, str) or len(key) > max_string:
                raise invalid(f"{where} has a bad key")
            push((child, depth + 1))
    else:
        raise invalid(f"{where} is not plain JSON")


def list_of_objects(parent: Mapping[str, Any], key: str, where: str, *, required: bool,
                    minimum: int, maximum: int) -> None:
    """``parent[key]`` is a list of ``minimum..maximum`` objects (or absent if optional)."""
    value = parent.get(key)
    if value is None:
        if required:
            raise invalid(f"{where}.{key} is required")
        return
    if not isinstance(value, list) or not minimum <= len(value) <= maximum:
        raise invalid(f"{where}.{key} must be a list of {minimum} to {maximum} objects")
    if not all(isinstance(item, dict) for item in value):
        raise invalid(f"{where}.{key} must contain objects")
