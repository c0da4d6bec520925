"""mediasoup_ctl: an asyncio control layer for mediasoup-worker 3.16.0 (no Node.js, no Django).

It mirrors mediasoup's Node API in Python names: ``create_worker`` → ``Worker`` →
``Router`` → transports → producers/consumers. Objects that go to clients (RTP capabilities
and parameters, ICE/DTLS/SCTP parameters, stats) are plain dicts in mediasoup's JSON shape.

The names below are imported on first use (PEP 562), so ``import mediasoup_ctl`` and the
``mediasoup-ctl-worker`` command work before the generated ``FBS`` bindings exist.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .active_speaker_observer import ActiveSpeakerObserver
    from .audio_level_observer import AudioLevelObserver
    from .binary import MEDIASOUP_VERSION, worker_bin_path
    from .consumer import Consumer
    from .data_consumer import DataConsumer
    from .data_producer import DataProducer
    from .direct_transport import DirectTransport
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
    from .pipe_transport import PipeTransport
    from .plain_transport import PlainTransport
    from .producer import Producer
    from .router import Router
    from .rtp_observer import RtpObserver
    from .transport import Transport
    from .webrtc_server import WebRtcServer
    from .webrtc_transport import WebRtcTransport
    from .worker import Worker, create_worker

__version__ = "0.1.0"

_EXPORTS = {
    "ActiveSpeakerObserver": "active_speaker_observer",
    "AudioLevelObserver": "audio_level_observer",
    "ChannelClosedError": "errors",
    "Consumer": "consumer",
    "create_worker": "worker",
    "DataConsumer": "data_consumer",
    "DataProducer": "data_producer",
    "DirectTransport": "direct_transport",
    "EventEmitter": "events",
    "InvalidParameterError": "errors",
    "InvalidStateError": "errors",
    "MEDIASOUP_VERSION": "binary",
    "MediasoupError": "errors",
    "PipeTransport": "pipe_transport",
    "PlainTransport": "plain_transport",
    "Producer": "producer",
    "RequestTimeoutError": "errors",
    "Router": "router",
    "RtpObserver": "rtp_observer",
    "Transport": "transport",
    "UnsupportedError": "errors",
    "WebRtcServer": "webrtc_server",
    "WebRtcTransport": "webrtc_transport",
    "Worker": "worker",
    "worker_bin_path": "binary",
    "WorkerDiedError": "errors",
    "WorkerError": "errors",
}

__all__ = [
    "MEDIASOUP_VERSION",
    "ActiveSpeakerObserver",
    "AudioLevelObserver",
    "Consumer",
    "DataConsumer",
    "DataProducer",
    "DirectTransport",
    "PipeTransport",
    "PlainTransport",
    "Producer",
    "Router",
    "RtpObserver",
    "Transport",
    "WebRtcServer",
    "WebRtcTransport",
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


def __getattr__(name: str) -> Any:
    """Import the module that defines ``name`` on first use, then cache the name here."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
