"""Each benchmark script runs end to end in ``--quick`` mode: zero errors and a table.

These are smoke tests of the scripts, never of speed: nothing here asserts a latency, a rate
or a ratio, only that every measurement ran against the real parts and was printed.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest


def _table_rows(stdout: str, header_start: str) -> list[list[str]]:
    """The rows under the table header that starts with ``header_start``."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    assert set(lines[start + 1].replace(" ", "")) == {"-"}, lines[start + 1]
    rows = []
    for line in lines[start + 2:]:
        if not line.strip() or line.startswith("errors:"):
            break
        rows.append(line.split())
    return rows


async def test_control_plane_quick_compares_every_op_with_node(run_bench):
    """The Python and Node runs both measure every op; each row has both sides and ratios."""
    assert shutil.which("node"), "node is required (make test installs the Node reference)"
    result = await run_bench("bench.control_plane", "--quick")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = _table_rows(result.stdout, "op ")
    ops = {row[0]: row for row in rows}
    for op in ("worker_dump", "router_create", "router_close_acked", "webrtc_transport_create",
               "produce_audio", "produce_video_simulcast", "consume_video",
               "consumer_close_acked"):
        assert op in ops, f"{op} missing from\n{result.stdout}"
        assert "-" not in ops[op][1:], f"{op} lacks a Node figure: {ops[op]}"
    assert "errors: 0" in result.stdout


async def test_media_quick_forwards_to_every_consumer(run_bench):
    """Both quick rows (1 and 5 consumers) receive forwarded RTP with zero errors."""
    result = await run_bench("bench.media", "--quick")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = _table_rows(result.stdout, "consumers")
    assert [row[0] for row in rows] == ["1", "5"]
    for row in rows:
        assert float(row[2]) > 0, f"no packets received: {row}"
    assert "errors: 0" in result.stdout


async def test_signaling_quick_sets_up_every_peer_and_cleans_up(run_bench):
    """Four peers join, produce and consume on a live daphne, then close (the teardown
    measured); its temp database is removed."""
    before = set(Path(tempfile.gettempdir()).glob("conference-bench-*"))
    result = await run_bench("bench.signaling", "--quick")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = _table_rows(result.stdout, "server  peers  meetings")
    assert rows and rows[0][:2] == ["python", "4"] and rows[0][-1] == "0", rows
    assert "errors: 0" in result.stdout
    cost = _table_rows(result.stdout, "server  peers  ramp s")  # teardown s, its CPU ms last
    assert float(cost[0][-2]) > 0 and float(cost[0][-1]) > 0, cost
    assert set(Path(tempfile.gettempdir()).glob("conference-bench-*")) == before


async def test_signaling_traces_each_sockets_join_path(run_bench, tmp_path):
    """``--trace-server``: every step of the four peers' way in is traced on the server, in
    order, with the token and join batches behind them (bots.join_trace)."""
    path = tmp_path / "trace.json"
    result = await run_bench("bench.signaling", "--quick", "--json", "--trace-server",
                             str(path))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    trace = json.loads(result.stdout)["trace"]
    steps = {name: (count, spread) for name, count, spread in trace["steps"]}
    # No cluster without Redis: no socket counts its slot there, every other step is traced.
    clustered = {"beside it, on a cluster: the socket count", "at slot_out"}
    assert all(steps[name][0] == 0 for name in clustered), steps
    assert all(count == 4 for name, (count, _) in steps.items() if name not in clustered), steps
    p50 = {name: float(spread.split(" / ")[0]) for name, (count, spread) in steps.items()
           if count}
    assert p50["the join's database trip"] > 0
    marks = [p50[f"at {mark}"] for mark in ("auth_in", "auth_out", "connect", "subscribe_out",
                                            "join_in", "join_out", "state", "join_reply")]
    assert marks == sorted(marks), marks
    kinds = [batch[0] for batch in trace["batches"]]
    assert kinds.count("token_batch") >= 1 and kinds.count("join_batch") >= 1, kinds
    assert sum(batch[3] for batch in trace["batches"] if batch[0] == "join_batch") == 4
    assert path.exists()


async def test_scale_quick_builds_every_meeting_measures_and_leaves_nothing(run_bench):
    """Both quick rows (1 and 10 meetings of 4 peers) hold exactly what was built, measure
    every op inside a meeting, and leave nothing registered in Python or the worker."""
    result = await run_bench("bench.scale", "--quick")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    latency = _table_rows(result.stdout, "meetings ")  # the first table
    assert [row[0] for row in latency] == ["1", "10"], latency
    for row in latency:
        assert "-" not in row[1:], f"an op was not measured: {row}"
    objects = _table_rows(result.stdout, "meetings  routers")
    for row in objects:
        k = int(row[0])
        assert [int(v) for v in row[1:5]] == [k, 8 * k, 4 * k, 12 * k], row
        assert row[-1] == "0", f"objects left after closing: {row}"
    assert "errors: 0" in result.stdout


