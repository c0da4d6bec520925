"""Smoke: two members join, send, receive, leave."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


async def test_two_peers_exchange_producers(rtc_service, rtc_client, meeting, host_user,
                                            member_user):
    """Join, create transports, produce, consume, resume, leave; everything is released."""
    host = await rtc_client(meeting, host_user)
    member = await rtc_client(meeting, member_user)
    joined = await host.join("Hazel")
    assert joined["peers"] == []
    await member.join("Milo")
    assert (await host.event("rtc:peerJoined"))["displayName"] == "Milo"
    send = await host.transport("send")
    producer_id = await host.produce(send, "audio")
    new = await member.event("rtc:newProducer")
    assert new["producerId"] == producer_id
    recv = await member.transport("recv")
    consumed = await member.consume(recv, producer_id)
    assert consumed["paused"] is True
    await member.ok("rtc:resumeConsumer", {"consumerId": consumed["id"]})
    assert rtc_service.counts()["consumers"] == 1
    await host.ok("rtc:leave")
    closed = await member.event("rtc:consumerClosed")
    assert closed["consumerId"] == consumed["id"]
    assert (await member.event("rtc:peerLeft"))["peerId"] == joined["peerId"]
