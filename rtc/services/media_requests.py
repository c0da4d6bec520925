"""The ``rtc:*`` media requests as RoomService commands, each handed to its MediaOperations.

Signaling calls every request of a call on the RoomService (one object for the whole call
model); the media ones are done by :class:`rtc.services.media_ops.MediaOperations`, which the
RoomService holds as ``media``. :class:`MediaRequests` is the RoomService's base that keeps
these one-line hand-overs out of ``room_service.py``: it has no state and no abstract parts,
only ``media``, which the RoomService sets in its ``__init__``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rtc.services.media_ops import MediaOperations
    from rtc.signaling.schemas import (
        ConnectTransportRequest,
        ConsumeRequest,
        CreateTransportRequest,
        GetStatsRequest,
        ProduceRequest,
        SetPreferredLayersRequest,
    )

__all__ = ["MediaRequests"]

Reply = dict[str, Any]


class MediaRequests:
    """The media requests of a call's peers (transports, producers, consumers, stats)."""

    media: MediaOperations
    """Does the work (set by the RoomService)."""

    async def create_transport(self, *, channel_name: str,
                               request: CreateTransportRequest) -> Reply:
        """``rtc:createTransport`` (:meth:`MediaOperations.create_transport`)."""
        return await self.media.create_transport(channel_name=channel_name, request=request)

    async def connect_transport(self, *, channel_name: str,
                                request: ConnectTransportRequest) -> Reply:
        """``rtc:connectTransport`` (:meth:`MediaOperations.connect_transport`)."""
        return await self.media.connect_transport(channel_name=channel_name, request=request)

    async def close_transport(self, *, channel_name: str, transport_id: str) -> Reply:
        """``rtc:closeTransport`` (:meth:`MediaOperations.close_transport`)."""
        return await self.media.close_transport(channel_name=channel_name,
                                                transport_id=transport_id)

    async def restart_ice(self, *, channel_name: str, transport_id: str) -> Reply:
        """``rtc:restartIce`` (:meth:`MediaOperations.restart_ice`)."""
        return await self.media.restart_ice(channel_name=channel_name, transport_id=transport_id)

    async def produce(self, *, channel_name: str, request: ProduceRequest) -> Reply:
        """``rtc:produce`` (:meth:`MediaOperations.produce`)."""
        return await self.media.produce(channel_name=channel_name, request=request)

    async def set_producer_paused(self, *, channel_name: str, producer_id: str, paused: bool,
                                  by_host: bool = False) -> Reply:
        """``rtc:pause/resumeProducer``, ``rtc:hostMuteProducer``
        (:meth:`MediaOperations.set_producer_paused`)."""
        return await self.media.set_producer_paused(channel_name=channel_name,
                                                    producer_id=producer_id, paused=paused,
                                                    by_host=by_host)

    async def close_producer(self, *, channel_name: str, producer_id: str) -> Reply:
        """``rtc:closeProducer`` (:meth:`MediaOperations.close_producer`)."""
        return await self.media.close_producer(channel_name=channel_name,
                                               producer_id=producer_id)

    async def consume(self, *, channel_name: str, request: ConsumeRequest) -> Reply:
        """``rtc:consume`` (:meth:`MediaOperations.consume`)."""
        return await self.media.consume(channel_name=channel_name, request=request)

    async def set_consumer_paused(self, *, channel_name: str, consumer_id: str,
                                  paused: bool) -> Reply:
        """``rtc:pause/resumeConsumer`` (:meth:`MediaOperations.set_consumer_paused`)."""
        return await self.media.set_consumer_paused(channel_name=channel_name,
                                                    consumer_id=consumer_id, paused=paused)

    async def close_consumer(self, *, channel_name: str, consumer_id: str) -> Reply:
        """``rtc:closeConsumer`` (:meth:`MediaOperations.close_consumer`)."""
        return await self.media.close_consumer(channel_name=channel_name,
                                               consumer_id=consumer_id)

    async def set_preferred_layers(self, *, channel_name: str,
                                   request: SetPreferredLayersRequest) -> Reply:
        """``rtc:setPreferredLayers`` (:meth:`MediaOperations.set_preferred_layers`)."""
        return await self.media.set_preferred_layers(channel_name=channel_name,
                                                     request=request)

    async def get_stats(self, *, channel_name: str, request: GetStatsRequest) -> Reply:
        """``rtc:getStats`` (:meth:`MediaOperations.get_stats`)."""
        return await self.media.get_stats(channel_name=channel_name, request=request)
