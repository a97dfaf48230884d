"""Smoke version of `bench.render`: a small answer at one rate through every arm, every delta painted."""

from __future__ import annotations

import json

import pytest

from bench import render
from bench.render_data import deltas, document, history_events, stream_prefix
from bench.render_stats import assess, first_frames, summarise

FIGURES = {
    "deltas",
    "painted_chars",
    "all_painted",
    "deltas_unpainted",
    "lag_p50_ms",
    "lag_p99_ms",
    "lag_from_send_p50_ms",
    "lag_from_send_p99_ms",
    "painted_rate",
    "frames_per_s",
    "max_frame_gap_ms",
    "cpu_us_per_delta",
    "cpu_percent",
    "rss_end_mb",
    "peak_rss_mb",
}


def test_every_arm_paints_every_delta_and_the_json_is_complete(capsys, tmp_path):
    out = tmp_path / "render.json"
    render.main(["--quick", "--out", str(out)])
    result = json.loads(capsys.readouterr().out)
    assert result == json.loads(out.read_text())
    assert result["benchmark"] == "render" and result["offered_rates"] == [2000.0]
    assert result["prior_turns"] == 3
    assert set(result["results"]) == {*render.ARMS, "codeassist@3", "log@3"}
    expected_deltas = len(deltas(document(render.QUICK_CHARS)))
    for arm, by_rate in result["results"].items():
        figures = by_rate["2000"]
        assert "errors" not in figures, (arm, figures)
        assert set(figures) >= FIGURES, (arm, FIGURES - set(figures))
        assert figures["deltas"] == figures["deltas_expected"] == expected_deltas, arm
        assert figures["painted_chars"] == figures["chars_expected"], arm  # nothing dropped
        assert figures["all_painted"] and figures["deltas_unpainted"] == 0, arm
        assert figures["text_matches"], arm
    for arm in ("codeassist", "codeassist@3"):
        typed = result["results"][arm]["2000"]
        assert {"keystroke_p50_ms", "keystroke_p99_ms", "keys_typed", "keys_unechoed"} <= set(typed)
        assert typed["keys_unechoed"] == 0
    prior = result["results"]["codeassist@3"]["2000"]
    assert (
        prior["rss_before_mb"] > 0
        and prior["dom_nodes_before"] > result["results"]["codeassist"]["2000"]["dom_nodes_before"]
    )
    assert set(result["targets"]) >= {"lag_p99_max_ms", "frames_per_s_min", "rss_after_prior_turns_max_mb"}
    assert "2000:lag_p99_vs_log" in result["met"] and "codeassist@3:rss_after_prior_turns" in result["met"]
    assert result["machine"]["cores"] >= 1


def test_the_answer_is_long_markdown_split_as_the_server_streams_it():
    text = document()
    pieces = deltas(text)
    assert 110_000 < len(text) < 120_000 and 19_000 < len(pieces) < 23_000
    assert "".join(pieces) == text
    assert text.count("```python") >= 20 and text.count("|---|") >= 20 and "\n- " in text and "\n1. " in text
    assert document() == text  # deterministic
    assert stream_prefix(text, 100) == "".join(pieces[:100])
    assert deltas(stream_prefix(text, 100)) == pieces[:100]


def test_two_hundred_turns_hold_about_a_megabyte_and_five_hundred_tool_cards():
    events = list(history_events(200))
    texts = sum(len(getattr(event, "text", "")) for event in events if event.type == "message_completed")
    outputs = sum(len(event.output) for event in events if event.type == "tool_finished")
    assert 0.8e6 < texts + outputs < 1.3e6
    assert sum(event.type == "tool_finished" for event in events) == 500
    assert sum(event.type == "turn_ended" for event in events) == 200


def test_a_delta_counts_as_painted_at_the_first_frame_that_holds_it():
    waits = first_frames([(1.0, 5), (2.0, 10), (2.5, 12), (4.0, 13)], [(0.5, 5), (1.5, 5), (2.2, 12), (3.0, 12)])
    assert waits[:3] == pytest.approx([0.5, 0.2, 0.5]) and waits[3] is None
    raw = {
        "arrivals": [1.0, 1.1],
        "cumulative": [3, 6],
        "frames": [(1.05, 3, 0), (1.2, 6, 1)],
        "keys": [(1.1, 1)],
        "end": 1.2,
        "last_paint": 1.2,
        "cpu_s": 0.02,
        "frame_bytes": 2048,
    }
    figures = summarise(raw, 10.0, 2, 6)
    assert figures["all_painted"] and figures["deltas_unpainted"] == 0
    assert figures["lag_p50_ms"] == 50.0 and figures["lag_p99_ms"] == 100.0
    assert figures["frames"] == 2 and figures["max_frame_gap_ms"] == 150.0
    assert figures["keystroke_p99_ms"] == 100.0


def test_targets_compare_the_app_with_the_log_floor_and_with_itself_after_prior_turns():
    def arm(lag: float, fps: float, keys: float | None = None, rss: float | None = None) -> dict:
        figures = {"painted_rate": 990.0, "lag_p99_ms": lag, "frames_per_s": fps, "max_frame_gap_ms": 100.0}
        if keys is not None:
            figures["keystroke_p99_ms"] = keys
        if rss is not None:
            figures["rss_before_mb"] = rss
        return {"1000": figures}

    met = assess(
        {
            "codeassist": arm(120.0, 40.0, keys=30.0),
            "log": arm(100.0, 50.0),
            "codeassist@200": arm(170.0, 35.0, keys=30.0, rss=150.0),
        }
    )
    assert met["1000:painted_rate"] and met["1000:frames_per_s"] and met["1000:keystroke_p99"]
    assert met["1000:lag_p99_vs_log"] and met["1000:lag_p99_under_max"]
    assert met["codeassist@200:1000:lag_p99_ms_flat"] is False  # 170 / 120 > 1.3
    assert met["codeassist@200:1000:frames_per_s_flat"] and met["codeassist@200:rss_after_prior_turns"]
    assert "full_speed:max_frame_gap" not in met  # not measured in this run
