"""Production settings pass Django's deployment checks, and DEBUG off refuses to start without
its secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {"DEBUG": "0", "SECRET_KEY": "x" * 20 + "deploy-check-not-a-real-secret-0123456789",
              "ALLOWED_HOSTS": "meet.example.com"}


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if k not in ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DJANGO_SETTINGS_MODULE")}
    clean.update(env)
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=clean,
                          capture_output=True, text=True, timeout=120, check=False)


def test_check_deploy_is_clean_with_debug_off() -> None:
    """`manage.py check --deploy --fail-level WARNING` reports nothing: HTTPS redirect, HSTS,
    secure cookies, a real secret key, explicit hosts."""
    result = _manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_debug_off_needs_a_secret_key() -> None:
    """With DEBUG=0 and no SECRET_KEY the process refuses to start (no built-in secret)."""
    env = dict(PRODUCTION)
    env.pop("SECRET_KEY")
    result = _manage("check", **env)
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr
