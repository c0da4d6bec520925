"""bench/quality.py's row arithmetic on recorded samples (the run itself needs two Chromiums and
a shaped link for minutes: tests/web/test_call_quality.py drives the same parts in the suite)."""

from __future__ import annotations

from bench.quality import DOWNLINKS, UPLINKS, summarize_uplink, summarize_window


def sample(at: float, layer: int | None, *, video_bytes: int, frames: int, freezes: int,
           played: int, concealed: int, silent: int, lost: int) -> dict:
    return {
        "at": at, "layer": layer,
        "video": {"bytesReceived": video_bytes, "framesDecoded": frames, "frameHeight": 360,
                  "freezeCount": freezes, "totalFreezesDuration": freezes * 0.3},
        "audio": {"totalSamplesReceived": played, "concealedSamples": concealed,
                  "silentConcealedSamples": silent, "packetsLost": lost},
    }


def test_a_window_gives_rates_layers_freezes_and_concealment() -> None:
    """Ten seconds: 250 kbit/s of video, layer 1 most of the time, one freeze, 2 % of the audio
    made up (silence not counted), 4 packets lost."""
    first = sample(0.0, 2, video_bytes=0, frames=0, freezes=3, played=0, concealed=1000,
                   silent=500, lost=1)
    middle = sample(5.0, 1, video_bytes=150_000, frames=60, freezes=3, played=240_000,
                    concealed=5000, silent=2000, lost=3)
    last = sample(10.0, 1, video_bytes=312_500, frames=120, freezes=4, played=480_000,
                  concealed=11_600, silent=1500, lost=5)
    row = summarize_window([first, middle, last])
    assert row["video_kbps"] == 250
    assert (row["layer"], row["layer_min"], row["layer_max"]) == (1, 1, 2)
    assert row["fps"] == 12.0 and row["freezes"] == 1 and row["freeze_s"] == 0.3
    assert row["audio_concealed_pct"] == 2.0 and row["audio_lost"] == 4
    assert row["none_seconds"] == 0 and row["height"] == 360


def test_an_uplink_row_gives_each_layers_rate_and_the_limit() -> None:
    """Per-rid send rates over the window; the limit of the layers still active."""
    before = {"camera": [{"rid": "r0", "bytesSent": 0}, {"rid": "r1", "bytesSent": 0},
                         {"rid": "r2", "bytesSent": 0}], "send": None}
    after = {"camera": [
        {"rid": "r0", "bytesSent": 18_750, "active": True, "frameHeight": 180,
         "qualityLimitationReason": "bandwidth"},
        {"rid": "r1", "bytesSent": 0, "active": True, "qualityLimitationReason": "bandwidth"},
        {"rid": "r2", "bytesSent": 0, "active": False, "qualityLimitationReason": "none"}],
        "send": {"availableOutgoingBitrate": 345_000}}
    row = summarize_uplink(before, after, 1.0)
    assert row["rates"] == {"r0": 150, "r1": 0, "r2": 0}
    assert row["limit"] == "bandwidth" and row["estimate_kbps"] == 345
    assert row["heights"]["r0"] == 180


def test_the_profiles_include_the_issue_s_link() -> None:
    """400 kbit/s, 150 ms, 3 % loss is measured both ways, next to a clean link."""
    for table in (DOWNLINKS, UPLINKS):
        assert table["clean"].rate_kbps is None
        link = table["400 kbit/s, 150 ms, 3 %"]
        assert (link.rate_kbps, link.delay_ms, link.loss) == (400, 150, 0.03)
