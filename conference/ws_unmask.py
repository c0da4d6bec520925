"""Unmasking WebSocket frames from clients with one integer XOR instead of a masker object
per frame.

Every frame a client sends is masked (RFC 6455 § 5.3). Autobahn (daphne's WebSocket
protocol) makes a masker for each frame; with its native extension built (NVX) that is a
``cffi`` allocation, a ``ffi.gc`` finaliser, an import statement and a copy in and out of a
C buffer, for requests of a few hundred bytes: 3 % of the event loop in a burst of 200 joins
(py-spy, bench/README.md, call set-up); without the extension it is a Python loop over every
byte. :class:`IntMasker` XORs the whole chunk with the repeated key as two Python integers
(linear C code, no per-frame allocation beyond the result), and keeps the key's phase across
the chunks of one frame as autobahn's maskers do (``pointer``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["IntMasker", "create_masker", "install"]


class IntMasker:
    """Autobahn's masker interface (``process``, ``pointer``, ``reset``)."""

    __slots__ = ("_mask", "_ptr")

    def __init__(self, mask: bytes) -> None:
        if len(mask) != 4:
            raise ValueError("a WebSocket mask is 4 bytes")
        self._mask = bytes(mask)
        self._ptr = 0

    def pointer(self) -> int:
        """Bytes processed since the start (or the last ``reset``)."""
        return self._ptr

    def reset(self) -> None:
        """Start again at the key's first byte."""
        self._ptr = 0

    def process(self, data: Any) -> bytes:
        """``data`` XORed with the key, continuing where the previous chunk stopped."""
        size = len(data)
        if not size:
            return b""
        phase = self._ptr & 3
        key = self._mask[phase:] + self._mask[:phase]
        self._ptr += size
        stream = (key * (size // 4 + 1))[:size]
        return (int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")).to_bytes(
            size, "little")


def create_masker(mask: bytes, length: int | None = None) -> IntMasker:
    """Autobahn's ``create_xor_masker`` signature (the length hint is not needed)."""
    return IntMasker(mask)


def install() -> None:
    """Make autobahn's WebSocket protocol use :class:`IntMasker` (idempotent)."""
    try:
        import autobahn.websocket.protocol
    except ImportError:  # pragma: no cover - daphne always brings autobahn
        return
    autobahn.websocket.protocol.create_xor_masker = create_masker
