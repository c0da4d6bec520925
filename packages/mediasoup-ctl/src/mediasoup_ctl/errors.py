"""Errors raised by the mediasoup control layer.

They mirror mediasoup's Node layer: ``InvalidParameterError`` where Node throws ``TypeError``
(bad input, raised before anything is sent to the worker), ``UnsupportedError`` for valid
input the router or the peer cannot handle, ``InvalidStateError`` for a call on a closed
object, and ``WorkerError`` for a request the worker refused or could not answer.
"""

from __future__ import annotations

__all__ = [
    "MediasoupError",
    "InvalidParameterError",
    "UnsupportedError",
    "InvalidStateError",
    "WorkerError",
    "RequestTimeoutError",
    "ChannelClosedError",
    "WorkerDiedError",
]


class MediasoupError(Exception):
    """Base class of every error of this package."""


class InvalidParameterError(MediasoupError, TypeError):
    """An argument has the wrong type, shape or value (Node throws ``TypeError``)."""


class UnsupportedError(MediasoupError):
    """Valid input that cannot be handled: no common codec, unknown producer, and so on."""


class InvalidStateError(MediasoupError):
    """The object (or its worker) is closed."""


class WorkerError(MediasoupError):
    """The worker refused a request; ``reason`` is the worker's own message."""

    def __init__(self, method: str, reason: str) -> None:
        super().__init__(f"{method}: {reason}")
        self.method = method
        self.reason = reason


class RequestTimeoutError(WorkerError):
    """The worker did not answer a request in time."""


class ChannelClosedError(InvalidStateError):
    """The channel to the worker is closed (the worker died or was closed)."""


class WorkerDiedError(MediasoupError):
    """The worker process exited without being closed; emitted with the ``died`` event."""

    def __init__(self, pid: int, exit_code: int | None, signal_name: str | None) -> None:
        how = f"killed by signal {signal_name}" if signal_name else f"exit code {exit_code}"
        super().__init__(f"worker process died unexpectedly [pid:{pid}, {how}]")
        self.pid = pid
        self.exit_code = exit_code
        self.signal = signal_name
