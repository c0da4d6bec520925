"""PostgreSQL goes through Django's connection pool unless DB_POOL=0; SQLite never does."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bots.live_daphne import ROOT

PROBE = """
import json
from django.conf import settings
db = settings.DATABASES["default"]
print(json.dumps({"pool": db.get("OPTIONS", {}).get("pool"), "age": db["CONN_MAX_AGE"]}))
"""


def _database_settings(**env: str) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DB_", "DATABASE_URL"))}
    clean.update(DJANGO_SETTINGS_MODULE="conference.settings", **env)
    code = "import django; django.setup()\n" + PROBE
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean, check=True,
                            capture_output=True, text=True, timeout=60)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_postgresql_is_pooled_by_default_and_sized_from_the_environment():
    """A PostgreSQL URL gets the pool (CONN_MAX_AGE 0, which pooling requires), sized by
    DB_POOL_*; DB_POOL=0 falls back to DB_CONN_MAX_AGE."""
    url = "postgres://postgres@127.0.0.1:5432/test"
    assert _database_settings(DATABASE_URL=url) == {
        "pool": {"min_size": 2, "max_size": 10, "timeout": 10}, "age": 0}
    assert _database_settings(DATABASE_URL=url, DB_POOL_MAX_SIZE="4", DB_CONN_MAX_AGE="30")[
        "pool"]["max_size"] == 4
    assert _database_settings(DATABASE_URL=url, DB_POOL="0", DB_CONN_MAX_AGE="30") == {
        "pool": None, "age": 30}


def test_sqlite_keeps_its_connection_instead():
    """The embedded SQLite database has no pool and keeps its connection for a minute."""
    assert _database_settings() == {"pool": None, "age": 60}
