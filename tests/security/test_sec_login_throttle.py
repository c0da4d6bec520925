"""Password guessing is throttled (django-axes): after LOGIN_FAILURE_LIMIT failures for a
username from one address, the login form and ``POST /api/auth/token/`` refuse that username
from that address with 429 until the cool-off ends or staff clear it; a right password clears
the count; other usernames, other addresses, existing tokens and integrations are unaffected.

Real database, Django's test client (WSGI), its AsyncClient (the ASGI path daphne takes) and
DRF's APIClient.
"""

from __future__ import annotations

from datetime import timedelta
from http.cookies import SimpleCookie
from io import StringIO
from typing import Any
from urllib.parse import urlencode

import pytest
from axes.models import AccessAttempt
from channels.db import database_sync_to_async
from channels.testing import HttpCommunicator
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import F
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from integrations import services as integration_services

LIMIT = 5
"""The default LOGIN_FAILURE_LIMIT, which the tests run with."""
TOKEN_URL = "/api/auth/token/"
LOGIN_URL = "/accounts/login/"
LOCKED_EN = "Too many failed sign-in attempts. Try again in"
WRONG_EN = "didn't match"


def _form(client: Client, username: str, password: str, **extra: Any) -> Any:
    return client.post(LOGIN_URL, {"username": username, "password": password}, **extra)


def _token(client: APIClient, username: str, password: str, **extra: Any) -> Any:
    return client.post(TOKEN_URL, {"username": username, "password": password},
                       format="json", **extra)


def _one_guess_left() -> Client:
    """A browser that failed the form for hazel once less than the lock-out takes."""
    client = Client()
    for _ in range(LIMIT - 1):
        _form(client, "hazel", "wrong")
    return client


def _age_attempts(seconds: float) -> None:
    """As if ``seconds`` had passed since every failed attempt recorded so far."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(seconds=seconds))


def _signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


def test_limit_and_cool_off_are_the_documented_defaults() -> None:
    """The tests below count on 5 failures and 15 minutes (LOGIN_* unset)."""
    assert settings.AXES_FAILURE_LIMIT == LIMIT
    assert settings.AXES_COOLOFF_TIME == timedelta(minutes=15)


@pytest.mark.django_db
def test_login_form_refuses_a_locked_out_username_with_the_message(
        host_user: Any, user_password: str) -> None:
    """Four wrong passwords get the usual error; the fifth and then even the right password
    get 429 with the lockout message on the login form, and no session."""
    client = Client()
    for _ in range(LIMIT - 1):
        page = _form(client, "hazel", "wrong")
        assert page.status_code == 200 and WRONG_EN in page.content.decode()
    fifth = _form(client, "hazel", "wrong")
    assert fifth.status_code == 429
    assert LOCKED_EN in fifth.content.decode() and "15 minutes" in fifth.content.decode()
    assert int(fifth["Retry-After"]) == 15 * 60
    refused = _form(client, "hazel", user_password)
    assert refused.status_code == 429 and not _signed_in(client)
    html = refused.content.decode()
    assert LOCKED_EN in html and 'name="password"' in html and 'value="hazel"' in html
    assert WRONG_EN not in html
    assert AccessAttempt.objects.get(username="hazel").failures_since_start == LIMIT


@pytest.mark.django_db
def test_token_endpoint_refuses_a_locked_out_username_with_json(
        api_client: APIClient, host_user: Any, user_password: str) -> None:
    """The API: four 400s, then 429 `{"detail", "code": "locked_out"}` with Retry-After, also
    for the right password, and no token is made; nothing internal in the body."""
    for _ in range(LIMIT - 1):
        assert _token(api_client, "hazel", "wrong").status_code == 400
    for password in ("wrong", user_password):
        response = _token(api_client, "hazel", password)
        assert response.status_code == 429
        assert response["Content-Type"].startswith("application/json")
        body = response.json()
        assert set(body) == {"detail", "code"} and body["code"] == "locked_out"
        assert body["detail"].startswith(LOCKED_EN)
        assert "axes" not in response.content.decode().lower()
        assert 0 < int(response["Retry-After"]) <= 15 * 60
    assert not Token.objects.filter(user=host_user).exists()


@pytest.mark.django_db
def test_form_and_api_share_one_count(api_client: APIClient, host_user: Any,
                                      user_password: str) -> None:
    """Failures on the form and on the API add up: guessing cannot switch doors."""
    client = _one_guess_left()
    assert _token(api_client, "hazel", "wrong").status_code == 429
    assert _form(client, "hazel", user_password).status_code == 429


@pytest.mark.django_db
def test_the_admin_login_counts_too(api_client: APIClient, host_user: Any,
                                    user_password: str) -> None:
    """Guesses on the admin's login page add to the same count and get the same refusal."""
    client = Client()
    for _ in range(LIMIT - 1):
        assert client.post("/admin/login/", {"username": "hazel", "password": "wrong"}
                           ).status_code == 200
    refused = client.post("/admin/login/", {"username": "hazel", "password": "wrong"})
    assert refused.status_code == 429 and LOCKED_EN in refused.content.decode()
    assert _token(api_client, "hazel", user_password).status_code == 429


