"""Test tiers as markers, given to each test by what it uses.

* ``unit``: no mediasoup-worker, no live server, no browser.
* ``worker``: real mediasoup-workers in the test's process (the room service, the library).
* ``e2e``: live servers (daphne, a cluster of nodes, the bots) over real sockets.
* ``browser``: Chromium driving a live site.

A test gets the highest tier among its fixtures' (:data:`FIXTURE_TIERS`), its module's imports
(:data:`NAME_TIERS`: a module that imports ``LiveDaphne`` starts live servers), its folder
(:data:`FOLDER_TIERS`) and its file (:data:`FILE_TIERS`); ``unit`` when none applies. A tier
marker written on a test or module wins. Unit tests that take seconds (a child process, a
fuzzer: :data:`SLOW`, or ``pytest.mark.slow`` written on them) also get ``slow``. Tests stay
where they are: the tiers cut across the folders.

``make test-fast`` runs ``-m "unit and not slow"`` with ``--tier-guard``: a unit test that
starts a worker, a live server, a browser or any other child process (a throw-away
redis-server aside) then fails, naming the marker it needs, so the fast tier stays fast and
says the truth. ``make test`` runs every tier.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = ["FIXTURE_TIERS", "FOLDER_TIERS", "NAME_TIERS", "TIERS", "tier_of"]

TIERS = ("unit", "worker", "e2e", "browser")
"""Lowest to highest: a test is in the highest tier anything it uses asks for."""

FIXTURE_TIERS: dict[str, str] = {
    # the library's and the room service's workers
    "worker_bin": "worker", "worker": "worker", "worker2": "worker",
    "rtc_service": "worker", "rtc_client": "worker", "in_call": "worker", "arena": "worker",
    "recording_env": "worker", "peer_in": "worker", "pair": "worker",
    # live servers
    "live_site": "e2e", "site": "e2e", "linked_site": "e2e", "proxied_server": "e2e",
    "run_bot": "e2e", "run_bench": "e2e", "burst_server": "e2e", "cluster": "e2e", "live": "e2e",
    # a browser
    "chromium": "browser",
}
"""Fixtures that start a worker, a live server or a browser."""

NAME_TIERS: dict[str, str] = {
    "MediasoupService": "worker", "create_worker": "worker", "Worker": "worker",
    "LiveDaphne": "e2e", "LiveSite": "e2e", "LiveCluster": "e2e", "DaphneServer": "e2e",
    "make_cluster": "e2e", "Bot": "e2e", "SignalingClient": "e2e", "LiveServer": "e2e",
    "CallClient": "e2e",
}
"""Names whose import into a test module means its tests start what they name."""

FOLDER_TIERS: dict[str, str] = {
    "mediasoup": "worker",
}
"""Folders of ``tests/`` all of whose tests are at least in a tier."""

FILE_TIERS: dict[str, str] = {
    "tests/faults/test_fault_worker_load.py": "e2e",  # bench.worker_kill_load's daphne
    "tests/rtc/cluster/test_make_cluster.py": "e2e",  # make cluster's nodes
}
"""Test files that start what no fixture or name of theirs shows."""

SLOW: tuple[str, ...] = (
    # a child Python, node or redis-server process (the --tier-guard finds them)
    "tests/bots/test_bots_parts.py::test_the_bots_import_nothing_from_django",
    "tests/conference/test_ops_db_pool.py::",
    "tests/conference/test_ops_gc.py::",
    "tests/rtc/operations/test_ops_logging.py::test_log_format_json_setting_writes_json_lines",
    "tests/reliability/test_limits_config.py::test_rtc_environment_variables_set_the_limits",
    "tests/reliability/test_limits_config.py::test_no_rtc_environment_means_the_defaults",
    "tests/reliability/test_limits_config.py::test_bad_rtc_values_fail_at_start_up",
    "tests/reliability/test_rel_soak_quick.py::",
    "tests/security/test_sec_deploy.py::",
    "tests/security/test_sec_login_client_address.py::test_the_settings_come_from_the_environment",
    "tests/web/test_js_units.py::",
    "tests/rtc/websocket/test_connect_cost.py::test_sqlite_connections_use_the_write_ahead_log",
    "tests/rtc/websocket/test_redis_burst.py::test_a_redis_restarted_empty_gets_this_process_members_back",
    "tests/rtc/websocket/test_socket_limits.py::test_environment_variables_set_the_socket_limits",
    "tests/rtc/websocket/test_socket_limits.py::test_bad_socket_limit_stops_the_start_up",
    "tests/conference/test_twisted_write.py::test_small_frames_go_out_without_waiting_for_writability",
    "tests/conference/test_twisted_write.py::test_the_unpatched_reactor_gives_the_same_bytes",
    "tests/conference/test_twisted_write.py::test_the_frames_after_the_first_of_a_turn_go_out_together",
    # a fuzzer: about 15 s per role
    "tests/security/test_sec_api_schema_fuzz.py::",
)
"""Node id prefixes of unit tests that take seconds (a child Python process, a fuzzer): they
get the ``slow`` marker and stay out of ``make test-fast``."""


def tier_of(item: pytest.Item) -> str:
    """The tier of a collected test (see the module docstring)."""
    for marker in item.iter_markers():
        if marker.name in TIERS:
            return marker.name
    asked = ["unit"]
    asked += [FIXTURE_TIERS[name] for name in getattr(item, "fixturenames", ())
              if name in FIXTURE_TIERS]
    module = getattr(item, "module", None)
    if module is not None:
        asked += [tier for name, tier in NAME_TIERS.items() if name in vars(module)]
    path = Path(str(item.path))
    parts = path.parts
    if "tests" in parts:
        folder = parts[parts.index("tests") + 1] if parts.index("tests") + 1 < len(parts) else ""
        if folder in FOLDER_TIERS:
            asked.append(FOLDER_TIERS[folder])
        relative = "/".join(parts[parts.index("tests"):])
        if relative in FILE_TIERS:
            asked.append(FILE_TIERS[relative])
    return max(asked, key=TIERS.index)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--tier-guard", action="store_true",
                     help="fail unit tests that start a mediasoup-worker or a live server")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Give each test its tier marker (before ``-m`` deselects)."""
    for item in items:
        tier = tier_of(item)
        if not any(m.name == tier for m in item.iter_markers()):
            item.add_marker(getattr(pytest.mark, tier))
        if tier == "unit" and item.nodeid.startswith(SLOW):
            item.add_marker(pytest.mark.slow)


