"""The recording bot records real calls through a live daphne and its worker.

Real sockets, real ICE/DTLS/SRTP on loopback, real encoders: the senders are ``python -m
bots.join`` or an in-process :class:`bots.peer.Bot` (a 440 Hz tone and a moving pattern), the
recorder is ``python -m bots.record`` with a hidden join token, and its files are decoded
again with PyAV.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import av
import pytest

from bots.peer import Bot

pytestmark = [pytest.mark.timeout(180)]


def decoded(path: Path) -> dict[str, Any]:
    """Decode every frame of a recorded file: its kind, frames, and seconds of media."""
    with av.open(str(path)) as container:
        [stream] = container.streams
        frames, samples, first, last = 0, 0, None, 0.0
        for frame in container.decode(stream):
            frames += 1
            if stream.type == "audio":
                samples += frame.samples
            else:
                first = frame.time if first is None else first
                last = frame.time
        seconds = (samples / stream.rate if stream.type == "audio"
                   else last - (first or 0.0) + 1 / 30)
        return {"kind": stream.type, "codec": stream.codec_context.name, "frames": frames,
                "seconds": seconds}


def _manifest(out: Path) -> dict:
    return json.loads((out / "recording.json").read_text())


async def test_recorder_writes_each_track_until_the_meeting_ends(site, run_bot, tmp_path):
    """A join bot sends a tone and a pattern; the hidden recorder (started first) writes one
    Opus and one VP8 file of about the recorded time; ending the meeting stops both bots with
    exit code 0, every file is finalized and decodes, and the call is empty."""
    meeting = site.meeting("Recorded")
    out = tmp_path / "rec"
    recorder = await run_bot("bots.record", "--url", site.server.ws_base, "--out", str(out),
                             "--token", site.token(meeting, "rec", hidden=True, publish=()))
    await recorder.wait_lines("joined as peer")
    sender = await run_bot("bots.join", "--url", site.server.ws_base, "--name", "Tone bot",
                           "--token", site.token(meeting, "tone"))
    started = await recorder.wait_lines("recording ", count=2)
    t0 = time.monotonic()
    await asyncio.sleep(4)
    await asyncio.to_thread(site.end, meeting)
    window = time.monotonic() - t0

    assert await recorder.finish() == 0, recorder.stderr
    assert await sender.finish() == 0, sender.stderr
    assert recorder.lines[-1].startswith("stopped: meeting_ended; 2 files")
    summary = json.loads(sender.lines[-1])
    assert summary["reason"] == "meeting_ended" and summary["received"] == {}, summary
    manifest = _manifest(out)
    assert manifest["reason"] == "meeting_ended" and manifest["meeting"]["id"] == meeting
    tracks = {t["source"]: t for t in manifest["tracks"]}
    assert set(tracks) == {"mic", "webcam"}
    assert sorted(f"recording {t['file']}" for t in tracks.values()) == sorted(started)
    assert all(t["peer_id"] == summary["peerId"] and t["display_name"] == "Tone bot"
               and t["ended_at"] for t in tracks.values())
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [tracks["mic"]["file"], tracks["webcam"]["file"], "recording.json"])

    audio, video = decoded(out / tracks["mic"]["file"]), decoded(out / tracks["webcam"]["file"])
    assert (audio["kind"], audio["codec"]) == ("audio", "opus")
    assert (video["kind"], video["codec"]) == ("video", "vp8")
    assert window - 1.5 < audio["seconds"] < window + 2.5, (audio, window)
    assert window - 1.5 < video["seconds"] < window + 2.5, (video, window)
    assert video["frames"] >= 10 * video["seconds"], video  # 30 fps sent; a busy box drops
    assert tracks["webcam"]["frames"] >= video["frames"] - 2, (tracks["webcam"], video)
    stats = await site.stats()
    assert (stats["rooms"], stats["peers"], stats["consumers"]) == (0, 0, 0), stats


async def test_recorder_follows_senders_and_stops_cleanly_on_sigterm(site, run_bot, tmp_path):
    """Ada is sending when the recorder joins, unseen by her; her files close when she leaves
    while the recording goes on; Bob then joins and is recorded too; SIGTERM makes the recorder
    leave the call and close his files: exit 0, four files that decode, no recorder left."""
    meeting = site.meeting("Comings and goings")
    out = tmp_path / "rec"
    ada = Bot(site.server.ws_url(meeting, site.token(meeting, "ada")), name="Ada")
    bob = Bot(site.server.ws_url(meeting, site.token(meeting, "bob")), name="Bob")
    try:
        await ada.connect()
        await ada.join()
        await ada.publish()
        recorder = await run_bot("bots.record", "--url", site.server.ws_url(meeting, ""),
                                 "--out", str(out), "--log-level", "INFO", "--token",
                                 site.token(meeting, "rec", hidden=True, publish=()))
        await recorder.wait_lines("recording ", count=2)
        await asyncio.sleep(2)
        await ada.leave()
        await recorder.wait_lines("closed ", count=2)
        assert [t["ended_at"] != "" for t in _manifest(out)["tracks"]] == [True, True]

        await bob.connect()
        await bob.join()
        await bob.publish()
        await recorder.wait_lines("recording ", count=4)
        await asyncio.sleep(2)
        before = await site.stats()
        recorder.signal(signal.SIGTERM)
        assert await recorder.finish() == 0, recorder.stderr
        after = await site.stats()
    finally:
        await ada.close()
        await bob.close()

    assert not [e for e in ada.events + bob.events if e["type"] == "rtc:peerJoined"
                and e["data"]["displayName"] != "Bob"], "the hidden recorder was announced"
    assert (before["peers"], after["peers"]) == (2, 1), (before, after)
    assert (before["consumers"], after["consumers"]) == (2, 0), (before, after)
    assert recorder.lines[-1].startswith("stopped: stopped; 4 files")
    manifest = _manifest(out)
    assert manifest["reason"] == "stopped"
    assert [(t["display_name"], t["source"]) for t in manifest["tracks"]] == [
        ("Ada", "mic"), ("Ada", "webcam"), ("Bob", "mic"), ("Bob", "webcam")]
    for track in manifest["tracks"]:
        media = decoded(out / track["file"])
        assert media["kind"] == track["kind"] and media["frames"] > 0, (track, media)
        assert 1.0 < media["seconds"] < 8, (track, media)


@pytest.mark.parametrize("module", ["bots.record", "bots.join"])
async def test_a_forged_token_is_refused_with_exit_code_3(site, run_bot, tmp_path, module):
    """A join token signed with the wrong secret: the bot says why and exits with 3, having
    written nothing."""
    meeting = site.meeting("Closed door")
    forged = site.token(meeting, "mallory")
    forged = forged[:-4] + ("AAAA" if not forged.endswith("AAAA") else "BBBB")
    args = ["--url", site.server.ws_base, "--token", forged]
    bot = await run_bot(module, *args, *(["--out", str(tmp_path / "rec")]
                                         if module == "bots.record" else []))
    assert await bot.finish() == 3
    stderr = bot.stderr
    assert "refused with close code 4401 (token_bad_signature" in stderr, stderr
    assert "Traceback" not in stderr
    assert not (tmp_path / "rec").exists()


async def test_recorder_goes_on_in_new_files_after_the_worker_dies(site, run_bot, tmp_path):
    """SIGKILL the call's mediasoup worker while recording: the recorder closes the files it
    had, resumes its peer on the new worker as the sender does, records the sender again in
    new files, and stops with exit 0 when the meeting ends; all four files decode."""
    meeting = site.meeting("Worker crash")
    out = tmp_path / "rec"
    ada = Bot(site.server.ws_url(meeting, site.token(meeting, "ada")), name="Ada")
    try:
        await ada.connect()
        await ada.join()
        await ada.publish()
        recorder = await run_bot("bots.record", "--url", site.server.ws_base, "--out", str(out),
                                 "--log-level", "INFO", "--token",
                                 site.token(meeting, "rec", hidden=True, publish=()))
        await recorder.wait_lines("recording ", count=2)
        await asyncio.sleep(1.5)
        [pid] = [d["pid"] for d in (await site.stats())["workerDumps"] if d["routerIds"]]
        os.kill(pid, signal.SIGKILL)
        await recorder.wait_lines("closed ", count=2)
        await recorder.wait_lines("recording ", count=4)
        await asyncio.sleep(1.5)
        await asyncio.to_thread(site.end, meeting)
        assert await recorder.finish() == 0, recorder.stderr
    finally:
        await ada.close()

    assert ada.reconnects == 1
    assert recorder.lines[-1].startswith("stopped: meeting_ended; 4 files"), recorder.lines
    tracks = _manifest(out)["tracks"]
    assert [t["source"] for t in tracks] == ["mic", "webcam", "mic", "webcam"]
    assert tracks[0]["producer_id"] != tracks[2]["producer_id"], "the sender produced anew"
    for track in tracks:
        media = decoded(out / track["file"])
        assert media["kind"] == track["kind"] and media["frames"] > 0, (track, media)


async def test_join_bot_sends_receives_and_leaves_after_its_duration(site, run_bot):
    """``bots.join --duration 3`` in a call with Ada: each decodes the other's tone and
    pattern, and after three seconds the bot leaves (Ada is told) and exits 0 with the frames
    it decoded of Ada."""
    meeting = site.meeting("Load")
    ada = Bot(site.server.ws_url(meeting, site.token(meeting, "ada")), name="Ada")
    try:
        await ada.connect()
        await ada.join()
        await ada.publish()
        bot = await run_bot("bots.join", "--url", site.server.ws_base, "--name", "Load 1",
                            "--duration", "3", "--token", site.token(meeting, "load-1"))
        joined = await ada.signaling.wait_event("rtc:peerJoined", displayName="Load 1")
        await ada.wait_frames(joined["peerId"], audio=50, video=20)
        assert await bot.finish() == 0, bot.stderr
        left = await ada.signaling.wait_event("rtc:peerLeft", peerId=joined["peerId"])
    finally:
        await ada.close()
    summary = json.loads(bot.lines[-1])
    assert (summary["peerId"], summary["reason"], left["reason"]) == (
        joined["peerId"], "time_up", "left")
    assert set(summary["received"]) == {f"{ada.peer_id}/audio", f"{ada.peer_id}/video"}
    assert summary["received"][f"{ada.peer_id}/audio"] >= 50, summary  # 20 ms frames
    assert summary["received"][f"{ada.peer_id}/video"] >= 20, summary
