"""`conference.twisted_write`: Twisted's TCP connections (daphne's sockets) send at once when
nothing is queued, and lose nothing, reorder nothing, when the kernel takes only part of a
write or the peer is gone. Run in a subprocess: Twisted's reactor is process-global."""

from __future__ import annotations

import json
import subprocess
import sys

from bots.live_daphne import ROOT

SCRIPT = r"""
import asyncio, hashlib, json, socket, struct, sys, threading
from twisted.internet import asyncioreactor
loop = asyncio.new_event_loop()
asyncio.set_event_loop(loop)
asyncioreactor.install(loop)
from twisted.internet import protocol, reactor, tcp
from conference import twisted_write

patched = sys.argv[1] == "patched"
if patched:
    twisted_write.install()
    twisted_write.install()  # idempotent

counts = {"add_writer": 0}
real_add = reactor.addWriter
def add_writer(selectable):
    if selectable not in reactor.getWriters():
        counts["add_writer"] += 1
    return real_add(selectable)
reactor.addWriter = add_writer

# Frames of growing sizes, the last ones larger than any socket buffer: a partial send.
frames = [bytes([i % 251]) * (10 + i * 37) for i in range(300)] + [b"x" * 4_000_000, b"y" * 7]
expected = hashlib.sha256(b"".join(frames)).hexdigest()
total = sum(len(f) for f in frames)
result = {}

class Sender(protocol.Protocol):
    def connectionMade(self):
        for frame in frames[:-2]:
            self.transport.write(frame)
        result["add_writer_small"] = counts["add_writer"]
        self.transport.write(frames[-2])
        self.transport.write(frames[-1])
        result["buffered_after_big"] = bool(self.transport._tempDataBuffer
                                            or self.transport.dataBuffer)
        self.transport.loseConnection()
        written.set()

class Factory(protocol.ServerFactory):
    protocol = Sender

port = reactor.listenTCP(0, Factory(), interface="127.0.0.1")
client = socket.socket()
client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
client.connect(("127.0.0.1", port.getHost().port))

written = threading.Event()

def read_all():
    assert written.wait(10)  # the server writes into a small, unread buffer first
    got = bytearray()
    while True:
        chunk = client.recv(65536)
        if not chunk:
            break
        got += chunk
    result["received"] = len(got)
    result["intact"] = hashlib.sha256(got).hexdigest() == expected
    reactor.callFromThread(lambda: asyncio.ensure_future(write_to_reset_peer()))

async def write_to_reset_peer():
    # A write to a connection whose peer is gone: no exception, the connection closes.
    lost = []
    made, gone = loop.create_future(), loop.create_future()
    class Late(protocol.Protocol):
        def connectionMade(self):
            made.set_result(self)
        def connectionLost(self, reason):
            lost.append(reason.type.__name__)
            if not gone.done():
                gone.set_result(None)
    factory = protocol.ServerFactory()
    factory.protocol = Late
    port2 = reactor.listenTCP(0, factory, interface="127.0.0.1")
    peer = socket.create_connection(("127.0.0.1", port2.getHost().port))
    late = await asyncio.wait_for(made, 10)
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    peer.close()  # RST
    # Write until the connection notices the reset (the first write may still be taken);
    # five writes at most, as a server would try before its peer's reset shows.
    for _ in range(5):
        late.transport.write(b"z" * 100_000)
        try:
            await asyncio.wait_for(asyncio.shield(gone), 1)
            break
        except TimeoutError:
            pass
    result["lost"] = lost
    result["total"] = total
    reactor.stop()

threading.Thread(target=read_all, daemon=True).start()
reactor.run()
print(json.dumps(result))
"""


def _run(mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", SCRIPT, mode], cwd=ROOT, capture_output=True,
                          text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_small_frames_go_out_without_waiting_for_writability_and_arrive_intact():
    """Patched, 300 small frames to a socket with room register the socket for writability
    at most once (Twisted alone: on the first write), a 4 MB frame that the kernel takes only
    in part is buffered and finished by the reactor, every byte arrives in order, and a write
    to a reset connection closes it without an exception."""
    patched = _run("patched")
    assert patched["intact"] and patched["received"] == patched["total"]
    assert patched["add_writer_small"] <= 1
    assert patched["buffered_after_big"] is True
    assert patched["lost"] and patched["lost"][0] in ("ConnectionLost", "ConnectionDone")


def test_the_unpatched_reactor_gives_the_same_bytes():
    """The same script without the patch (the reference): the same bytes arrive, and the
    connection to the reset peer closes the same way."""
    plain = _run("plain")
    assert plain["intact"] and plain["received"] == plain["total"]
    assert plain["add_writer_small"] == 1
    assert plain["lost"] and plain["lost"][0] in ("ConnectionLost", "ConnectionDone")


TURN_SCRIPT = r"""
import asyncio, json, socket
from twisted.internet import asyncioreactor
loop = asyncio.new_event_loop()
asyncio.set_event_loop(loop)
asyncioreactor.install(loop)
from twisted.internet import protocol, reactor, tcp
from conference import twisted_write
twisted_write.install()

sends = []
real = tcp.Connection.writeSomeData
def counting(self, data):
    sends.append(bytes(data))
    return real(self, data)
tcp.Connection.writeSomeData = counting
result = {}

class Sender(protocol.Protocol):
    def connectionMade(self):
        self.transport.write(b"first|")
        result["sent_at_once"] = [s.decode() for s in sends]
        for n in range(5):
            self.transport.write(b"more%d|" % n)
        result["sends_in_turn"] = len(sends)
        loop.call_soon(self.next_turn)

    def next_turn(self):
        result["sends_after_turn"] = len(sends)
        result["second_send"] = sends[1].decode() if len(sends) > 1 else None
        # A reply (written urgently) goes at once, with what the turn queued before it.
        self.transport.write(b"event|")
        self.transport.write(b"event2|")
        with twisted_write.urgently():
            self.transport.write(b"reply|")
        result["urgent_send"] = sends[-1].decode()
        # A turn that ends with a close: what it wrote goes out before the close.
        self.transport.write(b"again|")
        self.transport.write(b"last|")
        self.transport.loseConnection()

class Factory(protocol.ServerFactory):
    protocol = Sender

port = reactor.listenTCP(0, Factory(), interface="127.0.0.1")

async def read_all():
    reader, writer = await asyncio.open_connection("127.0.0.1", port.getHost().port)
    result["received"] = (await reader.read()).decode()
    reactor.stop()

loop.call_soon(lambda: asyncio.ensure_future(read_all()))
reactor.run()
print(json.dumps(result))
"""


def test_the_frames_after_the_first_of_a_turn_go_out_together_at_its_end():
    """The first write of a turn is sent at once; the five after it in the same turn wait
    for the turn's end and go in one send, in order; a write made urgently (a reply) goes at
    once with what its turn queued before it; a turn ending with loseConnection still
    delivers what it wrote, before the close."""
    done = subprocess.run([sys.executable, "-c", TURN_SCRIPT], cwd=ROOT, capture_output=True,
                          text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["sent_at_once"] == ["first|"]
    assert result["sends_in_turn"] == 1
    assert result["sends_after_turn"] == 2
    assert result["second_send"] == "more0|more1|more2|more3|more4|"
    assert result["urgent_send"] == "event2|reply|"
    assert result["received"] == (
        "first|more0|more1|more2|more3|more4|event|event2|reply|again|last|")
