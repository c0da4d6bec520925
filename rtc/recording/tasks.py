"""Background tasks that outlive the request which started them.

A recording is often started from an API view: a thread that handed the work to the serving
loop with ``async_to_sync``. A task created there inherits that call's context variables,
among them asgiref's executor for "thread sensitive" database calls, which is shut down as
soon as the view returns; the task's later ``database_sync_to_async`` calls would then fail
("CurrentThreadExecutor already quit"). Tasks made by :func:`detached_task` start from an
empty context instead.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["detached_task"]

T = TypeVar("T")


def detached_task(coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """A task of the running loop with a fresh, empty context."""
    return asyncio.get_running_loop().create_task(coro, context=contextvars.Context())