@pytest.mark.django_db
def test_other_usernames_and_addresses_are_not_affected(
        api_client: APIClient, host_user: Any, member_user: Any, user_password: str) -> None:
    """Locking hazel out from 127.0.0.1 leaves milo there, and hazel from elsewhere, free."""
    for _ in range(LIMIT):
        _token(api_client, "hazel", "wrong")
    assert _token(api_client, "hazel", user_password).status_code == 429
    assert _token(api_client, "milo", user_password).status_code == 200
    assert _token(api_client, "hazel", user_password,
                  REMOTE_ADDR="198.51.100.7").status_code == 200
    client = Client(REMOTE_ADDR="198.51.100.8")
    assert _form(client, "hazel", user_password).status_code == 302 and _signed_in(client)
    milo = Client()
    assert _form(milo, "milo", user_password).status_code == 302 and _signed_in(milo)


@pytest.mark.django_db
def test_a_right_password_clears_the_count(api_client: APIClient, host_user: Any,
                                           user_password: str) -> None:
    """A successful sign-in (form, then API) starts the count again from zero."""
    client = _one_guess_left()
    assert _form(client, "hazel", user_password).status_code == 302
    assert not AccessAttempt.objects.filter(username="hazel").exists()
    for _ in range(LIMIT - 1):
        assert _token(api_client, "hazel", "wrong").status_code == 400
    assert _token(api_client, "hazel", user_password).status_code == 200
    assert not AccessAttempt.objects.filter(username="hazel").exists()
    for _ in range(LIMIT - 1):
        assert _token(api_client, "hazel", "wrong").status_code == 400


@pytest.mark.django_db
def test_the_lockout_ends_after_the_cool_off_and_refusals_do_not_extend_it(
        settings: Any, api_client: APIClient, host_user: Any, user_password: str) -> None:
    """With a 2 s cool-off: locked at once, a refused try after 1 s does not restart the
    clock, and the right password works after 2 s. Time moves by making the stored attempts
    older (axes measures the cool-off from their time), not by waiting."""
    settings.AXES_COOLOFF_TIME = timedelta(seconds=2)
    for _ in range(LIMIT):
        _token(api_client, "hazel", "wrong")
    assert _token(api_client, "hazel", user_password).status_code == 429
    _age_attempts(1.0)
    assert _token(api_client, "hazel", "wrong").status_code == 429
    _age_attempts(1.2)
    response = _token(api_client, "hazel", user_password)
    assert response.status_code == 200 and response.json()["token"]


@pytest.mark.django_db
def test_the_message_is_translated(host_user: Any) -> None:
    """A browser asking for Chinese reads the lockout in Chinese."""
    client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    for _ in range(LIMIT):
        page = _form(client, "hazel", "wrong")
    assert page.status_code == 429
    assert "登录失败次数过多，请在 15 分钟后重试。" in page.content.decode()


