"""``make cluster NODES=3``: a local cluster of daphne nodes behind a round-robin balancer.

For development: the production shape on one machine. Every node is a daphne process with its
own port, ``NODE_ID`` (``node0``...) and media address (``127.0.0.<i+1>``), all on one
PostgreSQL database (kept between runs: ``CLUSTER_DATABASE_URL``, default
``postgres://postgres@127.0.0.1:5432/conference_cluster``) and one Redis (``REDIS_URL``, default
``redis://127.0.0.1:6379/0``). The balancer (`bots.balancer`) listens on ``--host:--port`` and
hands each new connection to the next node, as a plain TCP balancer in front of real nodes
would. Ctrl-C (or SIGTERM) drains every node (their calls end, as a full stop does) and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bots.balancer import RoundRobinBalancer  # noqa: E402
from bots.live_cluster import LiveCluster  # noqa: E402

DEFAULT_DATABASE = "postgres://postgres@127.0.0.1:5432/conference_cluster"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=3, help="how many nodes (1-16)")
    parser.add_argument("--host", default="127.0.0.1", help="the balancer's address")
    parser.add_argument("--port", type=int, default=8000, help="the balancer's port")
    parser.add_argument("--workers", type=int, default=1, help="mediasoup workers per node")
    args = parser.parse_args(argv)
    if not 1 <= args.nodes <= 16:
        parser.error("--nodes is 1 to 16")
    return args


async def serve(args: argparse.Namespace) -> int:
    """Start the nodes and the balancer; wait for a signal; stop everything; an exit code."""
    cluster = LiveCluster(
        args.nodes, redis_url=os.environ.get("REDIS_URL") or DEFAULT_REDIS,
        database_url=os.environ.get("CLUSTER_DATABASE_URL") or DEFAULT_DATABASE,
        key_prefix="conference-dev-cluster", worker_num=args.workers, prefix="dev-cluster-",
        env={"ALLOWED_HOSTS": f"127.0.0.1,localhost,{args.host}"})
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    balancer = None
    try:
        await asyncio.to_thread(cluster.start)
        balancer = RoundRobinBalancer([("127.0.0.1", n.port) for n in cluster.nodes],
                                      host=args.host, port=args.port)
        await balancer.start()
        print(f"cluster of {args.nodes} nodes on {cluster.database_url} and "  # noqa: T201
              f"{cluster.redis_url}", flush=True)
        for i, node in enumerate(cluster.nodes):
            print(f"  node{i}: {node.http_url} (media on {cluster.address(i)}, log "  # noqa: T201
                  f"{node.log_path})", flush=True)
        print(f"balancer: http://{args.host}:{balancer.port}/  (Ctrl-C stops)",  # noqa: T201
              flush=True)
        await stop.wait()
        return 0
    finally:
        if balancer is not None:
            await balancer.close()
        codes = await asyncio.to_thread(cluster.cleanup)
        print(f"nodes stopped (exit codes {codes})", flush=True)  # noqa: T201


def main(argv: list[str] | None = None) -> int:
    """The command line."""
    return asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
