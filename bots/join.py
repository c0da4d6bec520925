"""``python -m bots.join``: a participant that sends a tone and a test pattern (load, tests).

    python -m bots.join --url ws://127.0.0.1:8000 --token <join token> [--duration 60]

It joins like a browser, publishes a 440 Hz tone (``mic``) and a moving test pattern
(``webcam``), consumes and decodes everyone else, and stays until SIGINT/SIGTERM, the end of
``--duration`` or the end of the meeting; then it leaves and prints one JSON line: its peer id,
why it stopped, and the frames it decoded per remote peer and kind. Exit codes: 0 done,
1 connection lost or failure, 2 bad arguments, 3 refused (token, invitation, grants).
"""

from __future__ import annotations

import asyncio
import json
import sys

from bots.cli import EXIT_FAILED, EXIT_OK, base_parser, run
from bots.peer import Bot

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, take part in the call, return the exit code."""
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--name", default="Bot", help="display name")
    parser.add_argument("--duration", type=float, default=None,
                        help="seconds to stay (default: until stopped or the meeting ends)")
    parser.add_argument("--no-audio", action="store_true", help="do not send the tone")
    parser.add_argument("--no-video", action="store_true", help="do not send the pattern")
    args = parser.parse_args(argv)
    kinds = [kind for kind, off in (("audio", args.no_audio), ("video", args.no_video))
             if not off]

    async def take_part(url: str, stop: asyncio.Event) -> int:
        bot = Bot(url, args.origin, args.name, send_media=bool(kinds))
        try:
            await bot.connect()
            await bot.join()
            if kinds:
                await bot.publish(kinds)
            print(f"joined as peer {bot.peer_id}, sending {', '.join(kinds) or 'nothing'}",
                  flush=True)
            reason = await bot.stay(stop, args.duration)
            if reason in ("stopped", "time_up"):
                await bot.leave_quietly()
        finally:
            await bot.close()
        received = {f"{peer}/{kind}": n for (peer, kind), n in sorted(bot.frames.items())}
        print(json.dumps({"peerId": bot.peer_id, "reason": reason, "received": received}),
              flush=True)
        return EXIT_FAILED if reason == "socket_closed" else EXIT_OK

    return run(args, take_part)


if __name__ == "__main__":
    sys.exit(main())
