"""rtc.mediasoup: an asyncio control layer for mediasoup-worker 3.16.0 (no Node.js, no Django).

It mirrors mediasoup's Node API in Python names: ``create_worker`` → ``Worker`` →
``Router`` → transports → producers/consumers. Objects that go to clients (RTP capabilities
and parameters, ICE/DTLS/SCTP parameters, stats) are plain dicts in mediasoup's JSON shape.
"""

from .errors import (
    ChannelClosedError,
    InvalidParameterError,
    InvalidStateError,
    MediasoupError,
    RequestTimeoutError,
    UnsupportedError,
    WorkerDiedError,
    WorkerError,
)
from .events import EventEmitter
from .worker import MEDIASOUP_VERSION, Worker, create_worker, worker_bin_path

__all__ = [
    "MEDIASOUP_VERSION",
    "ChannelClosedError",
    "EventEmitter",
    "InvalidParameterError",
    "InvalidStateError",
    "MediasoupError",
    "RequestTimeoutError",
    "UnsupportedError",
    "Worker",
    "WorkerDiedError",
    "WorkerError",
    "create_worker",
    "worker_bin_path",
]
