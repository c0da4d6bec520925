"""The call model's public API: what the rest of the product may use of ``rtc.services``.

`integrations`, `collab`, `recordings`, the admin and operations pages (`rtc.operations`) and
the process's start, stop and probes (`rtc.lifecycle`) import the call model from this package
only (an import-linter contract in ``pyproject.toml``, run by ``make lint``, fails when one
of them imports a module of it): the process's :class:`RoomService`, whose
methods are the commands (``remove_peer``, ``mute_track``, ``change_grants``, ``live_room``,
``close_rooms``, the ``rtc:*`` requests ...), the :class:`Room` and :class:`Peer` they read,
the events to a meeting or a peer (:func:`broadcast`, :func:`send_to`) and the settings they
read (:func:`limits`, :func:`mediasoup_settings`). The modules behind it (``rooms``,
``room_service``, ``media_ops``, ``spread``, ...) are this package's own and may change.

One RoomService per process, made on first use; its worker pool starts with the server
(`rtc.lifecycle.startup`), or else on the first ``rtc:join``. Tests install their own with
:func:`set_room_service` and close it themselves.

The exported classes and functions are loaded on first use (PEP 562): the modules behind them
import `rtc.signaling`, whose handlers import this package, so loading them here at once would
be an import circle.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rtc.services.config import RtcLimits, limits, mediasoup_settings
    from rtc.services.mediasoup_service import MediasoupService
    from rtc.services.notify import broadcast, send_to
    from rtc.services.room_service import RoomService
    from rtc.services.rooms import Peer, Room

__all__ = [
    "MediasoupService",
    "Peer",
    "Room",
    "RoomService",
    "RtcLimits",
    "broadcast",
    "current_room_service",
    "get_room_service",
    "limits",
    "mediasoup_settings",
    "send_to",
    "set_room_service",
]

_EXPORTS: dict[str, str] = {
    "MediasoupService": "rtc.services.mediasoup_service",
    "Peer": "rtc.services.rooms",
    "Room": "rtc.services.rooms",
    "RoomService": "rtc.services.room_service",
    "RtcLimits": "rtc.services.config",
    "broadcast": "rtc.services.notify",
    "limits": "rtc.services.config",
    "mediasoup_settings": "rtc.services.config",
    "send_to": "rtc.services.notify",
}
"""Exported name → the module defining it (loaded by :func:`__getattr__`)."""


def __getattr__(name: str) -> Any:
    """Load an exported class or function from its module on first use."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


_service: RoomService | None = None


def get_room_service() -> RoomService:
    """The process's RoomService (created, not yet started, on the first call)."""
    global _service
    if _service is None:
        from rtc.services.room_service import RoomService

        _service = RoomService()
    return _service


def current_room_service() -> RoomService | None:
    """The process's RoomService if one was made (shutdown must not create one)."""
    return _service


def set_room_service(service: RoomService | None) -> RoomService | None:
    """Replace the process's RoomService (tests); returns the previous one."""
    global _service
    previous, _service = _service, service
    return previous
