"""The ``mediasoup-ctl-worker`` command: finds the cached build, links the bindings, is lazy."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mediasoup_ctl import MEDIASOUP_VERSION, worker_bin_path
from mediasoup_ctl.binary import cache_dir
from mediasoup_ctl.worker_build import PTH_NAME, main, write_pth


def test_check_and_build_find_the_cached_worker(worker_bin: str, capsys) -> None:
    """With a complete cache, ``--check`` says so and a build returns that directory at once."""
    assert main(["--check"]) == 0
    assert capsys.readouterr().out.strip() == str(cache_dir())
    assert main(["--no-pth"]) == 0
    out = Path(capsys.readouterr().out.strip().splitlines()[-1])
    assert out == cache_dir() and out.name == f"mediasoup-worker-{MEDIASOUP_VERSION}"
    assert os.path.samefile(out / "bin" / "mediasoup-worker", worker_bin)
    assert (out / "python" / "FBS" / "Message" / "Message.py").exists()


def test_check_fails_on_an_empty_cache(tmp_path: Path, monkeypatch, capsys) -> None:
    """``--check`` never builds: on an empty cache it exits 1 and names where it looked."""
    monkeypatch.setenv("CONFERENCE_CACHE", str(tmp_path))
    assert main(["--check"]) == 1
    expected = tmp_path / f"mediasoup-worker-{MEDIASOUP_VERSION}"
    assert capsys.readouterr().out.strip() == str(expected)
    assert worker_bin_path().startswith(str(tmp_path))
    assert not any(tmp_path.iterdir())


def test_pth_puts_the_bindings_on_the_path(worker_bin: str, tmp_path: Path) -> None:
    """The ``.pth`` file names the bindings' directory, which then imports as ``FBS``."""
    pth = write_pth(cache_dir(), site_packages=str(tmp_path))
    assert pth == tmp_path / PTH_NAME
    line = pth.read_text().strip()
    assert Path(line) == cache_dir() / "python"
    # -S: no site-packages, so FBS can only come through the tested .pth file.
    code = (
        "import importlib.util, site, sys; site.addsitedir(sys.argv[1]); "
        "print(importlib.util.find_spec('FBS.Message').submodule_search_locations[0])"
    )
    done = subprocess.run([sys.executable, "-S", "-c", code, str(tmp_path)], capture_output=True,
                          text=True, timeout=30, check=True)
    assert done.stdout.strip().startswith(line)


@pytest.mark.parametrize("module", ["mediasoup_ctl", "mediasoup_ctl.worker_build"])
def test_import_needs_no_bindings(module: str) -> None:
    """The package and the command import without ``FBS`` (the command must run before it)."""
    code = (
        "import sys; sys.modules['FBS'] = None\n"
        f"import {module}, mediasoup_ctl\n"
        "assert mediasoup_ctl.MEDIASOUP_VERSION\n"
        "try:\n    mediasoup_ctl.Worker\nexcept ImportError:\n    print('lazy')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=30, check=True)
    assert done.stdout.strip() == "lazy"
