"""An event loop whose sockets live in another network namespace: clients on the far side of
a link, driven from a test or benchmark running in the host's namespace.

A thread's network namespace is its own (``setns`` changes only the calling thread), and every
socket is made in the namespace of the thread that creates it. :class:`NamespaceLoop` starts a
thread, moves it into the named namespace (``ip netns add`` made it), and runs an asyncio loop
there: bots created and run on that loop (``await ns.run(coro)`` from the caller's loop) open
their WebSocket and their ICE sockets inside the namespace, so they reach a server only over the
links that namespace has, and a link that dies takes their traffic with it. Threads the loop
starts (its default executor) are created from the namespaced thread and inherit it.

Objects made on the loop belong to it: create them inside a coroutine given to :meth:`run`, and
call their coroutines through :meth:`run` too; reading their plain attributes from another
thread is fine. Only root can enter a namespace. No Django here.
"""

from __future__ import annotations

import asyncio
import ctypes
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["NamespaceLoop"]

T = TypeVar("T")

_CLONE_NEWNET = 0x40000000


def enter_netns(namespace: str) -> None:
    """Move the calling thread into the network namespace ``namespace``."""
    libc = ctypes.CDLL(None, use_errno=True)
    with open(f"/var/run/netns/{namespace}") as handle:
        if libc.setns(handle.fileno(), _CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns({namespace}) failed")


class NamespaceLoop:
    """An asyncio loop on a thread inside ``namespace``; ``start()``, ``run(coro)``,
    ``close()`` (or use it as a context manager)."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name=f"netns-{namespace}",
                                        daemon=True)
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def _serve(self) -> None:
        try:
            enter_netns(self.namespace)
        except BaseException as error:  # handed to start()
            self._error = error
            self._ready.set()
            return
        asyncio.set_event_loop(self.loop)
        self._ready.set()
        self.loop.run_forever()

    def start(self) -> NamespaceLoop:
        """Start the thread; raises when it cannot enter the namespace."""
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error
        return self

    def run(self, coro: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        """Run ``coro`` on the namespaced loop; an awaitable for the caller's loop."""
        return asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, self.loop))

    def close(self) -> None:
        """Cancel what still runs there, stop the loop and the thread (idempotent)."""
        if self.loop.is_closed():
            return
        if self._thread.is_alive():
            async def cancel_all() -> None:
                tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

            try:
                asyncio.run_coroutine_threadsafe(cancel_all(), self.loop).result(10)
            except Exception:  # noqa: S110 (best effort on the way out)
                pass
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
        if not self._thread.is_alive():
            self.loop.close()

    def __enter__(self) -> NamespaceLoop:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.close()
