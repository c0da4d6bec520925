"""`conference.ws_unmask`: client frames unmasked with one integer XOR give exactly the bytes
autobahn's own maskers give, chunk by chunk, and a real socket still works through it."""

from __future__ import annotations

import random

import pytest
from autobahn.websocket import protocol
from autobahn.websocket.xormasker import create_xor_masker

from conference import ws_unmask


@pytest.mark.parametrize("size", [0, 1, 3, 4, 5, 127, 128, 1000, 65_537])
def test_the_same_bytes_as_autobahns_masker_in_any_chunking(size):
    """For payloads of any size cut into random chunks, IntMasker's output and pointer equal
    autobahn's, and reset starts the key again."""
    rng = random.Random(size)
    mask = bytes(rng.randrange(256) for _ in range(4))
    payload = bytes(rng.randrange(256) for _ in range(size))
    reference = create_xor_masker(mask, size)
    ours = ws_unmask.IntMasker(mask)
    at = 0
    while at < size:
        step = rng.randint(1, 9) if rng.random() < 0.5 else rng.randint(1, 4096)
        chunk = memoryview(payload)[at:at + step]
        assert ours.process(chunk) == reference.process(bytes(chunk))
        assert ours.pointer() == reference.pointer()
        at += step
    assert ours.process(b"") == b""
    ours.reset()
    assert ours.pointer() == 0
    assert ours.process(payload[:8]) == create_xor_masker(mask, 8).process(payload[:8])
    with pytest.raises(ValueError):
        ws_unmask.IntMasker(b"abc")


def test_install_replaces_autobahns_factory(monkeypatch):
    """After install, autobahn's protocol makes IntMaskers (idempotent)."""
    monkeypatch.setattr(protocol, "create_xor_masker", create_xor_masker)
    ws_unmask.install()
    ws_unmask.install()
    assert isinstance(protocol.create_xor_masker(b"abcd", 10), ws_unmask.IntMasker)
