"""The mediasoup-worker process: spawn, watch, close; the root of the object tree.

The worker reads requests on fd 3 and writes replies, notifications and logs on fd 4. We spawn
it with ``os.posix_spawn`` so both pipes land exactly on those numbers, and watch its exit
through a pidfd on the event loop (a thread waiting in ``waitpid`` where pidfds are missing).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import logging
import os
import signal
import threading
from typing import TYPE_CHECKING, Any

from FBS.LibUring.Dump import Dump as LibUringDump
from FBS.Notification.Event import Event
from FBS.Request.Body import Body as RequestBody
from FBS.Request.Method import Method
from FBS.Worker.ChannelMessageHandlers import ChannelMessageHandlers
from FBS.Worker.DumpResponse import DumpResponse
from FBS.Worker.ResourceUsageResponse import ResourceUsageResponse
from FBS.Worker.UpdateSettingsRequest import UpdateSettingsRequestT

from .binary import MEDIASOUP_VERSION, worker_bin_path
from .channel import DEFAULT_TIMEOUT, Channel, reply_body
from .errors import InvalidParameterError, InvalidStateError, WorkerDiedError, WorkerError
from .events import EventEmitter
from .fbs_read import Scalars, slots
from .fbs_utils import check_app_data

if TYPE_CHECKING:
    from .router import Router
    from .webrtc_server import WebRtcServer

__all__ = ["Worker", "create_worker", "worker_bin_path", "MEDIASOUP_VERSION"]

logger = logging.getLogger(__name__)
stdio_logger = logging.getLogger("mediasoup_ctl.worker.log")

LOG_LEVELS = ("debug", "warn", "error", "none")
LOG_TAGS = (
    "info", "ice", "dtls", "rtp", "srtp", "rtcp", "rtx", "bwe", "score", "simulcast", "svc",
    "sctp", "message",
)
SPAWN_TIMEOUT = 10.0
_DUMP = slots(DumpResponse)
_HANDLERS = slots(ChannelMessageHandlers)
_LIBURING = slots(LibUringDump)
_USAGE = slots(ResourceUsageResponse)
_RESOURCE_USAGE = Scalars(
    (f"ru_{name}", getattr(_USAGE, "Ru" + name.capitalize()), "Q")
    for name in ("utime", "stime", "maxrss", "ixrss", "idrss", "isrss", "minflt", "majflt",
                 "nswap", "inblock", "oublock", "msgsnd", "msgrcv", "nsignals", "nvcsw", "nivcsw")
)
CLOSE_GRACE = 5.0


async def create_worker(
    *,
    log_level: str = "error",
    log_tags: list[str] | None = None,
    rtc_min_port: int = 10000,
    rtc_max_port: int = 59999,
    dtls_certificate_file: str | None = None,
    dtls_private_key_file: str | None = None,
    libwebrtc_field_trials: str | None = None,
    disable_liburing: bool = False,
    app_data: dict[str, Any] | None = None,
    worker_bin: str | os.PathLike[str] | None = None,
    request_timeout: float = DEFAULT_TIMEOUT,
) -> Worker:
    """Spawn a worker and return it once it reports it is running (``WORKER_RUNNING``)."""
    if log_level not in LOG_LEVELS:
        raise InvalidParameterError(f"invalid log_level {log_level!r}")
    if log_tags is not None and (
        not isinstance(log_tags, list) or any(not isinstance(t, str) for t in log_tags)
    ):
        raise InvalidParameterError("log_tags must be a list of strings")
    for name, port in (("rtc_min_port", rtc_min_port), ("rtc_max_port", rtc_max_port)):
        if not isinstance(port, int) or isinstance(port, bool) or not 0 <= port <= 65535:
            raise InvalidParameterError(f"{name} must be a port number")
    check_app_data(app_data)
    args = [f"--logLevel={log_level}"]
    args += [f"--logTags={tag}" for tag in log_tags or ()]
    args += [f"--rtcMinPort={rtc_min_port}", f"--rtcMaxPort={rtc_max_port}"]
    if dtls_certificate_file:
        args.append(f"--dtlsCertificateFile={dtls_certificate_file}")
    if dtls_private_key_file:
        args.append(f"--dtlsPrivateKeyFile={dtls_private_key_file}")
    if libwebrtc_field_trials:
        args.append(f"--libwebrtcFieldTrials={libwebrtc_field_trials}")
    if disable_liburing:
        args.append("--disableLiburing=true")
    worker = Worker(app_data=app_data)
    await worker._spawn(worker_bin_path(worker_bin), args, request_timeout)
    return worker


class Worker(EventEmitter):
    """A running mediasoup-worker process.

    Events: ``died`` (a :class:`WorkerDiedError`), ``subprocessclose``.
    Observer events: ``close``, ``newrouter``, ``newwebrtcserver``.
    """

    def __init__(self, *, app_data: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.app_data: dict[str, Any] = app_data if app_data is not None else {}
        self.observer = EventEmitter()
        self.pid = 0
        self.closed = False
        self.died = False
        self.subprocess_closed = False
        self._channel: Channel | None = None
        self._routers: dict[str, Router] = {}
        self._webrtc_servers: dict[str, WebRtcServer] = {}
        self._exited: asyncio.Future[tuple[int | None, str | None]] | None = None
        self._stdio: list[asyncio.BaseTransport] = []
        self._running: asyncio.Future[None] | None = None

    # -- spawning -----------------------------------------------------------------------------

    async def _spawn(self, path: str, args: list[str], request_timeout: float) -> None:
        loop = asyncio.get_running_loop()
        if not os.access(path, os.X_OK):
            raise WorkerError(
                "spawn", f"no executable worker at {path} (run mediasoup-ctl-worker)"
            )
        req_r, req_w = os.pipe()  # the worker reads requests on fd 3
        resp_r, resp_w = os.pipe()  # the worker writes on fd 4
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        # Child-side ends above fd 10 so the dup2 actions below cannot clobber each other.
        child = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in (req_r, resp_w, out_w, err_w)]
        for fd in (req_r, resp_w, out_w, err_w):
            os.close(fd)
        env = dict(os.environ, MEDIASOUP_VERSION=MEDIASOUP_VERSION)
        try:
            self.pid = os.posix_spawn(  # noqa: ASYNC221 (returns at once)
                path,
                [path, *args],
                env,
                file_actions=[
                    (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                    (os.POSIX_SPAWN_DUP2, child[2], 1),
                    (os.POSIX_SPAWN_DUP2, child[3], 2),
                    (os.POSIX_SPAWN_DUP2, child[0], 3),
                    (os.POSIX_SPAWN_DUP2, child[1], 4),
                ],
                setsigdef=(signal.SIGPIPE, signal.SIGXFSZ),
            )
        except BaseException:
            for fd in (*child, req_w, resp_r, out_r, err_r):
                os.close(fd)
            raise
        finally:
            if self.pid:
                for fd in child:
                    os.close(fd)
        logger.debug("spawned worker [pid:%s] %s %s", self.pid, path, " ".join(args))
        self._exited = exited = loop.create_future()
        self._watch_exit(loop)
        self._running = running = loop.create_future()
        self._channel = Channel(pid=self.pid, timeout=request_timeout)
        self._channel.subscribe(str(self.pid), self._on_worker_notification)
        await self._channel.connect(read_fd=resp_r, write_fd=req_w, on_lost=self._on_channel_lost)
        for fd, level in ((out_r, logging.DEBUG), (err_r, logging.ERROR)):
            transport, _ = await loop.connect_read_pipe(
                functools.partial(_LineLogger, self.pid, level), os.fdopen(fd, "rb", buffering=0)
            )
            self._stdio.append(transport)
        waiting: set[asyncio.Future[Any]] = {running, exited}
        done, _ = await asyncio.wait(
            waiting, timeout=SPAWN_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
        )
        if running in done:
            logger.debug("worker running [pid:%s]", self.pid)
            return
        self.closed = True
        self._channel.close()
        if exited in done:
            code, sig = exited.result()
            if code == 42:
                raise InvalidParameterError(f"worker refused its settings [pid:{self.pid}]")
            raise WorkerError("spawn", str(WorkerDiedError(self.pid, code, sig)))
        self._kill()
        raise WorkerError("spawn", f"worker did not start in time [pid:{self.pid}]")

    def _watch_exit(self, loop: asyncio.AbstractEventLoop) -> None:
        pid = self.pid
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            def wait_in_thread() -> None:
                _, status = os.waitpid(pid, 0)
                loop.call_soon_threadsafe(self._on_exit, status)

            threading.Thread(target=wait_in_thread, name=f"mediasoup-worker-{pid}",
                             daemon=True).start()
            return

        def on_readable() -> None:
            loop.remove_reader(pidfd)
            os.close(pidfd)
            _, status = os.waitpid(pid, 0)
            self._on_exit(status)

        loop.add_reader(pidfd, on_readable)

    def _on_worker_notification(self, event: int, _notification: Any) -> None:
        if event == Event.WORKER_RUNNING and self._running and not self._running.done():
            self._running.set_result(None)

    def _on_channel_lost(self) -> None:
        # The pending requests already failed (the channel closed itself); `died` follows
        # when the exit status is in.
        logger.debug("worker channel lost [pid:%s]", self.pid)

    def _on_exit(self, status: int) -> None:
        if os.WIFSIGNALED(status):
            code, sig = None, signal.Signals(os.WTERMSIG(status)).name
        else:
            code, sig = os.waitstatus_to_exitcode(status), None
        logger.debug("worker exited [pid:%s, code:%s, signal:%s]", self.pid, code, sig)
        if self._exited is not None and not self._exited.done():
            self._exited.set_result((code, sig))
        for transport in self._stdio:
            transport.close()
        if self._channel is not None:
            self._channel.close()
        if not self.closed and self._running is not None and self._running.done():
            self._close(error=WorkerDiedError(self.pid, code, sig))
        if not self.subprocess_closed:
            self.subprocess_closed = True
            self.emit("subprocessclose")

    # -- public API ---------------------------------------------------------------------------

    @property
    def channel(self) -> Channel:
        """The channel to the worker (for the objects of this package)."""
        assert self._channel is not None
        return self._channel

    @property
    def routers(self) -> dict[str, Router]:
        """Open routers by id (read it, do not change it)."""
        return self._routers

    @property
    def webrtc_servers(self) -> dict[str, WebRtcServer]:
        """Open WebRtcServers by id (read it, do not change it)."""
        return self._webrtc_servers

    def close(self) -> None:
        """Close the routers and WebRtcServers (locally: the worker cascades) and exit."""
        if self.closed:
            return
        logger.debug("close() [pid:%s]", self.pid)
        self._close(error=None)

    def _close(self, *, error: WorkerDiedError | None) -> None:
        """The one close cascade: by the user (error None) or because the process died."""
        self.closed = True
        for router in list(self._routers.values()):
            router._close(event="workerclose")
        self._routers.clear()
        # After the routers: their transports are closed already (``routerclose``).
        for server in list(self._webrtc_servers.values()):
            server._close(event="workerclose")
        self._webrtc_servers.clear()
        channel = self.channel
        if error is None:
            asyncio.get_running_loop().create_task(self._close_process(channel))
        else:
            logger.error("%s", error)
            self.died = True
            channel.close()
            self.emit("died", error)
        self.observer.emit("close")

    async def _close_process(self, channel: Channel) -> None:
        try:
            await channel.request(Method.WORKER_CLOSE, timeout=CLOSE_GRACE)
        except Exception as exc:  # the worker may be gone already
            logger.debug("WORKER_CLOSE failed [pid:%s]: %s", self.pid, exc)
        channel.close()
        assert self._exited is not None
        try:
            await asyncio.wait_for(asyncio.shield(self._exited), CLOSE_GRACE)
        except TimeoutError:
            logger.error("worker did not exit after close, killing it [pid:%s]", self.pid)
            self._kill()

    def _kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)

    async def wait_closed(self, timeout: float | None = None) -> None:  # noqa: ASYNC109
        """Wait until the process has exited and been reaped (after ``close()`` or death)."""
        assert self._exited is not None
        await asyncio.wait_for(asyncio.shield(self._exited), timeout)

    def _check_open(self) -> None:
        if self.closed:
            raise InvalidStateError(f"worker closed [pid:{self.pid}]")

    async def dump(self) -> dict[str, Any]:
        """The worker's own view: router ids, WebRtcServer ids, channel handlers."""
        self._check_open()
        dump = reply_body(await self.channel.request(Method.WORKER_DUMP))
        handlers = dump.required(_DUMP.ChannelMessageHandlers)
        result: dict[str, Any] = {
            "pid": dump.u32(_DUMP.Pid),
            "webRtcServerIds": dump.strs(_DUMP.WebRtcServerIds),
            "routerIds": dump.strs(_DUMP.RouterIds),
            "channelMessageHandlers": {
                "channelRequestHandlers": handlers.strs(_HANDLERS.ChannelRequestHandlers),
                "channelNotificationHandlers": handlers.strs(
                    _HANDLERS.ChannelNotificationHandlers),
            },
        }
        liburing = dump.table(_DUMP.Liburing)
        if liburing is not None:
            result["liburing"] = {
                "sqeProcessCount": liburing.u64(_LIBURING.SqeProcessCount),
                "sqeMissCount": liburing.u64(_LIBURING.SqeMissCount),
                "userDataMissCount": liburing.u64(_LIBURING.UserDataMissCount),
            }
        return result

    async def get_resource_usage(self) -> dict[str, int]:
        """getrusage(2) of the worker process, keys as in mediasoup (``ru_utime``, ...)."""
        self._check_open()
        return _RESOURCE_USAGE.read(
            reply_body(await self.channel.request(Method.WORKER_GET_RESOURCE_USAGE)))

    async def update_settings(
        self, *, log_level: str | None = None, log_tags: list[str] | None = None
    ) -> None:
        """Change the worker's log level and tags at run time."""
        self._check_open()
        if log_level is not None and log_level not in LOG_LEVELS:
            raise InvalidParameterError(f"invalid log_level {log_level!r}")
        if log_tags is not None and (
            not isinstance(log_tags, list) or any(not isinstance(t, str) for t in log_tags)
        ):
            raise InvalidParameterError("log_tags must be a list of strings")
        await self.channel.request(
            Method.WORKER_UPDATE_SETTINGS,
            body_type=RequestBody.Worker_UpdateSettingsRequest,
            body=UpdateSettingsRequestT(logLevel=log_level, logTags=log_tags),
        )

    async def create_router(
        self,
        *,
        media_codecs: list[dict[str, Any]] | None = None,
        app_data: dict[str, Any] | None = None,
    ) -> Router:
        """Create a router whose RTP capabilities come from ``media_codecs``."""
        self._check_open()
        from .router import create_router

        router = await create_router(
            self.channel, media_codecs=media_codecs, app_data=app_data
        )
        self._routers[router.id] = router
        router.on("@close", lambda: self._routers.pop(router.id, None))
        self.observer.emit("newrouter", router)
        return router

    async def create_webrtc_server(
        self,
        *,
        listen_infos: list[dict[str, Any]],
        app_data: dict[str, Any] | None = None,
    ) -> WebRtcServer:
        """Create a WebRtcServer: sockets that WebRtcTransports of this worker can share.

        ``listen_infos``: ``[{"protocol": "udp"|"tcp", "ip": ..., "announcedAddress": ...,
        "port": ...}]`` (1 to 8); a port of 0 or none lets the worker pick one from its
        ``rtc_min_port``..``rtc_max_port``. Use it with
        ``router.create_webrtc_transport(webrtc_server=...)``.
        """
        self._check_open()
        from .webrtc_server import create_webrtc_server

        server = await create_webrtc_server(self.channel, listen_infos=listen_infos,
                                            app_data=app_data)
        if self.closed:  # the worker went away during the request
            server._close(event="workerclose")
            return server
        self._webrtc_servers[server.id] = server
        server.on("@close", lambda: self._webrtc_servers.pop(server.id, None))
        self.observer.emit("newwebrtcserver", server)
        logger.debug("WebRtcServer created [pid:%s, webrtcserver:%s]", self.pid, server.id)
        return server

    def __repr__(self) -> str:
        return f"<Worker pid={self.pid} closed={self.closed}>"


class _LineLogger(asyncio.Protocol):
    """Logs what the worker (or a library in it) prints on stdout/stderr, line by line."""

    def __init__(self, pid: int, level: int) -> None:
        self._pid = pid
        self._level = level
        self._partial = b""

    def data_received(self, data: bytes) -> None:
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()
        for line in lines:
            if line:
                stdio_logger.log(self._level, "[pid:%s] (%s) %s", self._pid,
                                 "stderr" if self._level >= logging.ERROR else "stdout",
                                 line.decode("utf-8", "replace"))
