"""What one Redis command costs the server's event loop, with and without hiredis, and what
opening a pooled connection costs (why the pools open theirs at start-up).

The server talks to Redis through redis-py's asyncio client (the channel layer, the cluster
node). Each figure is the CPU of this process (``time.process_time``) per command, the best
of ``--rounds`` rounds of ``--commands`` commands on a warm connection, against the Redis at
``--url``:

* ``EVALSHA`` of a script returning a group of 10 members, awaited one at a time (the shape of
  a group's remote-members lookup),
* the same in pipelines of 10 (how `conference.channel_layers` reads a turn's groups),
* a connection opened and handed back to a ``BlockingConnectionPool`` (TCP connect and
  ``HELLO``, what a pool that opens connections on demand pays inside a burst).

Each parser runs in a process of its own: redis-py picks hiredis at import when it is
installed, so the pure-Python parser's row comes from a child that hides hiredis from it.
``.venv/bin/python -m bench.redis_client`` prints the table (``--json`` for the numbers).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import uuid
from typing import Any

from bench._common import format_table, load_average, print_json

MEMBERS = 10


async def _measure(url: str, commands: int, rounds: int) -> dict[str, Any]:
    import redis.utils
    from redis import asyncio as aioredis

    client = aioredis.Redis(connection_pool=aioredis.BlockingConnectionPool.from_url(
        url, max_connections=50, timeout=10))
    key = f"bench-redis-client-{uuid.uuid4().hex[:8]}"
    try:
        await client.zadd(key, {f"specific.bench!{i:032x}": time.time() for i in range(MEMBERS)})
        sha = await client.script_load("return redis.call('ZRANGE', KEYS[1], 0, -1)")

        async def single() -> None:
            for _ in range(commands):
                await client.evalsha(sha, 1, key)

        async def pipelined() -> None:
            for _ in range(commands // 10):
                pipe = client.pipeline(transaction=False)
                for _ in range(10):
                    pipe.evalsha(sha, 1, key)
                await pipe.execute()

        async def opened() -> None:
            for _ in range(commands // 10):
                pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=2)
                connection = await pool.get_connection()
                await pool.release(connection)
                await pool.disconnect()

        figures: dict[str, Any] = {"hiredis": redis.utils.HIREDIS_AVAILABLE}
        for name, run, per in (("single_us", single, commands),
                               ("pipelined_us", pipelined, commands // 10 * 10),
                               ("open_us", opened, commands // 10)):
            await run()  # warm
            best = min([await _timed(run) for _ in range(rounds)])
            figures[name] = round(best / per * 1e6, 1)
        return figures
    finally:
        await client.delete(key)
        await client.aclose()


async def _timed(run: Any) -> float:
    started = time.process_time()
    await run()
    return time.process_time() - started


def _child(url: str, commands: int, rounds: int, hide_hiredis: bool) -> dict[str, Any]:
    """One parser's figures, measured in a process of its own."""
    code = ("import sys, json, asyncio\n"
            + ("sys.modules['hiredis'] = None\n" if hide_hiredis else "")
            + "from bench.redis_client import _measure\n"
            + f"print(json.dumps(asyncio.run(_measure({url!r}, {commands}, {rounds}))))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    if done.returncode:
        raise SystemExit(f"the measuring process failed:\n{done.stderr}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--commands", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = [_child(args.url, args.commands, args.rounds, hide)
            for hide in (True, False)]
    if args.json:
        print_json({"rows": rows})
        return 0
    print(f"redis-py asyncio, CPU µs of this process per command (best of {args.rounds} "
          f"rounds of {args.commands}); load average {load_average()}")
    print(format_table(
        ["parser", "EVALSHA, one at a time", "EVALSHA, pipelines of 10", "open a connection"],
        [["hiredis" if row["hiredis"] else "pure Python", row["single_us"],
          row["pipelined_us"], row["open_us"]] for row in rows]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
