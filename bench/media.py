"""Media forwarding of one mediasoup-worker: packets per second, loss and CPU, on loopback.

One RTP sender (a UDP socket on 127.0.0.1 sending valid RTP at a fixed rate) feeds a
PlainTransport producer (comedia); N consumers, each on its own PlainTransport, send it to N
UDP sockets (asyncio datagram endpoints) that count what arrives. A row per N::

    .venv/bin/python -m bench.media [--quick] [--consumers 1,10,50,100] [--pps 500]
                                    [--codec opus|vp8] [--payload 1000] [--seconds 3] [--json]

Columns: ``in pps`` (sent by the sender in the measured window), ``out pps`` (RTP of the
window received by all N sockets, per second), ``loss %`` (1 - received / (sent × N) in the
window). Where packets went missing, counted over the whole row (warm-up included, after a
drain): ``lost in`` (sent, not counted by the producer: the worker's receive buffer
overflowed), ``lost fwd`` (counted by the producer × N minus sent by the consumers) and
``lost out`` (sent by the consumers, not received by our sockets). ``out Mbit/s`` (RTP bytes
received × 8 per second), ``worker CPU %`` (of one core: all worker threads, from
/proc/<pid>/task/*/schedstat over the window), ``us/pkt`` (worker CPU per forwarded packet),
``CPU %/100 Mbit/s`` (worker CPU per 100 Mbit/s forwarded) and ``bench CPU %`` (this Python
process: sender and receivers, sharing the two cores with the worker).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import struct
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mediasoup_ctl import Worker, create_worker  # noqa: E402

from bench._common import format_table, load_average, print_json, proc_sample  # noqa: E402

__all__ = ["main", "run_row"]

LOOPBACK = "127.0.0.1"
LISTEN = {"protocol": "udp", "ip": LOOPBACK}
SSRC = 0x0BE7C0DE
_INDEX = struct.Struct("!I")
RECV_BUFFER = 4 * 1024 * 1024

MEDIA_CODECS = [
    {"kind": "audio", "mimeType": "audio/opus", "clockRate": 48000, "channels": 2},
    {"kind": "video", "mimeType": "video/VP8", "clockRate": 90000},
]

CODECS: dict[str, dict[str, Any]] = {
    # kind, payload type, clock rate, RTP timestamp step per packet
    "opus": {"kind": "audio", "pt": 100, "clock": 48000, "step": 960,
             "codec": {"mimeType": "audio/opus", "payloadType": 100, "clockRate": 48000,
                       "channels": 2}},
    "vp8": {"kind": "video", "pt": 101, "clock": 90000, "step": 3000,
            "codec": {"mimeType": "video/VP8", "payloadType": 101, "clockRate": 90000}},
}


def rtp_packet(codec: str, seq: int, timestamp: int, payload_size: int, index: int = 0) -> bytes:
    """A valid RTP packet (v2, no extensions) with a codec-shaped payload.

    The last 4 bytes carry ``index`` (the sender's packet counter): the worker rewrites
    headers and may add header extensions, but it never touches the end of the payload, so a
    receiver can tell which packets were sent inside the measured window.

    Opus: a TOC byte then filler. VP8: a payload descriptor with S=1, partition 0 and a 15-bit
    PictureID (the worker's VP8 handling drops packets without one), then a VP8 header whose P
    bit marks a key frame every 60th packet, so a video consumer (which waits for a key
    frame) starts forwarding at once. Every packet is a whole frame (marker set).
    """
    info = CODECS[codec]
    header = struct.pack("!BBHII", 0x80, 0x80 | info["pt"], seq & 0xFFFF,
                         timestamp & 0xFFFFFFFF, SSRC)
    if codec == "vp8":
        key = seq % 60 == 0
        descriptor = b"\x90\x80" + struct.pack("!H", 0x8000 | (seq & 0x7FFF))
        body = descriptor + (b"\x10\x02\x00\x9d\x01\x2a" if key else b"\x11\x02\x00")
    else:
        body = b"\xfc"  # Opus TOC: config 31, stereo=0, one frame
    filler = b"\x00" * max(0, payload_size - len(body) - 4)
    return header + body + filler + _INDEX.pack(index & 0xFFFFFFFF)


def producer_parameters(codec: str) -> dict[str, Any]:
    """RTP parameters of the producer the sender feeds."""
    return {"codecs": [CODECS[codec]["codec"]], "encodings": [{"ssrc": SSRC}],
            "rtcp": {"cname": "bench-media"}}


class _Receiver:
    """One UDP socket on the event loop that counts the consumer's RTP packets.

    It reads with ``loop.add_reader`` and drains the socket on each wake-up (asyncio's own
    datagram transport reads one datagram per loop iteration, which made the receivers, not
    the worker, the bottleneck at 50k packets/s). Only packets of the consumer's SSRC count
    (not RTCP, RTX or probation packets), and of those only the ones whose sender index is at
    least ``first``, which starts above any index so nothing counts before the window opens.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECV_BUFFER)
        self.sock.setblocking(False)
        self.sock.bind((LOOPBACK, 0))
        self.port: int = self.sock.getsockname()[1]
        self.first = 1 << 62
        self.ssrc = b""
        self.packets = 0
        self.bytes = 0
        self.total = 0
        self._loop = loop
        loop.add_reader(self.sock.fileno(), self._readable)

    def _readable(self) -> None:
        recv, ssrc, first, unpack = self.sock.recv, self.ssrc, self.first, _INDEX.unpack_from
        for _ in range(256):  # bounded, so one busy socket cannot starve the others
            try:
                data = recv(2048)
            except (BlockingIOError, InterruptedError):
                return
            if data[8:12] != ssrc:
                continue
            self.total += 1
            if unpack(data, len(data) - 4)[0] >= first:
                self.packets += 1
                self.bytes += len(data)

    def close(self) -> None:
        """Stop reading and close the socket."""
        self._loop.remove_reader(self.sock.fileno())
        self.sock.close()


async def _sender(sock: socket.socket, dest: tuple[str, int], codec: str, pps: int,
                  payload: int, stop: asyncio.Event, sent: list[int]) -> None:
    """Send ``pps`` packets per second in 2 ms bursts until ``stop``; ``sent[0]`` counts."""
    tick = 0.002
    step = CODECS[codec]["step"]
    seq = 0
    start = time.monotonic()
    while not stop.is_set():
        due = int((time.monotonic() - start) * pps)
        while seq < due:
            try:
                sock.sendto(rtp_packet(codec, seq, seq * step, payload, seq), dest)
            except BlockingIOError:
                break
            seq += 1
            sent[0] += 1
        await asyncio.sleep(tick)


async def run_row(worker: Worker, *, consumers: int, codec: str, pps: int, payload: int,
                  seconds: float, warmup: float = 0.5) -> dict[str, Any]:
    """One measurement: a fresh router, 1 producer, ``consumers`` consumers; then closed."""
    loop = asyncio.get_running_loop()
    router = await worker.create_router(media_codecs=MEDIA_CODECS)
    receivers: list[_Receiver] = []
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        ingress = await router.create_plain_transport(listen_info=LISTEN, comedia=True)
        producer = await ingress.produce(kind=CODECS[codec]["kind"],
                                         rtp_parameters=producer_parameters(codec))
        consumer_list = []
        for _ in range(consumers):
            receiver = _Receiver(loop)
            receivers.append(receiver)
            egress = await router.create_plain_transport(listen_info=LISTEN)
            await egress.connect(ip=LOOPBACK, port=receiver.port)
            consumer = await egress.consume(producer_id=producer.id,
                                            rtp_capabilities=plain_capabilities(router))
            consumer_list.append(consumer)
            receiver.ssrc = struct.pack("!I", consumer.rtp_parameters["encodings"][0]["ssrc"])
        sender.setblocking(False)
        sender.bind((LOOPBACK, 0))
        dest = (LOOPBACK, ingress.tuple["localPort"])
        stop = asyncio.Event()
        sent = [0]
        task = asyncio.create_task(_sender(sender, dest, codec, pps, payload, stop, sent))
        await asyncio.sleep(warmup)
        first = sent[0]
        for receiver in receivers:
            receiver.first = first
        drops0 = udp_receive_errors()
        w0, b0 = proc_sample(worker.pid), proc_sample(os.getpid())
        await asyncio.sleep(seconds)
        stop.set()
        await task
        w1, b1 = proc_sample(worker.pid), proc_sample(os.getpid())
        in_window = sent[0] - first
        await _drain(receivers)
        drops = udp_receive_errors() - drops0
        # Whole-row totals (warm-up included, everything drained): where packets went missing.
        worker_in = await _packet_count(producer, "inbound-rtp")
        worker_out = sum([await _packet_count(c, "outbound-rtp") for c in consumer_list])
        sockets_in = sum(r.total for r in receivers)
        wall = w1.wall - w0.wall
        received = sum(r.packets for r in receivers)
        rx_bytes = sum(r.bytes for r in receivers)
        expected = in_window * consumers
        worker_cpu = (w1.cpu - w0.cpu) / wall
        mbit = rx_bytes * 8 / wall / 1e6
        return {
            "consumers": consumers,
            "in_pps": round(in_window / wall),
            "out_pps": round(received / wall),
            "loss_pct": round(100 * (expected - received) / expected, 2) if expected else 0,
            "udp_drops": drops,
            "lost_in": sent[0] - worker_in,
            "lost_fwd": worker_in * consumers - worker_out,
            "lost_out": worker_out - sockets_in,
            "received": received,
            "expected": expected,
            "out_mbit_s": round(mbit, 1),
            "worker_cpu_pct": round(100 * worker_cpu, 1),
            "worker_us_per_pkt": round(1e6 * (w1.cpu - w0.cpu) / received, 2) if received else None,
            "cpu_pct_per_100mbit": round(100 * worker_cpu / mbit * 100, 1) if mbit else None,
            "bench_cpu_pct": round(100 * (b1.cpu - b0.cpu) / (b1.wall - b0.wall), 1),
            "worker_rss_mb": round(w1.rss / 2**20, 1),
        }
    finally:
        sender.close()
        for receiver in receivers:
            receiver.close()
        router.close()


async def _drain(receivers: list[_Receiver], limit: float = 3.0) -> None:
    """Wait until the receivers' counts stop growing (what is in flight has arrived)."""
    deadline = time.monotonic() + limit
    last = -1
    while time.monotonic() < deadline:
        total = sum(r.total for r in receivers)
        if total == last:
            return
        last = total
        await asyncio.sleep(0.1)


async def _packet_count(obj: Any, stats_type: str) -> int:
    return sum(s.get("packetCount", 0) for s in await obj.get_stats() if s["type"] == stats_type)


def plain_capabilities(router: Any) -> dict[str, Any]:
    """The router's capabilities minus transport-wide congestion control.

    Our receivers send no RTCP feedback, so with transport-cc the worker would run its
    bandwidth estimation blind (and send probation packets); a plain RTP endpoint such as
    FFmpeg does not negotiate it either.
    """
    caps = router.rtp_capabilities
    return {
        "codecs": [{**c, "rtcpFeedback": [fb for fb in c.get("rtcpFeedback", [])
                                          if fb["type"] != "transport-cc"]}
                   for c in caps["codecs"]],
        "headerExtensions": [h for h in caps["headerExtensions"]
                             if "transport-wide-cc" not in h["uri"]],
    }


def udp_receive_errors() -> int:
    """The kernel's count of UDP datagrams dropped for a full receive buffer (all sockets)."""
    with open("/proc/net/snmp") as f:
        lines = [line.split() for line in f if line.startswith("Udp:")]
    header, values = lines[0], lines[1]
    return int(values[header.index("RcvbufErrors")])


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """All rows on one worker; the worker must have no router left at the end."""
    worker = await create_worker(log_level="error", rtc_min_port=40000, rtc_max_port=49999)
    try:
        rows = []
        for n in args.consumers:
            rows.append(await run_row(worker, consumers=n, codec=args.codec, pps=args.pps,
                                      payload=args.payload, seconds=args.seconds))
        leftover = (await worker.dump())["routerIds"]
        if leftover:
            raise RuntimeError(f"routers left in the worker: {leftover}")
        return rows
    finally:
        worker.close()
        await worker.wait_closed(10)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point; returns the exit status (1 if any row lost packets)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--consumers", default="1,10,50,100",
                        help="comma-separated consumer counts, a row each")
    parser.add_argument("--pps", type=int, default=500, help="packets per second sent in")
    parser.add_argument("--codec", choices=sorted(CODECS), default="vp8")
    parser.add_argument("--payload", type=int, default=1000, help="RTP payload bytes")
    parser.add_argument("--seconds", type=float, default=3.0, help="measured window per row")
    parser.add_argument("--quick", action="store_true", help="rows 1,5 of 1 s each (smoke)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.quick:
        args.consumers, args.seconds, args.pps = "1,5", 1.0, 200
    args.consumers = [int(n) for n in str(args.consumers).split(",") if n]
    rows = asyncio.run(run(args))
    errors = sum(1 for r in rows if r["received"] == 0)
    if args.json:
        print_json({"rows": rows, "codec": args.codec, "payload": args.payload,
                    "errors": errors})
        return 1 if errors else 0
    print(f"media: one worker, 1 {args.codec} producer at {args.pps} pps × {args.payload} B "
          f"payload, N PlainTransport consumers on loopback, {args.seconds:g} s per row; "
          f"load average {load_average()}")
    print(format_table(
        ["consumers", "in pps", "out pps", "loss %", "lost in", "lost fwd", "lost out",
         "out Mbit/s", "worker CPU %", "us/pkt", "CPU %/100 Mbit/s", "bench CPU %"],
        [[r["consumers"], r["in_pps"], r["out_pps"], r["loss_pct"], r["lost_in"],
          r["lost_fwd"], r["lost_out"], r["out_mbit_s"], r["worker_cpu_pct"],
          r["worker_us_per_pkt"], r["cpu_pct_per_100mbit"], r["bench_cpu_pct"]]
         for r in rows]))
    print(f"errors: {errors}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
