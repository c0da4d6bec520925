"""A shaped network link between two network namespaces: a thin, slow, lossy path on demand.

The browser tests and ``bench/quality.py`` need a receiver (or a sender) behind a bad link while
the server and the other peers sit on a good one. ``tc netem`` would be the usual tool, but the
kernels this project runs its CI on may lack it (this machine's has ``tbf`` and ``htb`` but no
``netem``, so no delay or random loss), so the link is carried by this process instead: a TUN
device in each namespace (``shaped0``, a point-to-point /30), and a thread that copies every IP
packet from one to the other through a shaper per direction. The shaper is a bounded FIFO
served at ``rate_kbps`` (tail drop once ``queue_ms`` of data is waiting, as a router's buffer),
after which each packet is delayed by ``delay_ms`` and dropped with probability ``loss``
(independent draws from a seeded generator). Changing a profile takes effect at once.

Only root can do this (namespaces, TUN devices); everything it makes lives in namespaces the
caller names, and ``close()`` removes it (the TUN devices vanish with their file descriptors).
"""

from __future__ import annotations

import ctypes
import fcntl
import heapq
import logging
import os
import random
import select
import struct
import subprocess
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType

__all__ = ["LinkProfile", "ShapedLink", "netns_add"]

logger = logging.getLogger(__name__)

_TUNSETIFF = 0x400454CA
_IFF_TUN = 0x0001
_IFF_NO_PI = 0x1000
_CLONE_NEWNET = 0x40000000
DEVICE = "shaped0"


@dataclass(frozen=True, slots=True)
class LinkProfile:
    """One direction of the link. The defaults are a clean link (no limit, no delay, no loss)."""

    rate_kbps: float | None = None
    """Serialisation rate in kbit/s; None: as fast as the packets come."""
    delay_ms: float = 0.0
    """One-way propagation delay added to every packet."""
    loss: float = 0.0
    """Probability (0..1) that a packet is dropped."""
    queue_ms: float = 1000.0
    """The buffer in front of the rate limit, in milliseconds of data at ``rate_kbps`` (a
    second: a modem's or a mobile cell's buffer; a key frame fits in it. ``tc netem``'s
    default 1000-packet limit is far larger)."""

    def describe(self) -> str:
        """A short label: ``400 kbit/s, 150 ms, 3 % loss``."""
        parts = [f"{self.rate_kbps:g} kbit/s" if self.rate_kbps else "unlimited"]
        if self.delay_ms:
            parts.append(f"{self.delay_ms:g} ms")
        if self.loss:
            parts.append(f"{self.loss * 100:g} % loss")
        return ", ".join(parts)


CLEAN = LinkProfile()


@dataclass(eq=False)
class _Direction:
    """The shaper of one direction and its counters."""

    name: str
    out_fd: int
    profile: LinkProfile = CLEAN
    busy_until: float = 0.0
    forwarded: int = 0
    forwarded_bytes: int = 0
    lost: int = 0
    overflowed: int = 0
    rng: random.Random = field(default_factory=lambda: random.Random(1234))

    def admit(self, now: float, size: int) -> float | None:
        """When a packet of ``size`` bytes arriving ``now`` leaves the link; None: dropped."""
        profile = self.profile
        if profile.loss and self.rng.random() < profile.loss:
            self.lost += 1
            return None
        leave = now
        if profile.rate_kbps:
            start = max(now, self.busy_until)
            if start - now > profile.queue_ms / 1000:
                self.overflowed += 1
                return None
            self.busy_until = start + size * 8 / (profile.rate_kbps * 1000)
            leave = self.busy_until
        return leave + profile.delay_ms / 1000


def netns_add(name: str) -> None:
    """Create the network namespace ``name`` (if missing) with its loopback up."""
    subprocess.run(["ip", "netns", "add", name], capture_output=True, check=False)
    subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)


def _ip(namespace: str, *args: str) -> None:
    result = subprocess.run(["ip", "-n", namespace, *args], capture_output=True, text=True,
                            check=False)
    if result.returncode != 0:
        raise RuntimeError(f"ip -n {namespace} {' '.join(args)}: {result.stderr.strip()}")


