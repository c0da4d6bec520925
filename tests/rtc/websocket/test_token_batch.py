"""`rtc.websocket.auth.user_for_token`: tokens looked up at the same moment share one query, each
gets its own user (or anonymous), and a failed query reaches every waiting socket."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db import OperationalError
from rest_framework.authtoken.models import Token

from rtc.websocket import auth

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def counted_queries(monkeypatch) -> list[list[str]]:
    """Every batch of keys `_users_for_tokens` is asked for (the query is still made)."""
    batches: list[list[str]] = []
    real = auth._users_for_tokens

    def counting(keys: list[str]) -> dict[str, Any]:
        batches.append(list(keys))
        return real(keys)

    monkeypatch.setattr(auth, "_users_for_tokens", counting)
    return batches


async def test_tokens_arriving_together_share_a_query_and_each_gets_its_user(
        make_user, counted_queries):
    """Thirty lookups at once (25 valid tokens, an inactive user's, an unknown key, one key
    asked three times) take one query; every lookup gets the right user, the inactive and
    unknown ones an anonymous user. Lookups arriving while a query is being made wait for it
    and are then made together in the next one."""
    users = await database_sync_to_async(lambda: [make_user(f"t{i}") for i in range(26)])()
    tokens = await database_sync_to_async(
        lambda: [Token.objects.create(user=u).key for u in users])()
    inactive = users[-1]
    inactive.is_active = False
    await database_sync_to_async(inactive.save)()
    keys = tokens + ["0" * 40, tokens[0], tokens[0]]
    found = await asyncio.gather(*(auth.user_for_token(k) for k in keys))
    assert [u.pk for u in found[:25]] == [u.pk for u in users[:25]]
    assert not found[25].is_authenticated and not found[26].is_authenticated
    assert found[27].pk == found[28].pk == users[0].pk
    assert len(counted_queries) == 1
    assert sorted(counted_queries[0]) == sorted(set(keys))

    first = asyncio.ensure_future(auth.user_for_token(tokens[3]))
    for _ in range(3):
        await asyncio.sleep(0)  # its query is on the database thread now
    later = await asyncio.gather(*(auth.user_for_token(k) for k in tokens[4:10]))
    assert (await first).pk == users[3].pk
    assert [u.pk for u in later] == [u.pk for u in users[4:10]]
    assert counted_queries[1:] == [[tokens[3]], tokens[4:10]]


async def test_a_failed_query_reaches_every_waiting_lookup_and_the_next_ones_work(
        make_user, monkeypatch):
    """The database down: each lookup of the batch gets the error (the middleware turns it
    into ``unavailable``); once it is back, lookups succeed again."""
    user = await database_sync_to_async(make_user)("back")
    key = (await database_sync_to_async(Token.objects.create)(user=user)).key
    real = auth._users_for_tokens

    def down(keys: list[str]) -> dict[str, Any]:
        raise OperationalError("database unavailable")

    monkeypatch.setattr(auth, "_users_for_tokens", down)
    outcomes = await asyncio.gather(*(auth.user_for_token(key) for _ in range(5)),
                                    return_exceptions=True)
    assert all(isinstance(o, OperationalError) for o in outcomes)
    monkeypatch.setattr(auth, "_users_for_tokens", real)
    assert (await auth.user_for_token(key)).pk == user.pk


async def test_a_cancelled_lookup_does_not_stop_the_others(make_user):
    """A socket that goes away while its lookup waits (its task cancelled) leaves the lookups
    made with it unharmed."""
    user = await database_sync_to_async(make_user)("stays")
    key = (await database_sync_to_async(Token.objects.create)(user=user)).key
    first = asyncio.ensure_future(auth.user_for_token(key))
    gone = asyncio.ensure_future(auth.user_for_token(key))
    kept = asyncio.ensure_future(auth.user_for_token(key))
    await asyncio.sleep(0)
    gone.cancel()
    assert (await first).pk == user.pk and (await kept).pk == user.pk
    assert gone.cancelled()
