"""Join tokens on the meeting WebSocket: accepted in place of a login, refused with a reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from channels.db import database_sync_to_async
from django.contrib.auth import get_user_model

from integrations import services
from integrations.models import ExternalIdentity
from meetings import services as meeting_services
from meetings.models import Participant

pytestmark = pytest.mark.django_db(transaction=True)

TIMEOUT = 5


async def refused(communicator) -> tuple[dict, dict]:
    """Connect a socket that must be refused: its error event and its close message."""
    connected, _ = await communicator.connect(timeout=TIMEOUT)
    assert connected, "the socket is accepted first, so the client can read why it closes"
    error = await communicator.receive_json_from(timeout=TIMEOUT)
    close = await communicator.receive_output(timeout=TIMEOUT)
    assert close["type"] == "websocket.close", close
    assert type(close["code"]) is int
    return error, close


async def test_access_token_admits_a_shadow_user_invited_to_the_meeting(
        acme, acme_meeting, token_socket):
    """A valid token opens the socket as the identity's shadow user: unusable password,
    `ext.<key>.<sub>` username, invited and present in the meeting; reused on reconnect."""
    token = await database_sync_to_async(acme.token)(acme_meeting, "user-42", name="Ada")
    socket = await token_socket(acme_meeting.id, token)
    connected, _ = await socket.connect(timeout=TIMEOUT)
    assert connected
    state = await socket.receive_json_from(timeout=TIMEOUT)
    assert state["type"] == "meeting.state"
    names = [p["username"] for p in state["data"]["participants"]]
    assert names == [f"ext.{acme.api_key}.user-42"]

    @database_sync_to_async
    def shadow():
        identity = ExternalIdentity.objects.select_related("user").get(subject="user-42")
        participant = Participant.objects.get(meeting=acme_meeting, user=identity.user)
        return identity, participant

    identity, participant = await shadow()
    assert identity.integration_id == acme.integration.pk and identity.display_name == "Ada"
    assert not identity.user.has_usable_password() and identity.user.first_name == "Ada"
    assert participant.role == "member" and participant.invited_at and participant.is_present
    await socket.disconnect()

    again = await token_socket(acme_meeting.id, token, param="token")  # ?token=<jwt> works too
    connected, _ = await again.connect(timeout=TIMEOUT)
    assert connected
    assert (await again.receive_json_from(timeout=TIMEOUT))["type"] == "meeting.state"
    count = await database_sync_to_async(
        get_user_model().objects.filter(username__startswith="ext.").count)()
    assert count == 1, "the same identity maps to the same user"


async def test_odd_subjects_get_a_hashed_username(acme, acme_meeting, token_socket):
    """A `sub` that is no valid username (spaces, colons) still maps to one stable user."""
    token = await database_sync_to_async(acme.token)(acme_meeting, "crm:contact 7/9")
    socket = await token_socket(acme_meeting.id, token)
    connected, _ = await socket.connect(timeout=TIMEOUT)
    assert connected
    assert (await socket.receive_json_from(timeout=TIMEOUT))["type"] == "meeting.state"
    identity = await database_sync_to_async(
        ExternalIdentity.objects.select_related("user").get)(subject="crm:contact 7/9")
    username = identity.user.username
    assert username.startswith(f"ext.{acme.api_key}.") and " " not in username
    assert len(username.rsplit(".", 1)[1]) == 32


async def test_expired_token_is_refused_with_4401_and_a_reason(acme, acme_meeting,
                                                               token_socket):
    """The client reads `token_expired` in an error event, then the socket closes 4401 with
    the reason (daphne drops close reasons, the event is what browsers see)."""
    issued = datetime.now(UTC) - timedelta(hours=2)
    token = await database_sync_to_async(acme.token)(acme_meeting, ttl=60, now=issued)
    error, close = await refused(await token_socket(acme_meeting.id, token))
    assert error == {"type": "error", "data": {"code": "token_expired",
                                               "reason": "the token has expired"}}
    assert close["code"] == 4401 and close["reason"] == "the token has expired"


async def test_forged_token_is_refused(acme, acme_meeting, token_socket):
    """A token signed with a wrong secret: `token_bad_signature`, 4401."""
    from integrations.tokens import mint_join_token

    token = mint_join_token(api_key=acme.api_key, secret="sk_" + "x" * 43,
                            meeting_id=acme_meeting.id, identity="eve")
    error, close = await refused(await token_socket(acme_meeting.id, token))
    assert error["data"]["code"] == "token_bad_signature" and close["code"] == 4401


async def test_token_for_another_meeting_is_refused_with_4403(acme, acme_meeting,
                                                              token_socket):
    """A token naming meeting A presented on meeting B's socket: `token_wrong_meeting`, 4403."""
    other = await database_sync_to_async(services.meeting_create_for_integration)(
        integration=acme.integration, title="Other")
    token = await database_sync_to_async(acme.token)(acme_meeting)
    error, close = await refused(await token_socket(other.id, token))
    assert error["data"]["code"] == "token_wrong_meeting" and close["code"] == 4403


