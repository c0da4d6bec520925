"""What the bots' command lines share: arguments, the socket URL, signals, exit codes.

``--url`` is the meeting socket (``ws://host:port/ws/meetings/<id>/``) or just the server
(``ws://host:port``, ``http://`` works too) when ``--token`` is an integration's join token,
which names its meeting. The token goes into the query string (``access_token`` for a join
token, ``token`` for an API token).

Against a server on a loopback address the bot's own WebRTC stays on 127.0.0.1 and contacts no
STUN server (:func:`bots.loopback.restrict_aiortc_to_loopback`), as tests require;
``--any-interface`` lifts that for a remote server.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import ipaddress
import json
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.exceptions import InvalidStatus, WebSocketException

from bots.signaling import Refused, SignalingError

__all__ = ["EXIT_FAILED", "EXIT_OK", "EXIT_REFUSED", "base_parser", "is_loopback", "run",
           "socket_url"]

logger = logging.getLogger(__name__)

EXIT_OK = 0
"""Done: stopped by a signal, the meeting ended, or the run's time was up."""
EXIT_FAILED = 1
"""The connection was lost or something failed during the call."""
EXIT_USAGE = 2
"""Bad arguments (argparse's code)."""
EXIT_REFUSED = 3
"""The server would not let the bot in (bad or expired token, not invited, ended meeting)."""


def _token_meeting(token: str) -> str | None:
    """The ``meeting`` claim of a join token, read without verifying (the server verifies)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (binascii.Error, ValueError):
        return None
    meeting = claims.get("meeting") if isinstance(claims, dict) else None
    return meeting if isinstance(meeting, str) else None


def socket_url(url: str, token: str | None = None, meeting: str | None = None) -> str:
    """The meeting socket's URL for ``url``, with ``token`` in its query string.

    ValueError when the URL names no meeting and neither ``meeting`` nor the token does.
    """
    parts = urlsplit(url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    if scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"not a ws:// or http:// URL: {url}")
    path = parts.path
    if "/ws/meetings/" not in path:
        meeting = meeting or (_token_meeting(token) if token else None)
        if not meeting:
            raise ValueError("the URL names no meeting: give /ws/meetings/<id>/ or a join token")
        path = f"{path.rstrip('/')}/ws/meetings/{meeting}/"
    query = parse_qsl(parts.query)
    if token and not any(key in ("token", "access_token") for key, _ in query):
        query.append(("access_token" if token.count(".") == 2 else "token", token))
    return urlunsplit((scheme, parts.netloc, path, urlencode(query), ""))


def is_loopback(url: str) -> bool:
    """Whether ``url``'s host is this machine (127.0.0.0/8, ::1, localhost)."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def base_parser(description: str) -> argparse.ArgumentParser:
    """The arguments every bot takes."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--url", required=True,
                        help="meeting socket ws://host:port/ws/meetings/<id>/, or the server "
                             "ws://host:port with a join token")
    parser.add_argument("--token", default="",
                        help="an integration's join token, or a user's API token")
    parser.add_argument("--meeting", default=None, help="meeting id when --url has none")
    parser.add_argument("--origin", default=None,
                        help="Origin header (default: the server's own http(s) origin)")
    parser.add_argument("--any-interface", action="store_true",
                        help="let WebRTC use every interface (default for non-loopback "
                             "servers only)")
    parser.add_argument("--log-level", default="WARNING", help="logging level (stderr)")
    return parser


def run(args: argparse.Namespace, main: Callable[[str, asyncio.Event], Awaitable[int]]) -> int:
    """Set up logging and the network, run ``main(socket url, stop)`` until it returns.

    ``stop`` is set on SIGINT or SIGTERM. A refused connection prints why and gives
    :data:`EXIT_REFUSED`.
    """
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        url = socket_url(args.url, args.token or None, args.meeting)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    if is_loopback(url) and not args.any_interface:
        from bots.loopback import restrict_aiortc_to_loopback

        restrict_aiortc_to_loopback()

    async def guarded() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        try:
            return await main(url, stop)
        except Refused as refused:
            print(f"refused: {refused}", file=sys.stderr)
            return EXIT_REFUSED
        except SignalingError as error:  # a request the server refused during the set-up
            print(f"error: {error}", file=sys.stderr)
            return EXIT_REFUSED if error.code == "forbidden" else EXIT_FAILED
        except InvalidStatus as error:  # the HTTP upgrade itself was refused (e.g. Origin)
            print(f"refused: {error}", file=sys.stderr)
            return EXIT_REFUSED
        except (OSError, WebSocketException) as error:
            print(f"error: cannot reach {url.split('?')[0]}: {error}", file=sys.stderr)
            return EXIT_FAILED

    return asyncio.run(guarded())
