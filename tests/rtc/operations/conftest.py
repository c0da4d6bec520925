"""Fixtures for the operations tests: metrics scrapes, probes, the admin live page.

The call fixtures of ``tests/rtc/conftest.py`` are reused as they are (``rtc_service``: a real
worker pool checked empty at teardown; ``rtc_client``: a meeting socket with request helpers;
``rtc_settings``: no reconnect grace). HTTP goes through Django's ``AsyncClient``, which runs the
ASGI handler in the test's event loop: the loop the worker pool lives in, as under daphne.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import AsyncClient
from prometheus_client.parser import text_string_to_metric_families

from tests.rtc.conftest import rtc_client, rtc_service, rtc_settings  # noqa: F401

METRICS_TOKEN = "metrics-token-for-tests"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(autouse=True)
def ops_settings(rtc_settings: Any) -> Any:  # noqa: F811
    """A metrics token, and a fresh media sample on every scrape."""
    rtc_settings.METRICS_TOKEN = METRICS_TOKEN
    rtc_settings.METRICS_STATS_MAX_AGE = 0
    return rtc_settings


def parse_metrics(text: str) -> Samples:
    """Every sample of a Prometheus text exposition, keyed by name and label set."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value; 0 when absent (a labelled counter not incremented yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


@pytest.fixture
def scrape() -> Callable[..., Any]:
    """``await scrape()``: GET /metrics with the token; the parsed samples (200 asserted)."""

    async def get(client: AsyncClient | None = None) -> Samples:
        client = client or AsyncClient()
        response = await client.get("/metrics", headers={
            "Authorization": f"Bearer {METRICS_TOKEN}"})
        assert response.status_code == 200, response.content
        assert response["Content-Type"].startswith("text/plain; version=0.0.4")
        return parse_metrics(response.content.decode())

    return get


@pytest.fixture
def make_staff(make_user: Callable[..., Any]) -> Callable[..., Any]:
    """Factory: a staff user (no superuser rights)."""

    def make(username: str = "stella") -> Any:
        return make_user(username, is_staff=True)

    return make
