"""Which address sign-in failures count against: REMOTE_ADDR unless trusted proxies are
configured, then only the entry the outermost trusted proxy wrote; and the LOGIN_* settings
come from the environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.test import RequestFactory
from rest_framework.test import APIClient

from conference.login_throttle import client_ip_address

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 5
TOKEN_URL = "/api/auth/token/"


def _token(client: APIClient, username: str, password: str, **extra: Any) -> int:
    return client.post(TOKEN_URL, {"username": username, "password": password},
                       format="json", **extra).status_code


def _address(remote: str | None = "203.0.113.9", forwarded: str | None = None,
             **extra: str) -> str | None:
    meta: dict[str, Any] = dict(extra)
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    request = RequestFactory().post("/accounts/login/", **meta)
    if remote is None:
        del request.META["REMOTE_ADDR"]
    else:
        request.META["REMOTE_ADDR"] = remote
    return client_ip_address(request)


def test_by_default_forwarded_headers_are_ignored(settings: Any) -> None:
    """No trusted proxy (the default): REMOTE_ADDR, whatever X-Forwarded-For claims."""
    assert settings.LOGIN_TRUSTED_PROXY_COUNT == 0
    assert _address(forwarded="198.51.100.1") == "203.0.113.9"
    assert _address(remote=None, forwarded="198.51.100.1") is None


def test_trusted_proxies_name_the_entry_they_wrote(settings: Any) -> None:
    """With N trusted proxies, the N-th entry from the right; a header too short for N, or an
    entry that is not an address, falls back to REMOTE_ADDR; the header name is settable."""
    settings.LOGIN_TRUSTED_PROXY_COUNT = 1
    assert _address(forwarded="10.9.9.9, 198.51.100.1") == "198.51.100.1"
    assert _address(forwarded="") == "203.0.113.9"
    assert _address(forwarded="10.9.9.9, not-an-address") == "203.0.113.9"
    settings.LOGIN_TRUSTED_PROXY_COUNT = 2
    assert _address(forwarded="10.9.9.9, 198.51.100.1, 192.0.2.1") == "198.51.100.1"
    assert _address(forwarded="192.0.2.1") == "203.0.113.9"
    settings.LOGIN_TRUSTED_PROXY_COUNT = 1
    settings.LOGIN_CLIENT_IP_HEADER = "X-Real-IP"
    assert _address(forwarded="198.51.100.1", HTTP_X_REAL_IP="192.0.2.77") == "192.0.2.77"


def test_addresses_are_counted_in_one_spelling() -> None:
    """IPv4-mapped IPv6 is the IPv4 address; IPv6 counts per /64, so a host cannot step
    through its own /64 for fresh counts."""
    assert _address(remote="::ffff:198.51.100.1") == "198.51.100.1"
    assert _address(remote="2001:db8:1:2:aaaa::1") == "2001:db8:1:2::"
    assert _address(remote="2001:0db8:0001:0002:ffff:ffff:ffff:ffff") == "2001:db8:1:2::"
    assert _address(remote="2001:db8:1:3::1") == "2001:db8:1:3::"


@pytest.mark.django_db
def test_a_spoofed_header_does_not_escape_the_lockout(
        api_client: APIClient, host_user: Any, user_password: str) -> None:
    """By default a client that invents a new X-Forwarded-For for every guess is still
    counted by its real address, and stays locked out."""
    for n in range(LIMIT):
        _token(api_client, "hazel", "wrong", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    assert _token(api_client, "hazel", user_password,
                  HTTP_X_FORWARDED_FOR="192.0.2.200") == 429
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"127.0.0.1"}


@pytest.mark.django_db
def test_behind_a_trusted_proxy_clients_are_told_apart(
        settings: Any, api_client: APIClient, host_user: Any, user_password: str) -> None:
    """Behind one trusted proxy (REMOTE_ADDR is the proxy): the client the proxy saw is
    locked out, whatever it puts left of it; another client behind the same proxy is not."""
    settings.LOGIN_TRUSTED_PROXY_COUNT = 1
    for n in range(LIMIT):
        _token(api_client, "hazel", "wrong", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}, 198.51.100.7")
    assert _token(api_client, "hazel", user_password,
                  HTTP_X_FORWARDED_FOR="10.0.0.99, 198.51.100.7") == 429
    assert _token(api_client, "hazel", user_password,
                  HTTP_X_FORWARDED_FOR="198.51.100.8") == 200


def _settings_of(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith("LOGIN_") and k != "DJANGO_SETTINGS_MODULE"}
    clean.update(env)
    code = ("from django.conf import settings as s; print(s.AXES_FAILURE_LIMIT, "
            "s.AXES_COOLOFF_TIME.total_seconds(), s.LOGIN_TRUSTED_PROXY_COUNT, "
            "s.LOGIN_CLIENT_IP_HEADER)")
    return subprocess.run([sys.executable, "manage.py", "shell", "-c", code], cwd=ROOT,
                          env=clean, capture_output=True, text=True, timeout=120, check=False)


def test_the_settings_come_from_the_environment() -> None:
    """LOGIN_FAILURE_LIMIT, LOGIN_COOLOFF_MINUTES, LOGIN_TRUSTED_PROXY_COUNT and
    LOGIN_CLIENT_IP_HEADER are read at start-up; nonsense refuses to start."""
    result = _settings_of(LOGIN_FAILURE_LIMIT="3", LOGIN_COOLOFF_MINUTES="2",
                          LOGIN_TRUSTED_PROXY_COUNT="1", LOGIN_CLIENT_IP_HEADER="X-Real-IP")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-4:] == ["3", "120.0", "1", "X-Real-IP"]
    for bad in ({"LOGIN_FAILURE_LIMIT": "0"}, {"LOGIN_CLIENT_IP_HEADER": "X Forwarded: 1"}):
        refused = _settings_of(**bad)
        assert refused.returncode != 0 and "ImproperlyConfigured" in refused.stderr, bad