_escapes: dict[str, list[str]] = {}
"""Under ``--tier-guard``: what each unit test started that it should not have, by node id."""


ALLOWED_CHILDREN = ("redis-server",)
"""Programs a unit test may start: a throw-away Redis starts in milliseconds."""


def _started(argv: Any) -> str | None:
    """What a child process is, for the guard: its tier, ``slow`` for any other child, None
    for one of :data:`ALLOWED_CHILDREN`."""
    words = [str(a) for a in argv] if isinstance(argv, list | tuple) else str(argv).split()
    exe = os.path.basename(words[0]) if words else ""
    if exe in ALLOWED_CHILDREN:
        return None
    if "mediasoup-worker" in exe:
        return "worker"
    if exe.startswith("chrom"):
        return "browser"
    if exe.startswith("daphne") or words[1:3] == ["-m", "daphne"]:
        return "e2e"
    return "slow"


@contextlib.contextmanager
def _guarded(item: pytest.Item) -> Iterator[None]:
    """Record (and refuse) workers, servers, browsers and other child processes that ``item``
    starts, in its fixtures too (module-scoped ones are set up within the first test)."""
    spawn, popen_init = os.posix_spawn, subprocess.Popen.__init__

    def escape(argv: Any) -> None:
        tier = _started(argv)
        if tier is None:
            return
        text = " ".join(map(str, argv)) if isinstance(argv, list | tuple) else str(argv)
        _escapes.setdefault(item.nodeid, []).append(
            f"starts {text[:100]!r}: mark it {tier} (pytest.mark.{tier}, or a table of "
            "tests/support/tiers.py)")
        raise _Escaped(_escapes[item.nodeid][-1])

    def guarded_spawn(path: Any, argv: Any, *args: Any, **kwargs: Any) -> int:
        escape([path, *argv[1:]])
        return spawn(path, argv, *args, **kwargs)

    def guarded_popen(self: Any, args: Any, *rest: Any, **kwargs: Any) -> None:
        escape(args)
        popen_init(self, args, *rest, **kwargs)

    os.posix_spawn = guarded_spawn  # type: ignore[assignment]
    subprocess.Popen.__init__ = guarded_popen  # type: ignore[method-assign]
    try:
        yield
    finally:
        os.posix_spawn = spawn
        subprocess.Popen.__init__ = popen_init  # type: ignore[method-assign]


class _Escaped(Exception):
    """A unit test started something of another tier."""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    if (not item.config.getoption("--tier-guard") or tier_of(item) != "unit"
            or item.get_closest_marker("slow")):
        yield
        return
    with _guarded(item):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A unit test whose escape was swallowed (a pool that retries a failed spawn) fails at
    its teardown with what it started."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "teardown" and item.nodeid in _escapes:
        report.outcome = "failed"
        report.longrepr = "\n".join(_escapes.pop(item.nodeid))


@pytest.fixture(autouse=True)
def _fast_password_hashing(request: pytest.FixtureRequest) -> None:
    """Users are made by the dozen (three per meeting fixture); PBKDF2 costs a good part of a
    second each on a busy machine, most of a unit test's time. In-process tiers hash with MD5
    (no test checks a hash's algorithm); e2e and browser tests keep the real hashers, as the
    live servers they sign in to verify with their own settings."""
    if tier_of(request.node) not in ("unit", "worker"):
        return
    settings = request.getfixturevalue("settings")
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher",
                                 *settings.PASSWORD_HASHERS]
