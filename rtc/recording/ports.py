"""Free loopback UDP ports for FFmpeg, and waiting until FFmpeg has bound one.

FFmpeg binds the ports its SDP names, so the recorder picks them: the kernel hands out a free
port for a socket bound to port 0, which is closed again at once. Another process could take
it in between; :func:`wait_bound` notices FFmpeg failing and the recorder retries with new
ports.
"""

from __future__ import annotations

import asyncio
import errno
import socket
from collections.abc import Callable

__all__ = ["free_udp_ports", "udp_port_bound", "wait_bound"]


def free_udp_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """``count`` distinct UDP ports nobody uses right now."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind((host, 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def udp_port_bound(port: int, host: str = "127.0.0.1") -> bool:
    """Whether some socket holds ``port`` (binding it fails with EADDRINUSE)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((host, port))
    except OSError as error:
        return error.errno == errno.EADDRINUSE
    finally:
        sock.close()
    return False


async def wait_bound(port: int, *, alive: Callable[[], bool], timeout: float = 5.0,
                     host: str = "127.0.0.1") -> bool:
    """Wait until ``port`` is bound; False when ``alive()`` turns false or time runs out."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if udp_port_bound(port, host):
            return True
        if not alive():
            return False
        await asyncio.sleep(0.02)
    return False
