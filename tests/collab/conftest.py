"""Fixtures of the collaboration tests: the real worker pool and sockets of the rtc tests,
the integrations' keys and join tokens, and people in a call.

`in_call(meeting, user, name)` is a connected socket that joined the call; every limiter of
`collab.signaling` must be empty again after a test (a closed socket dropped its buckets).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest

from collab.signaling import board_limiter, chat_limiter, pointer_limiter, reaction_limiter
from tests.integrations.conftest import (  # noqa: F401
    acme,
    acme_meeting,
    hooked,
    hooked_meeting,
    integrations_settings,
    make_integration,
    token_client,
    token_socket,
    webhook_receiver,
)
from tests.rtc.conftest import RtcClient, rtc_client, rtc_service, rtc_settings  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _limiters_emptied() -> Iterator[None]:
    """Every socket's collaboration rate buckets are gone once its socket closed."""
    yield
    for limiter in (chat_limiter, reaction_limiter, board_limiter, pointer_limiter):
        assert len(limiter) == 0, "a closed connection kept a collaboration rate bucket"


@pytest.fixture
def in_call(rtc_client: Callable[..., Awaitable[RtcClient]]  # noqa: F811
            ) -> Callable[..., Awaitable[RtcClient]]:
    """Factory: ``await in_call(meeting, user, "Name")``: connected and joined to the call."""

    async def make(meeting: Any, user: Any, name: str) -> RtcClient:
        client = await rtc_client(meeting, user)
        await client.join(name)
        return client

    return make
