"""Mapping control-layer exceptions to safe signaling errors.

The control layer raises ``InvalidParameterError``/``UnsupportedError`` for bad client input
(their messages describe that input: safe and useful to the client developer),
``InvalidStateError`` for an object closed meanwhile, and ``WorkerError`` and its subclasses
for the worker refusing or not answering. The last kind never shows the worker's reason.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from mediasoup_ctl import (
    ChannelClosedError,
    InvalidParameterError,
    InvalidStateError,
    RequestTimeoutError,
    UnsupportedError,
    WorkerError,
)

from rtc.signaling.errors import ErrorCode, SignalingError

__all__ = ["media_errors"]

logger = logging.getLogger(__name__)

MAX_DETAIL = 160


def _detail(error: Exception) -> str:
    text = " ".join(str(error).split())
    return text[:MAX_DETAIL]


@contextmanager
def media_errors(action: str) -> Iterator[None]:
    """Run a control-layer call; turn its exceptions into ``SignalingError`` for ``action``."""
    try:
        yield
    except SignalingError:
        raise
    except (InvalidParameterError, UnsupportedError) as error:
        raise SignalingError(ErrorCode.INVALID, f"{action}: {_detail(error)}") from None
    except (ChannelClosedError, RequestTimeoutError) as error:
        logger.warning("%s: media server unavailable: %s", action, error)
        raise SignalingError(ErrorCode.INTERNAL,
                             f"{action}: media server unavailable, reconnect") from None
    except InvalidStateError:
        raise SignalingError(ErrorCode.NOT_FOUND, f"{action}: the object is closed") from None
    except WorkerError as error:
        logger.info("%s refused by the worker: %s", action, error)
        raise SignalingError(ErrorCode.INVALID,
                             f"{action}: refused by the media server") from None
