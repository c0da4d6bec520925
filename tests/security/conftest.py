"""Fixtures for the security tests: a live call to attack, users of every role, the rtc fixtures.

``arena``: in ``meeting`` the host and a member send each other real audio and video
(pymediasoup peers, :class:`tests.rtc.operations.call_peer.CallPeer`) while an invited attacker
holds a peer with a transport and a producer of its own; a second meeting has two peers with a
transport, a producer and a consumer. ``arena.snapshot()`` records what every victim owns,
in the room model and in the worker, so a test can show it is untouched.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from channels.db import database_sync_to_async

from meetings import services
from meetings.models import Meeting
from rtc.services.room_service import RoomService
from tests.rtc.conftest import RtcClient, rtc_client, rtc_service, rtc_settings  # noqa: F401
from tests.rtc.operations.call_peer import CallPeer
from tests.support.rtc_client import audio_link


@pytest.fixture(autouse=True)
def fast_password_hashing(settings: Any) -> None:
    """Users are made by the dozen here; PBKDF2 would cost 0.2 s each (no login checks a
    password hash in these tests)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def generous_limits(rtc_settings: Any) -> Any:  # noqa: F811
    """Fuzzing sends hundreds of requests in seconds: the rate limits (tested elsewhere) are
    raised so that every message reaches validation and the handlers."""
    rtc_settings.RTC_LIMITS = {**rtc_settings.RTC_LIMITS, "REQUESTS_PER_SECOND": 100_000,
                               "REQUEST_BURST": 100_000}
    return rtc_settings


@dataclass
class Arena:
    """The call under attack."""

    service: RoomService
    attacker: RtcClient
    victims: list[CallPeer]
    others: list[RtcClient]
    meeting: Meeting
    other_meeting: Meeting
    ids: dict[str, list[str]] = field(default_factory=dict)
    """Every id worth trying: transports, producers, consumers, peers (victims' and own)."""

    def snapshot(self) -> dict[str, Any]:
        """What each victim peer owns (ids, paused flags) in the room model."""
        state: dict[str, Any] = {}
        attacker_peer = self.attacker.joined.get("peerId")
        for meeting_id, room in self.service.rooms.items():
            for peer in room.peers.values():
                if peer.id == attacker_peer:
                    continue
                state[peer.id] = {
                    "meeting": meeting_id,
                    "transports": sorted(peer.transports),
                    "producers": sorted((p.id, p.paused) for p in peer.producers.values()),
                    "consumers": sorted((c.id, c.paused) for c in peer.consumers.values()),
                }
        return state

    async def worker_view(self) -> dict[str, Any]:
        """The victims' objects as the worker's router dumps show them."""
        view: dict[str, Any] = {}
        for meeting_id, room in self.service.rooms.items():
            dump = await room.router.dump()
            view[meeting_id] = {
                "transports": set(dump["transportIds"]),
                "producers": {item["key"] for item in dump["mapProducerIdConsumerIds"]},
                "consumers": {item["key"] for item in dump["mapConsumerIdProducerId"]},
            }
        return view


@pytest.fixture
async def arena(rtc_service: RoomService, rtc_client: Any, meeting: Meeting,  # noqa: F811
                host_user: Any, member_user: Any, make_user: Any) -> AsyncIterator[Arena]:
    """The live call to attack (see the module docstring); media is flowing on return."""
    mallory = await database_sync_to_async(make_user)("mallory")
    olga = await database_sync_to_async(make_user)("olga")
    gus = await database_sync_to_async(make_user)("gus")
    await database_sync_to_async(services.participant_invite)(
        meeting=meeting, actor=host_user, username="mallory")
    other = await database_sync_to_async(services.meeting_create)(
        host=olga, title="Elsewhere", access=Meeting.Access.AUTHENTICATED)

    host = CallPeer(await rtc_client(meeting, host_user), "Hazel")
    member = CallPeer(await rtc_client(meeting, member_user), "Milo")
    for peer in (host, member):
        await peer.join()
    for peer in (host, member):
        await peer.publish()
    for peer, source in ((host, member), (member, host)):
        for kind in ("audio", "video"):
            await peer.subscribe(source.producer_ids[kind])

    attacker = await rtc_client(meeting, mallory)
    await attacker.join("Mallory")
    own_send = await attacker.transport("send")
    own_producer = await attacker.produce(own_send, "audio")

    a, b = await rtc_client(other, olga), await rtc_client(other, gus)
    await a.join("Olga")
    await b.join("Gus")
    far = await audio_link(a, b)

    room = rtc_service.rooms[str(meeting.id)]
    victims = [p for p in room.peers.values() if p.id != attacker.joined["peerId"]]
    ids = {
        "transports": [t for p in victims for t in p.transports] + [own_send, far["send"],
                                                                    far["recv"]],
        "producers": [p for v in victims for p in v.producers] + [own_producer,
                                                                  far["producer"]],
        "consumers": [c for v in victims for c in v.consumers] + [far["consumer"]],
        "peers": [v.id for v in victims] + [a.joined["peerId"], b.joined["peerId"],
                                            attacker.joined["peerId"]],
    }
    made = Arena(service=rtc_service, attacker=attacker, victims=[host, member], others=[a, b],
                 meeting=meeting, other_meeting=other, ids=ids)
    try:
        yield made
    finally:
        for peer in (host, member):
            await peer.close()