async def _asgi(method: str, path: str, *, cookies: dict[str, str],
                body: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    """One request through the ASGI application daphne serves, as a Chinese browser: status,
    the cookies it set (merged into `cookies`), the page."""
    from conference.asgi import application

    headers = [(b"host", b"localhost"), (b"accept-language", b"zh-hans")]
    if cookies:
        headers.append((b"cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()).encode()))
    if body is not None:
        headers.append((b"content-type", b"application/x-www-form-urlencoded"))
    communicator = HttpCommunicator(application, method, path, headers=headers,
                                    body=urlencode(body or {}).encode())
    response = await communicator.get_response(timeout=10)
    # Let the application finish: it closes the response (and its database connection) after
    # the body is sent.
    await communicator.wait(timeout=10)
    for name, value in response["headers"]:
        if name.lower() == b"set-cookie":
            cookie = SimpleCookie(value.decode())
            cookies.update({key: morsel.value for key, morsel in cookie.items()})
    return response["status"], cookies, response["body"].decode()


@pytest.mark.django_db(transaction=True)
async def test_the_asgi_path_answers_the_same(host_user: Any, user_password: str) -> None:
    """Through the ASGI application (daphne's path, where axes' middleware runs its async
    branch), CSRF enforced: 429 with the form and the Chinese message, also for the right
    password, and no session."""
    cookies: dict[str, str] = {}
    status, cookies, _page = await _asgi("GET", LOGIN_URL, cookies=cookies)
    assert status == 200 and "csrftoken" in cookies
    form = {"username": "hazel", "password": "wrong",
            "csrfmiddlewaretoken": cookies["csrftoken"]}
    for _ in range(LIMIT):
        status, cookies, page = await _asgi("POST", LOGIN_URL, cookies=cookies, body=form)
    assert status == 429 and "登录失败次数过多" in page and 'name="password"' in page
    status, cookies, page = await _asgi("POST", LOGIN_URL, cookies=cookies,
                                        body={**form, "password": user_password})
    assert status == 429 and "登录失败次数过多" in page
    assert settings.SESSION_COOKIE_NAME not in cookies


@pytest.mark.django_db
def test_staff_see_and_clear_a_lockout_in_the_admin(
        api_client: APIClient, host_user: Any, user_password: str) -> None:
    """The admin lists the attempt; deleting it lets the user sign in again."""
    for _ in range(LIMIT):
        _token(api_client, "hazel", "wrong")
    admin = get_user_model().objects.create_superuser("root", password="x" * 20)
    staff = Client()
    staff.force_login(admin)
    listing = staff.get("/admin/axes/accessattempt/")
    assert listing.status_code == 200 and "hazel" in listing.content.decode()
    attempt = AccessAttempt.objects.get(username="hazel")
    deleted = staff.post("/admin/axes/accessattempt/", {
        "action": "delete_selected", "_selected_action": [attempt.pk], "post": "yes"})
    assert deleted.status_code == 302
    assert not AccessAttempt.objects.exists()
    assert _token(api_client, "hazel", user_password).status_code == 200


@pytest.mark.django_db
def test_a_management_command_lists_and_clears_a_lockout(
        api_client: APIClient, host_user: Any, member_user: Any, user_password: str) -> None:
    """`axes_list_attempts` shows address, username and count; `axes_reset_ip_username`
    clears that pair only."""
    for username in ("hazel", "milo"):
        for _ in range(LIMIT):
            _token(api_client, username, "wrong")
    out = StringIO()
    call_command("axes_list_attempts", stdout=out)
    assert "127.0.0.1\thazel\t5" in out.getvalue()
    call_command("axes_reset_ip_username", "127.0.0.1", "hazel", stdout=StringIO())
    assert _token(api_client, "hazel", user_password).status_code == 200
    assert _token(api_client, "milo", user_password).status_code == 429


@pytest.mark.django_db
def test_an_overlong_username_is_refused_before_it_is_counted(api_client: APIClient) -> None:
    """Longer than any account's: a 400 field error, and nothing stored (the attempts table
    holds 255 characters; PostgreSQL would fail on more)."""
    response = _token(api_client, "x" * 300, "wrong")
    assert response.status_code == 400 and "username" in response.json()
    assert not AccessAttempt.objects.exists()


@pytest.mark.django_db(transaction=True)
async def test_a_locked_out_user_keeps_her_token_socket_and_integrations_work(
        meeting: Any, host_user: Any, outsider_user: Any, user_password: str,
        ws_join: Any) -> None:
    """The lockout stops password guesses only: the user's existing API token still works
    on the API and the meeting socket, and integrations' API keys are untouched."""
    token = (await Token.objects.aget_or_create(user=host_user))[0].key
    integration, secret = await database_sync_to_async(integration_services.integration_create)(
        name="Locked Inc", owner=outsider_user)
    guesser = APIClient()
    for _ in range(LIMIT):
        await database_sync_to_async(_token)(guesser, "hazel", "wrong")
    refused = await database_sync_to_async(_token)(guesser, "hazel", user_password)
    assert refused.status_code == 429

    def api_calls() -> tuple[int, int]:
        user = APIClient()
        user.credentials(HTTP_AUTHORIZATION=f"Token {token}")
        backend = APIClient()
        backend.credentials(HTTP_AUTHORIZATION=f"Bearer {integration.api_key}:{secret}")
        return (user.get("/api/meetings/").status_code,
                backend.get("/api/integrations/meetings/").status_code)

    assert await database_sync_to_async(api_calls)() == (200, 200)
    communicator = await ws_join(meeting.id, host_user, auth="token")
    await communicator.disconnect()
    assert await AccessAttempt.objects.filter(username="hazel").acount() == 1
