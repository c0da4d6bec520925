"""The RTC service layer: the worker pool (MediasoupService) and the calls (RoomService).

One RoomService per process, made on first use; its worker pool starts with the server
(`rtc.lifecycle.startup`), or else on the first ``rtc:join``. Tests install their own with
:func:`set_room_service` and close it themselves.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rtc.services.room_service import RoomService

__all__ = ["current_room_service", "get_room_service", "set_room_service"]

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