async def test_collab_quick_delivers_every_message_and_stroke(run_bench):
    """Five bots chat and draw in one meeting: every chat message reaches every socket and
    every stroke every other socket (nothing missing), the board and history hold them."""
    result = await run_bench("bench.collab", "--quick")
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-2000:]
    rows = _table_rows(result.stdout, "peers")
    assert len(rows) == 1 and rows[0][0] == "5"
    assert int(rows[0][2]) > 0 and int(rows[0][3]) > 0, rows
    assert rows[0][6] == "0", f"deliveries missing: {rows}"
    assert "errors: 0" in result.stdout


@pytest.mark.timeout(300)
async def test_recording_quick_records_every_stream_and_composes(run_bench):
    """Two streams are recorded by the real recorder (a file each, stopped cleanly) and a
    four-person call of 10 s is composed to a file of that length; CPU figures are printed.
    (Encoding its sources and composing takes minutes on a machine busy with other suites.)"""
    result = await run_bench("bench.recording", "--quick", timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    rows = _table_rows(result.stdout, "streams ")
    assert rows and rows[0][0] == "2" and rows[0][-1] == "0", rows
    composed = _table_rows(result.stdout, "format ")
    assert composed[0][:2] == ["webm", "10"] and composed[0][-1] == "0", composed
    assert "errors: 0" in result.stdout


async def test_cluster_quick_measures_setup_relay_and_failover(run_bench):
    """One node behind the balancer sets up every peer; a relayed request and a direct one
    are both measured; one SIGKILL of a call's owner is followed by media again."""
    result = await run_bench("bench.cluster", "--quick")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    setup = _table_rows(result.stdout, "nodes  rate/s")
    assert [(r[0], r[1], r[-1]) for r in setup] == [("1", "20.0", "0"), ("1", "burst", "0")]
    relay = _table_rows(result.stdout, "rtc:getStats")
    assert [r[0] for r in relay] == ["direct", "relayed", "relay"]
    failover = _table_rows(result.stdout, "kills")
    assert failover[0][0] == "1" and failover[0][3] == "0", failover


async def test_library_peer_measures_the_set_up_of_each_round(run_bench):
    """The library's per-peer script sets up its peers against a real worker (no socket, no
    Django) and prints a positive CPU cost for each round."""
    result = await run_bench("bench.library_peer", "--peers", "5", "--rounds", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(figures["ms_per_peer_all"]) == 2
    assert all(ms > 0 for ms in figures["ms_per_peer_all"])
    assert figures["ms_per_peer_best"] == min(figures["ms_per_peer_all"])


async def test_stack_floor_quick_measures_every_canned_server(run_bench):
    """The canned servers (Channels as production runs it, with Channels' dispatch, as shipped,
    raw ASGI under daphne, Node's ws) each set
    up every peer of the burst and open and close every socket of the handshake row, with a
    positive server CPU."""
    assert shutil.which("node"), "node is required (make test installs the Node reference)"
    result = await run_bench("bench.stack_floor", "--quick", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout)
    assert figures["errors"] == 0
    bursts = {row["server"]: row for row in figures["bursts"]}
    assert set(bursts) == {"python floor", "python floor, Channels' dispatch",
                           "python floor stock", "python raw ASGI", "node floor"}
    for row in bursts.values():
        assert row["errors"] == 0 and row["daphne_cpu_ms_per_peer"] > 0, row
        assert row["latency"]["join→consumed"]["n"] == 10, row
    handshakes = {row["server"]: row for row in figures["handshakes"]}
    assert set(handshakes) == {"python floor", "python raw ASGI", "node floor"}
    assert all(row["open_cpu_ms_per_peer"] > 0 for row in handshakes.values()), handshakes


async def test_stack_floor_wire_counts_the_canned_servers_frames(run_bench):
    """``--wire`` counts a peer's frames: against the canned Channels server, the frames the
    project's daphne sends a peer in a full meeting (bench/stack_floor.py's docstring)."""
    result = await run_bench("bench.stack_floor", "--wire", "floor", "--peers", "10",
                             "--per-meeting", "10", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    figures = json.loads(result.stdout)
    per_peer = {(f["dir"], f["frame"]): f["per_peer"] for f in figures["frames"]}
    assert per_peer[("server sends", "rtc:peerJoined")] == 9
    assert per_peer[("server sends", "rtc:newProducer")] == 9
    assert per_peer[("server sends", "meeting.participantJoined")] == 9  # not its own
    assert figures["server_sends_per_peer"][0] == 38
    assert figures["server_receives_per_peer"][0] == 8


async def test_redis_client_measures_both_parsers_against_redis(run_bench):
    """The Redis client script measures each parser in a process of its own against the real
    Redis: one row with hiredis hidden, one with it (a requirement), each cost positive."""
    import os

    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    result = await run_bench("bench.redis_client", "--url", url, "--commands", "50",
                             "--rounds", "1", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(result.stdout)["rows"]
    assert [row["hiredis"] for row in rows] == [False, True]
    assert all(row[key] > 0 for row in rows
               for key in ("single_us", "pipelined_us", "open_us")), rows
