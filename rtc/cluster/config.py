"""The cluster's settings (``settings.CLUSTER``, filled from the environment), read per use."""

from __future__ import annotations

from typing import Any

from django.conf import settings

__all__ = ["DEFAULTS", "cluster_settings", "key_prefix"]

DEFAULTS: dict[str, Any] = {
    "ENABLED": False,
    "NODE_ID": "",
    "LEASE_SECONDS": 3,
    "RELAY_TIMEOUT_SECONDS": 10,
    "CASCADE_TIMEOUT_SECONDS": 3,
    "DRAIN_SECONDS": 5,
    "NODE_URL": "",
}


def cluster_settings() -> dict[str, Any]:
    """``settings.CLUSTER`` over :data:`DEFAULTS`."""
    return {**DEFAULTS, **getattr(settings, "CLUSTER", {})}


def key_prefix() -> str:
    """Where the cluster's keys live in Redis: under the channel layer's prefix, so
    deployments (and test runs) sharing one Redis database stay apart."""
    config = settings.CHANNEL_LAYERS.get("default", {}).get("CONFIG", {})
    return f"{config.get('prefix', 'conference')}:cluster:"
