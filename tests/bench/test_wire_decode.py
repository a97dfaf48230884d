"""Smoke version of `bench.wire_decode`: the arms agree and the JSON has every figure."""

from __future__ import annotations

import json

from bench import wire_decode


def test_the_three_arms_decode_the_same_deltas():
    frames = wire_decode.sample_frames(50)
    assert wire_decode.hot_path(frames) == wire_decode.stdlib_path(frames) == wire_decode.full_validation(frames) > 0


def test_the_benchmark_prints_a_complete_json_result(capsys, tmp_path):
    out = tmp_path / "result.json"
    wire_decode.main(["--events", "200", "--repeats", "1", "--out", str(out)])
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out.read_text())
    assert set(printed["us_per_event"]) == {"hot_path_orjson", "stdlib_json", "full_validation"}
    assert all(value > 0 for value in printed["us_per_event"].values())
    assert printed["budget_us"] == 5.0
    assert printed["machine"]["cores"] >= 1
