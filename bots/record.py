"""``python -m bots.record``: record every track of a meeting into a directory.

    python -m bots.record --url ws://127.0.0.1:8000 --token <join token> --out recordings/

Give it an integration's join token minted with ``hidden: true`` and no publish grants (the
recorder then joins unseen; a visible token works too, the recorder never publishes). It runs
until SIGINT/SIGTERM or until the meeting ends, closes every file properly and writes
``recording.json`` (the files, who sent them, when, how many frames). Exit codes: 0 done,
1 connection lost or failure, 2 bad arguments, 3 refused (bad, expired or revoked token,
not invited, meeting over).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bots.cli import EXIT_FAILED, EXIT_OK, base_parser, run
from bots.recorder import Recorder

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, record, return the exit code."""
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="directory for the files")
    parser.add_argument("--name", default="Recorder", help="display name")
    parser.add_argument("--audio-format", default="ogg", choices=("ogg", "webm"))
    parser.add_argument("--video-format", default="webm", choices=("webm", "mp4"))
    args = parser.parse_args(argv)

    async def record(url: str, stop: asyncio.Event) -> int:
        recorder = Recorder(url, args.out, origin=args.origin, name=args.name,
                            audio_format=args.audio_format, video_format=args.video_format)
        recorder.report = lambda line: print(line, flush=True)
        reason = await recorder.record(stop)
        written = [f.file for f in recorder.files if f.file]
        print(f"stopped: {reason}; {len(written)} files in {args.out}", flush=True)
        return EXIT_FAILED if reason in ("socket_closed", "failed") else EXIT_OK

    return run(args, record)


if __name__ == "__main__":
    sys.exit(main())