async def test_another_integrations_meeting_is_refused(acme, globex_meeting, token_socket):
    """Integration A's token naming B's meeting: `meeting_not_owned`, 4403."""
    token = await database_sync_to_async(acme.token)(globex_meeting)
    error, close = await refused(await token_socket(globex_meeting.id, token))
    assert error["data"]["code"] == "meeting_not_owned" and close["code"] == 4403


async def test_revoked_token_and_revoked_integration_are_refused(acme, acme_meeting,
                                                                 token_socket):
    """A revoked jti, then a revoked integration: each refused with its own code."""
    token = await database_sync_to_async(acme.token)(acme_meeting, jti="leaked")
    await database_sync_to_async(services.token_revoke)(integration=acme.integration,
                                                        jti="leaked")
    error, close = await refused(await token_socket(acme_meeting.id, token))
    assert error["data"]["code"] == "token_revoked" and close["code"] == 4401
    fresh = await database_sync_to_async(acme.token)(acme_meeting)
    await database_sync_to_async(services.integration_revoke)(integration=acme.integration)
    error, close = await refused(await token_socket(acme_meeting.id, fresh))
    assert error["data"]["code"] == "integration_revoked" and close["code"] == 4401


async def test_ended_meeting_is_refused_with_4410(acme, acme_meeting, token_socket):
    """Tokens of an ended meeting: `meeting_ended`, 4410 (as for signed-in users)."""
    token = await database_sync_to_async(acme.token)(acme_meeting)
    await database_sync_to_async(meeting_services.meeting_end)(meeting=acme_meeting,
                                                               actor=acme_meeting.host)
    error, close = await refused(await token_socket(acme_meeting.id, token))
    assert error["data"]["code"] == "meeting_ended" and close["code"] == 4410


async def test_malformed_token_is_refused(acme_meeting, token_socket):
    """Garbage in `access_token`: `token_malformed`, 4401; nobody was created."""
    error, close = await refused(await token_socket(acme_meeting.id, "abc.def.ghi"))
    assert error["data"]["code"] == "token_malformed" and close["code"] == 4401
    assert not await database_sync_to_async(ExternalIdentity.objects.exists)()


async def test_full_meeting_refuses_token_users_like_anyone(acme, token_socket):
    """Capacity applies to token users too (4409), through the meetings app's own check."""
    small = await database_sync_to_async(services.meeting_create_for_integration)(
        integration=acme.integration, title="Tiny", capacity=1)
    first = await token_socket(small.id, await database_sync_to_async(acme.token)(small, "a"))
    connected, _ = await first.connect(timeout=TIMEOUT)
    assert connected and (await first.receive_json_from(timeout=TIMEOUT))["type"] == \
        "meeting.state"
    second = await token_socket(small.id, await database_sync_to_async(acme.token)(small, "b"))
    connected, _ = await second.connect(timeout=TIMEOUT)
    close = await second.receive_output(timeout=TIMEOUT)
    assert close["type"] == "websocket.close" and close["code"] == 4409
