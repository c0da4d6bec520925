"""`conference.listen_backlog`: every TCP socket Twisted listens on asks the kernel for at least
the configured listen queue (Twisted's own is 50), whatever the endpoint said, unless it said
more. Run in a subprocess: Twisted's reactor is process-global. (The live daphne's socket is
checked with ``ss`` in tests/rtc/test_rtc_burst.py.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bots.live_daphne import ROOT

SCRIPT = r"""
import asyncio, json, subprocess, sys
from twisted.internet import asyncioreactor
loop = asyncio.new_event_loop()
asyncio.set_event_loop(loop)
asyncioreactor.install(loop)
from twisted.internet import endpoints, protocol, reactor
from conference import listen_backlog

if sys.argv[1] == "patched":
    listen_backlog.install(100)
    listen_backlog.install(700)  # idempotent; the last value counts

def queue(port):
    out = subprocess.run(["ss", "-ltnH", f"sport = :{port.getHost().port}"],
                         capture_output=True, text=True, check=True).stdout.split()
    return int(out[2])

plain = reactor.listenTCP(0, protocol.ServerFactory(), interface="127.0.0.1")
async def main():
    # daphne's way: an endpoint string, whose TCP default is 50; one asking for more keeps it
    default = await endpoints.serverFromString(
        reactor, "tcp:port=0:interface=127.0.0.1").listen(protocol.ServerFactory()).asFuture(loop)
    larger = await endpoints.serverFromString(
        reactor, "tcp:port=0:interface=127.0.0.1:backlog=900").listen(
            protocol.ServerFactory()).asFuture(loop)
    print(json.dumps({"plain": queue(plain), "endpoint": queue(default),
                      "larger": queue(larger)}))
loop.run_until_complete(main())
"""


def _queues(mode: str) -> dict[str, int]:
    result = subprocess.run([sys.executable, "-c", SCRIPT, mode], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_twisted_listens_with_a_queue_of_50_unless_installed():
    somaxconn = int(Path("/proc/sys/net/core/somaxconn").read_text())
    assert _queues("plain") == {"plain": 50, "endpoint": 50, "larger": min(900, somaxconn)}
    assert _queues("patched") == {"plain": min(700, somaxconn),
                                  "endpoint": min(700, somaxconn),
                                  "larger": min(900, somaxconn)}
