"""Fixtures for the rtc:* signaling tests: a real worker pool, real sockets, a real database.

`rtc_service` installs a fresh RoomService (one worker) for the test and, at teardown, checks
that nothing is left: no rooms, peers or media objects, no routers in the worker, and no worker
process once the pool is closed. `rtc_client` wraps a connected meeting socket in a
`tests.support.rtc_client.RtcClient`: helpers that send a request and wait for its reply while
keeping pushed events for later assertions.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from channels.testing import WebsocketCommunicator
from mediasoup_ctl import worker_bin_path

from rtc.services import set_room_service
from rtc.services.mediasoup_service import MediasoupService
from rtc.services.room_service import RoomService
from tests.support.rtc_client import (  # noqa: F401 (the names tests import from here)
    DTLS_PARAMETERS,
    FINGERPRINT,
    MID_EXTENSION,
    TIMEOUT,
    ClientFactory,
    RtcClient,
    audio_parameters,
    join_both,
    video_parameters,
)


@pytest.fixture(autouse=True)
def rtc_settings(settings: Any) -> Any:
    """No reconnect grace and no DTLS deadline unless a test asks: cleanup is immediate."""
    settings.RTC_LIMITS = {"RECONNECT_GRACE_SECONDS": 0, "TRANSPORT_CONNECT_TIMEOUT_SECONDS": 0}
    settings.MEDIASOUP = {**getattr(settings, "MEDIASOUP", {}), "WORKER_NUM": 1,
                          "LOG_LEVEL": "warn"}
    return settings


@pytest.fixture
async def rtc_service() -> AsyncIterator[RoomService]:
    """A fresh RoomService with its own pool, checked empty and closed at teardown."""
    if not os.access(worker_bin_path(), os.X_OK):
        pytest.fail("mediasoup-worker not built: run make test (mediasoup-ctl-worker)")
    service = RoomService(MediasoupService())
    previous = set_room_service(service)
    yield service
    set_room_service(previous)
    # Peers whose sockets closed at teardown may still be in their grace period.
    await service.expire_detached()
    await service.wait_idle()
    leftovers = service.counts()
    dumps = await service.worker_dumps() if service.mediasoup.started else []
    workers = service.mediasoup.workers
    await service.close()
    for worker in workers:
        assert worker.closed
        with pytest.raises(ProcessLookupError):
            os.kill(worker.pid, 0)
    assert leftovers == {"rooms": 0, "peers": 0, "transports": 0, "producers": 0,
                         "consumers": 0, "workers": len(workers)}, leftovers
    assert all(not d["routerIds"] for d in dumps), dumps




@pytest.fixture
def rtc_client(rtc_service: RoomService,
               ws_join: Callable[..., Awaitable[WebsocketCommunicator]]) -> ClientFactory:
    """Factory: ``await rtc_client(meeting, user)`` is a connected :class:`RtcClient`.

    Depends on ``rtc_service`` first, so the sockets close before the service is checked.
    """

    async def make(meeting: Any, user: Any) -> RtcClient:
        communicator = await ws_join(meeting.id, user)
        return RtcClient(communicator, user)

    return make


@pytest.fixture
async def pair(rtc_client: ClientFactory, meeting: Any, host_user: Any,
               member_user: Any) -> tuple[RtcClient, RtcClient]:
    """The host (Hazel) and a member (Milo) of `meeting`, both joined to the call; the host
    has seen the member's rtc:peerJoined."""
    host, member = await join_both(rtc_client, meeting, host_user, member_user)
    await host.event("rtc:peerJoined")
    return host, member
