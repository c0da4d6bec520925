"""Waiting for a condition the code under test reaches on its own (a background task, another
process), instead of sleeping a guessed time and hoping.

One poll loop for the whole suite: a test says what it waits for and how long it may take at
most; it goes on as soon as the condition holds, and fails with the condition's description
when the deadline passes.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

__all__ = ["POLL", "eventually", "eventually_sync"]

T = TypeVar("T")

POLL = 0.02
"""Seconds between two looks: short against the tests' deadlines, long against a loop turn."""


async def eventually(condition: Callable[[], T | Awaitable[T]], *, timeout: float = 10.0,
                     what: str = "", every: float = POLL) -> T:
    """Return ``condition()``'s first true value (a function, or a coroutine function: a
    test can wait for a value, not only for a yes); fail the test (``AssertionError`` naming
    ``what``) if it is still false after ``timeout`` seconds. ``every``: the seconds between
    two looks, longer where a look is costly (a request, a child process)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return result
        if loop.time() >= deadline:
            raise AssertionError(f"not within {timeout:g}s: {what or condition!r}")
        await asyncio.sleep(every)


def eventually_sync(condition: Callable[[], T], *, timeout: float = 10.0, what: str = "",
                    every: float = POLL) -> T:
    """:func:`eventually` for a test that runs no event loop (a sync Django test, a thread):
    ``condition()``'s first true value, or ``AssertionError`` naming ``what`` after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {timeout:g}s: {what or condition!r}")
        time.sleep(every)
