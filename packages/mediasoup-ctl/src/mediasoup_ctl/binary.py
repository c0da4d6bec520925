"""Where the worker binary and its generated bindings live: one version, one cache directory.

Kept free of the ``FBS`` bindings so the ``mediasoup-ctl-worker`` command can find or build
them in an environment that does not have them yet.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["MEDIASOUP_VERSION", "cache_dir", "worker_bin_path"]

# The mediasoup release whose worker binary and FlatBuffers schemas this layer speaks to.
MEDIASOUP_VERSION = "3.16.0"


def cache_dir(version: str | None = None) -> Path:
    """The cache directory of one worker version (built or not): ``$CONFERENCE_CACHE``, else
    ``$XDG_CACHE_HOME/conference``, else ``~/.cache/conference``, then
    ``mediasoup-worker-<version>`` holding ``bin/mediasoup-worker`` and ``python/FBS``."""
    base = os.environ.get("CONFERENCE_CACHE")
    if not base:
        base = os.path.join(os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache"),
                            "conference")
    return Path(base) / f"mediasoup-worker-{version or MEDIASOUP_VERSION}"


def worker_bin_path(worker_bin: str | os.PathLike[str] | None = None) -> str:
    """Where the worker binary is: argument, else ``MEDIASOUP_WORKER_BIN``, else the cache."""
    if worker_bin:
        return os.fspath(worker_bin)
    env_bin = os.environ.get("MEDIASOUP_WORKER_BIN")
    if env_bin:
        return env_bin
    return os.fspath(cache_dir() / "bin" / "mediasoup-worker")
