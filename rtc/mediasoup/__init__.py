"""rtc.mediasoup: an asyncio control layer for mediasoup-worker 3.16.0 (no Node.js, no Django).

It mirrors mediasoup's Node API in Python names: ``create_worker`` → ``Worker`` →
``Router`` → transports → producers/consumers. Objects that go to clients (RTP capabilities
and parameters, ICE/DTLS/SCTP parameters, stats) are plain dicts in mediasoup's JSON shape.
"""

from .active_speaker_observer import ActiveSpeakerObserver
from .audio_level_observer import AudioLevelObserver
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
from .worker import MEDIASOUP_VERSION, Worker, create_worker, worker_bin_path

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