def _open_tun_in(namespace: str) -> int:
    """A TUN device named ``DEVICE`` created inside ``namespace``; its file descriptor.

    The network namespace of a thread is its own: a short-lived thread enters the namespace,
    creates the device there and leaves; the descriptor keeps working from any thread.
    """
    result: dict[str, int | BaseException] = {}

    def work() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        try:
            with open(f"/var/run/netns/{namespace}") as ns:
                if libc.setns(ns.fileno(), _CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns({namespace}) failed")
            fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
            fcntl.ioctl(fd, _TUNSETIFF, struct.pack("16sH", DEVICE.encode(),
                                                    _IFF_TUN | _IFF_NO_PI))
            result["fd"] = fd
        except BaseException as exc:  # handed to the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=work, name=f"tun-{namespace}")
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return int(result["fd"])  # type: ignore[arg-type]


class ShapedLink:
    """``server_ns`` ⇄ ``client_ns`` over ``DEVICE``: ``server_ip`` and ``client_ip`` (/30).

    ``start()`` (or use it as a context), ``shape(down=..., up=...)`` at any time (``down`` is
    server → client), ``counters()`` for what it forwarded and dropped, ``close()``.
    """

    def __init__(self, *, server_ns: str, client_ns: str, subnet: str = "10.213.8") -> None:
        self.server_ns = server_ns
        self.client_ns = client_ns
        self.server_ip = f"{subnet}.1"
        self.client_ip = f"{subnet}.2"
        self._fds: list[int] = []
        self._wake_r, self._wake_w = -1, -1
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopping = False
        self.down: _Direction | None = None
        self.up: _Direction | None = None

    def start(self) -> ShapedLink:
        """Create both ends, address them, start carrying packets."""
        netns_add(self.server_ns)
        netns_add(self.client_ns)
        server_fd = _open_tun_in(self.server_ns)
        client_fd = _open_tun_in(self.client_ns)
        self._fds = [server_fd, client_fd]
        for namespace, ip, peer in ((self.server_ns, self.server_ip, self.client_ip),
                                    (self.client_ns, self.client_ip, self.server_ip)):
            _ip(namespace, "addr", "add", f"{ip}/32", "peer", f"{peer}/32", "dev", DEVICE)
            _ip(namespace, "link", "set", DEVICE, "up")
        self.down = _Direction("down", out_fd=client_fd)
        self.up = _Direction("up", out_fd=server_fd)
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name="shaped-link", daemon=True)
        self._thread.start()
        logger.info("shaped link up [%s %s <-> %s %s]", self.server_ns, self.server_ip,
                    self.client_ns, self.client_ip)
        return self

    def shape(self, *, down: LinkProfile = CLEAN, up: LinkProfile = CLEAN) -> None:
        """Set both directions' profiles (``CLEAN`` lifts the shaping)."""
        assert self.down is not None and self.up is not None, "start() first"
        with self._lock:
            self.down.profile, self.up.profile = down, up
        logger.info("shaped link [down: %s; up: %s]", down.describe(), up.describe())

    def counters(self) -> dict[str, dict[str, int]]:
        """Per direction: packets and bytes forwarded, packets lost and overflowed."""
        out = {}
        for direction in (self.down, self.up):
            if direction is not None:
                out[direction.name] = {"forwarded": direction.forwarded,
                                       "bytes": direction.forwarded_bytes,
                                       "lost": direction.lost, "overflowed": direction.overflowed}
        return out

    def _run(self) -> None:
        server_fd, client_fd = self._fds
        assert self.down is not None and self.up is not None
        route = {server_fd: self.down, client_fd: self.up}
        poller = select.poll()
        for fd in (server_fd, client_fd, self._wake_r):
            poller.register(fd, select.POLLIN)
        pending: list[tuple[float, int, bytes, int]] = []
        order = 0
        while not self._stopping:
            timeout = None
            if pending:
                timeout = max(0, int((pending[0][0] - time.monotonic()) * 1000) + 1)
            for fd, _ in poller.poll(timeout):
                if fd == self._wake_r:
                    continue
                direction = route[fd]
                for _ in range(64):  # drain what is there, bounded
                    try:
                        packet = os.read(fd, 65536)
                    except BlockingIOError:
                        break
                    except OSError:
                        return
                    with self._lock:
                        leave = direction.admit(time.monotonic(), len(packet))
                    if leave is not None:
                        order += 1
                        heapq.heappush(pending, (leave, order, packet, direction.out_fd))
                        direction.forwarded += 1
                        direction.forwarded_bytes += len(packet)
            now = time.monotonic()
            while pending and pending[0][0] <= now:
                _, _, packet, out_fd = heapq.heappop(pending)
                try:
                    os.write(out_fd, packet)
                except BlockingIOError:
                    pass  # the namespace's stack is full: lost, as on a real link
                except OSError:
                    return

    def close(self) -> None:
        """Stop carrying packets and remove both devices (closing a TUN descriptor does)."""
        self._stopping = True
        if self._wake_w >= 0:
            os.write(self._wake_w, b"x")
        if self._thread is not None:
            self._thread.join(timeout=5)
        for fd in (*self._fds, self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        self._fds, self._wake_r, self._wake_w = [], -1, -1

    def __enter__(self) -> ShapedLink:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()
