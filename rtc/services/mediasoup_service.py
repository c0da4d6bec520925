"""MediasoupService: the process's pool of mediasoup workers.

Started with the server (`rtc.lifecycle.startup`), or else by the first call that needs a router,
under a lock so concurrent first calls spawn the pool once. A new meeting's router goes on the
least loaded live worker (fewest routers serving calls); each worker keeps a few idle routers
ready (:mod:`rtc.services.router_reserve`), so the room usually opens on one without a round
trip. A worker that dies is dropped at once and replaced in the background; listeners
registered with :meth:`MediasoupService.on_worker_died` (the RoomService) then move that
worker's meetings to new routers. :meth:`close` stops every worker.

With ``MEDIASOUP["WEBRTC_SERVER_PORT"]`` set, the worker in slot ``i`` of the pool gets a
WebRtcServer on UDP (and TCP) port base+i, so all its transports share one port; a worker that
replaces a dead one takes over its slot, hence its port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection
from typing import Any

from mediasoup_ctl import PipeTransport, Router, WebRtcServer, Worker, create_worker

from rtc.services.config import limits, media_codecs, mediasoup_settings, transport_options
from rtc.services.router_reserve import RouterReserve
from rtc.signaling.errors import ErrorCode, SignalingError

__all__ = ["MediasoupService", "WorkerDiedListener"]

logger = logging.getLogger(__name__)

WorkerDiedListener = Callable[[Worker], Any]
WORKER_WAIT_SECONDS = 15.0
REPLACE_BACKOFF = (0.2, 0.5, 1.0, 2.0, 5.0)


class MediasoupService:
    """A pool of ``num_workers`` workers (default ``settings.MEDIASOUP["WORKER_NUM"]``)."""

    def __init__(self, *, num_workers: int | None = None) -> None:
        self._num_workers = num_workers
        self._workers: list[Worker] = []
        self._slots: dict[Worker, int] = {}
        self._opening: dict[Worker, int] = {}
        """Routers being created on each worker (not yet in its ``routers``): rooms open
        side by side, and each must count the others when it picks the least loaded."""
        self._servers: dict[Worker, WebRtcServer] = {}
        self._lock = asyncio.Lock()
        self._available = asyncio.Event()
        self._started = False
        self._closed = False
        self._listeners: list[WorkerDiedListener] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self.replacements = 0
        """How many dead workers were replaced (monitoring)."""
        self.reserve = RouterReserve(wanted=lambda: limits().spare_routers_per_worker,
                                     create=self._create_spare, start_task=self._start_task)
        """Idle routers on each worker, so a meeting's room opens without a worker round
        trip (:mod:`rtc.services.router_reserve`)."""

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def workers(self) -> list[Worker]:
        """The live workers (a copy)."""
        return list(self._workers)

    @property
    def started(self) -> bool:
        """Whether the pool was started (and not closed)."""
        return self._started and not self._closed

    async def start(self) -> None:
        """Spawn the pool (once; later calls return at once)."""
        if self._closed:
            raise RuntimeError("MediasoupService is closed")
        async with self._lock:
            if self._started:
                return
            count = self._num_workers or int(mediasoup_settings()["WORKER_NUM"])
            results = await asyncio.gather(*(self._spawn(slot) for slot in range(count)),
                                           return_exceptions=True)
            errors = [r for r in results if isinstance(r, BaseException)]
            for slot, result in enumerate(results):
                if isinstance(result, tuple):
                    self._add(*result, slot=slot)
            if errors and not self._workers:
                raise errors[0]
            for error in errors:
                logger.error("a worker failed to start: %s", error)
            self._started = True
            logger.info("mediasoup pool started [workers:%s]",
                        ",".join(str(w.pid) for w in self._workers))

    async def _spawn(self, slot: int) -> tuple[Worker, WebRtcServer | None]:
        """A worker for pool slot ``slot``, with its WebRtcServer when one is configured."""
        ms = mediasoup_settings()
        worker = await create_worker(
            log_level=ms["LOG_LEVEL"],
            rtc_min_port=int(ms["RTC_MIN_PORT"]),
            rtc_max_port=int(ms["RTC_MAX_PORT"]),
            worker_bin=ms["WORKER_BIN"],
        )
        base = ms.get("WEBRTC_SERVER_PORT")
        if not base:
            return worker, None
        port = int(base) + slot
        listen_infos = [dict(info, port=port) for info in transport_options().listen_infos]
        try:
            server = await worker.create_webrtc_server(listen_infos=listen_infos,
                                                       app_data={"slot": slot})
        except Exception:
            worker.close()
            raise
        logger.info("WebRtcServer listening [worker:%s, port:%s, server:%s]", worker.pid, port,
                    server.id)
        return worker, server

    def webrtc_server_of(self, worker: Worker) -> WebRtcServer | None:
        """The WebRtcServer call transports on ``worker`` use, or None (a port each)."""
        server = self._servers.get(worker)
        return server if server is not None and not server.closed else None

    def _add(self, worker: Worker, server: WebRtcServer | None, *, slot: int) -> None:
        self._workers.append(worker)
        self._slots[worker] = slot
        if server is not None:
            self._servers[worker] = server
        worker.on("died", lambda error: self._on_died(worker, error))
        self._available.set()
        self.reserve.fill(worker)

    async def close(self) -> None:
        """Close every worker and wait (briefly) for their processes to exit."""
        if self._closed:
            return
        self._closed = True
        for task in list(self._tasks):
            task.cancel()
        workers, self._workers = self._workers, []
        self._slots.clear()
        self._servers.clear()
        self._available.clear()
        for worker in workers:
            worker.close()
        for worker in workers:
            with contextlib.suppress(Exception):
                await worker.wait_closed(10)
        logger.info("mediasoup pool closed [workers:%s]", ",".join(str(w.pid) for w in workers))

    # -- routers ------------------------------------------------------------------------------

    async def create_router(self, *, app_data: dict[str, Any] | None = None,
                            exclude: Collection[Worker] = ()) -> tuple[Worker, Any]:
        """A router with the configured codecs on the least loaded live worker.

        Waits for a live worker while a dead one is being replaced; refuses with ``limit``
        when every worker already has ``max_rooms_per_worker`` routers. ``exclude``: workers
        not to use (a call spreading over workers wants one it is not on yet; ``limit`` when
        there is none).
        """
        await self.start()
        worker = await self._pick_worker(exclude)
        spare = self.reserve.take(worker)
        if spare is not None:
            spare.app_data = dict(app_data or {})
            logger.debug("spare router taken [router:%s, worker:%s]", spare.id, worker.pid)
            return worker, spare
        self._opening[worker] = self._opening.get(worker, 0) + 1
        try:
            router = await worker.create_router(media_codecs=media_codecs(), app_data=app_data)
        finally:
            if self._opening[worker] > 1:
                self._opening[worker] -= 1
            else:
                del self._opening[worker]
        logger.debug("router created [router:%s, worker:%s]", router.id, worker.pid)
        return worker, router

    async def _create_spare(self, worker: Worker) -> Router:
        """A router for the reserve (:attr:`reserve`) on ``worker``."""
        return await worker.create_router(media_codecs=media_codecs(), app_data={})

    def call_routers(self, worker: Worker) -> int:
        """Routers of ``worker`` that serve calls (its spares left out)."""
        return len(worker.routers) - self.reserve.count(worker)

    async def call_router_ids(self, worker: Worker) -> list[str]:
        """The routers serving calls as ``worker`` itself reports them (its dump, the idle
        spares left out): what a call leaves behind in the worker shows here."""
        return [rid for rid in (await worker.dump())["routerIds"] if not self.reserve.holds(rid)]

    async def _pick_worker(self, exclude: Collection[Worker] = ()) -> Worker:
        # Only wait when no worker is up: wait_for wraps the wait in a task even when the
        # event is set, two turns of the event loop, which in a burst of call set-ups are
        # tens of milliseconds each for every meeting's first join.
        if not self._available.is_set():
            try:
                await asyncio.wait_for(self._available.wait(), WORKER_WAIT_SECONDS)
            except TimeoutError:
                raise SignalingError(ErrorCode.INTERNAL, "media server unavailable") from None
        live = [w for w in self._workers if not w.closed and w not in exclude]
        cap = limits().max_rooms_per_worker
        load = {w: self.call_routers(w) + self._opening.get(w, 0) for w in live}
        candidates = [w for w in live if load[w] < cap]
        if not candidates:
            raise SignalingError(ErrorCode.LIMIT, "the media server is at capacity")
        return min(candidates, key=load.__getitem__)

    # -- faults -------------------------------------------------------------------------------

    def on_worker_died(self, listener: WorkerDiedListener) -> None:
        """Call ``listener(dead_worker)`` (sync or async) whenever a worker of the pool dies."""
        self._listeners.append(listener)

    def _on_died(self, worker: Worker, error: Exception) -> None:
        if worker not in self._workers:
            return
        self._workers.remove(worker)
        self.reserve.forget(worker)
        slot = self._slots.pop(worker, 0)
        self._servers.pop(worker, None)
        if not self._workers:
            self._available.clear()
        logger.error("worker died, replacing it [pid:%s, slot:%s]: %s", worker.pid, slot, error)
        if self._closed:
            return
        self._start_task(self._replace(slot))
        for listener in list(self._listeners):
            try:
                result = listener(worker)
            except Exception:
                logger.exception("worker-died listener failed [pid:%s]", worker.pid)
                continue
            if asyncio.iscoroutine(result):
                self._start_task(result)

    async def _replace(self, slot: int) -> None:
        for attempt, delay in enumerate((0.0, *REPLACE_BACKOFF)):
            await asyncio.sleep(delay)
            if self._closed:
                return
            try:
                worker, server = await self._spawn(slot)
            except Exception as exc:
                logger.error("replacement worker failed to start (attempt %s): %s",
                             attempt + 1, exc)
                continue
            if self._closed:
                worker.close()
                return
            self._add(worker, server, slot=slot)
            self.replacements += 1
            logger.info("replacement worker running [pid:%s]", worker.pid)
            return
        logger.critical("could not replace a dead worker; the pool has %s workers",
                        len(self._workers))

    def _start_task(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("pool task failed", exc_info=task.exception())

    async def wait_idle(self) -> None:
        """Wait for background work (replacements, listeners) to finish (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def worker_dumps(self) -> list[dict[str, Any]]:
        """Each live worker's pid and the ids of its routers serving calls, as the worker
        itself reports them (its idle spares only counted), and per router its transports,
        pipe transports and producers in the worker's own dump (what a call spread over
        routers leaves behind shows there)."""
        result = []
        for worker in self.workers:
            router_ids = await self.call_router_ids(worker)
            routers = [worker.routers.get(rid) for rid in router_ids]
            details = await asyncio.gather(*(_router_detail(r) for r in routers
                                             if r is not None and not r.closed),
                                           return_exceptions=True)  # closed meanwhile
            result.append({"pid": worker.pid, "routerIds": router_ids,
                           "routers": [d for d in details if isinstance(d, dict)],
                           "spareRouters": self.reserve.count(worker)})
        return result


async def _router_detail(router: Router) -> dict[str, Any]:
    """One router as its worker dumps it: transport count (pipe ones apart), producer ids."""
    dump = await router.dump()
    pipes = [tid for tid in dump["transportIds"]
             if isinstance(router.transports.get(tid), PipeTransport)]
    return {"id": router.id, "transports": len(dump["transportIds"]),
            "pipeTransports": len(pipes),
            "producerIds": sorted(item["key"] for item in dump["mapProducerIdConsumerIds"])}
