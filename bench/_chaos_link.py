"""The ``link`` fault of ``bench/chaos.py``: one peer's network dies silently and comes back.

With ``link`` in the schedule the run's daphne goes into a network namespace of its own
(``<LIVE_SITE_NETNS>-cs``), the peers next to it run on a :class:`bots.netns.NamespaceLoop`
there, and one peer (the "far" one) runs in a second namespace (``-cc``) that reaches the server
only over a :class:`bots.shaped_link.ShapedLink`. The server reaches its PostgreSQL and Redis
(on the host's loopback, outside the namespace) through their Unix sockets, since the
namespaces share the filesystem. A round kills the link (every packet both ways lost: no FIN,
no RST) for ``--link-down`` seconds, or, every other round, for longer than the reconnect grace,
then brings it back. The far bot pings its socket (1 s, pong within 2 s) and reconnects; the
server's keepalive here is 2 s / 4 s (production: 10 s / 10 s) so that a round takes seconds.

Expected: a short drop resumes the same peer with its transports (``kept``) and the others see
no ``rtc:peerLeft``; a long one removes the peer (``rtc:peerLeft`` ``disconnected``) and the
far bot joins afresh (``rejoined``). Anything else is counted as a link mismatch.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
from typing import Any

from bots.live_daphne import answers_http
from bots.netns import NamespaceLoop, enter_netns
from bots.shaped_link import CLEAN, LinkProfile, ShapedLink

__all__ = ["DEAD", "FAR_SOCKET", "KEEPALIVE", "LinkSetup"]

DEAD = LinkProfile(loss=1.0)
KEEPALIVE = (2.0, 4.0)
FAR_SOCKET = {"ping_interval": 1.0, "ping_timeout": 2.0, "timeout": 4.0}


class LinkSetup:
    """Namespaces, the link and the two loops; ``start()``, ``close()``."""

    def __init__(self) -> None:
        base = os.environ.get("LIVE_SITE_NETNS", "conference-web")
        self.server_ns, self.client_ns = f"{base}-cs", f"{base}-cc"
        self.link = ShapedLink(server_ns=self.server_ns, client_ns=self.client_ns,
                               subnet="10.213.16")
        self.near = NamespaceLoop(self.server_ns)
        self.far = NamespaceLoop(self.client_ns)

    def start(self) -> LinkSetup:
        """Make everything (root and iproute2 needed)."""
        if os.geteuid() != 0 or shutil.which("ip") is None:
            raise RuntimeError("the link fault needs root and iproute2 (namespaces, TUN)")
        self.link.start()
        self.near.start()
        self.far.start()
        return self

    def server_options(self) -> dict[str, Any]:
        """What :class:`bots.live_daphne.LiveDaphne` needs to serve inside the namespace."""
        return {"wrap": lambda command: ["ip", "netns", "exec", self.server_ns, *command],
                "probe": self.probe, "keepalive": KEEPALIVE}

    def server_env(self) -> dict[str, str]:
        """The server's listen address for media and its allowed host."""
        return {"MEDIASOUP_LISTEN_IP": self.link.server_ip,
                "ALLOWED_HOSTS": f"127.0.0.1,localhost,{self.link.server_ip}"}

    def probe(self, url: str) -> bool:
        """``answers_http`` from inside the server's namespace."""
        answer: list[bool] = []

        def work() -> None:
            enter_netns(self.server_ns)
            answer.append(answers_http(url))

        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
        return bool(answer and answer[0])

    def far_url(self, url: str) -> str:
        """A socket URL on the server's loopback, as the far side reaches it."""
        return url.replace("127.0.0.1", self.link.server_ip)

    def cut(self) -> None:
        """The far link dies."""
        self.link.shape(down=DEAD, up=DEAD)

    def restore(self) -> None:
        """The far link carries packets again."""
        self.link.shape(down=CLEAN, up=CLEAN)

    def close(self) -> None:
        """Stop the loops, remove the link and the namespaces."""
        self.near.close()
        self.far.close()
        self.link.close()
        for namespace in (self.server_ns, self.client_ns):
            subprocess.run(["ip", "netns", "del", namespace], capture_output=True, check=False)
