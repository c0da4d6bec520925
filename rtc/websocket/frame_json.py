"""The JSON of the meeting socket's frames, read and written with orjson.

Every request a socket sends is decoded and every reply and event it receives is encoded: in a
burst of 200 joins about 8 decodings and 38 encodings a peer, on the event loop. The standard
library's encoder took 18 µs for a produce request's 1 kB where orjson takes under 2, its
decoder twice orjson's time (bench/README.md, call set-up). The text differs from
``json.dumps``'s only in form: no spaces after separators, non-ASCII characters written as
themselves rather than ``\\uXXXX`` escapes; clients parse the same values.

What the decoder refuses that ``json.loads`` accepted: ``NaN`` and ``Infinity`` (not JSON),
an escaped lone surrogate (no UTF-8 text can carry it, so no reply could echo it), nesting
deeper than 1024. Each is a malformed frame, answered as one, with the frame's requestId
when the standard library can read one (:func:`request_id_of_refused`: a Python client's
``json.dumps`` writes ``NaN``, and its request deserves an answer it can match). Integers
beyond 64 bits are read as floats, which every field expecting an integer refuses.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

from rtc.websocket.envelope import request_id_of

__all__ = ["DecodeError", "dumps", "loads", "request_id_of_refused"]

DecodeError = orjson.JSONDecodeError
"""Raised by :func:`loads` for a malformed text (a subclass of ``ValueError``)."""

_OPTIONS = orjson.OPT_NON_STR_KEYS


def dumps(value: Any) -> str:
    """The JSON text of ``value``; a dict's non-string keys are written as strings, as
    ``json.dumps`` does. Raises ``TypeError`` for a value JSON cannot hold."""
    return orjson.dumps(value, option=_OPTIONS).decode()


def loads(text: str | bytes) -> Any:
    """The value of a JSON text; raises :data:`DecodeError` for a malformed one."""
    return orjson.loads(text)


def request_id_of_refused(text: str) -> str | None:
    """The requestId of a frame :func:`loads` refused, if the standard library's more lenient
    decoder reads one that a reply can carry (valid UTF-8); else None. Only refused frames
    take this second reading, and the socket's frame budget counts each of them."""
    try:
        request_id = request_id_of(json.loads(text))
    except (ValueError, RecursionError):
        return None
    if request_id is None:
        return None
    try:
        request_id.encode()
    except UnicodeEncodeError:  # a lone surrogate: no UTF-8 reply can hold it
        return None
    return request_id
