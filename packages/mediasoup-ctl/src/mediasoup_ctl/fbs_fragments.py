"""Parts of a FlatBuffers message copied from a cache instead of being built again.

The codecs and header extensions of a producer's or consumer's RTP parameters are the
largest parts of produce and consume requests, and they repeat from one request to the next
(the same browser, the same router). What the builder writes for such a part depends only on
its content and on the builder's state where it starts: the offset from the end (for
alignment, and for the distance to any vtable already written that the part's tables share)
and those vtables. :func:`cached` builds the part once per (content, state) in a builder of
its own, padded to the same offset and given the same vtables, and afterwards copies the
bytes in and registers the vtables the part added, so that what follows shares them as it
would have. The message is byte-for-byte the one built in place
(``tests/mediasoup/test_ms_fbs.py``).

A part that is not plain data (``marshal`` refuses it) is built in place.
"""

from __future__ import annotations

import marshal
from collections.abc import Callable
from typing import Any

from .fbs_builder import Builder

__all__ = ["cached"]

_Fragment = tuple[bytes, int, int, tuple[tuple[Any, int], ...]]
_CACHE: dict[tuple[Any, ...], _Fragment] = {}
_CACHE_MAX = 256


def cached(builder: Builder, kind: str, content: Any,
           write: Callable[[Builder, Any], int]) -> int:
    """``write(builder, content)``, from the cache when ``content`` was written before from
    the same builder state; returns the offset ``write`` returns."""
    if builder.nested or builder.forceDefaults:
        return write(builder, content)
    try:
        data = marshal.dumps(content)
    except ValueError:  # not plain data: no key for it
        return write(builder, content)
    start = len(builder.Bytes) - builder.head
    vtables = builder.vtables
    # Without vtables to share, only the alignment of the start matters.
    key = (kind, data, start, tuple(vtables.items())) if vtables else (kind, data, start & 7)
    fragment = _CACHE.get(key)
    if fragment is None:
        fragment = _build(builder, content, write, start)
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        _CACHE[key] = fragment
    data, minalign, root, added = fragment
    size = len(data)
    if builder.head < size:
        builder.Prep(1, size)  # grow
    head = builder.head - size
    builder.Bytes[head:head + size] = data
    builder.head = head
    if minalign > builder.minalign:
        builder.minalign = minalign
    for vtable_key, offset in added:
        vtables[vtable_key] = start + offset
    return start + root


def _build(builder: Builder, content: Any, write: Callable[[Builder, Any], int],
           start: int) -> _Fragment:
    """The part as ``builder`` would write it from here: (bytes, minalign, root offset,
    vtables it added), offsets relative to where the part starts."""
    residue = start if builder.vtables else start & 7
    fresh = Builder(max(1024, 2 * residue))
    fresh.Pad(residue)
    fresh.vtables = {key: offset - start + residue for key, offset in builder.vtables.items()}
    known = set(fresh.vtables)
    root = write(fresh, content)
    data = bytes(fresh.Bytes[fresh.head:len(fresh.Bytes) - residue])
    added = tuple((key, offset - residue) for key, offset in fresh.vtables.items()
                  if key not in known)
    return data, fresh.minalign, root - residue, added
