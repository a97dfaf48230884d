"""Smoke version of `bench.long_session`: a few turns in every arm, the JSON complete."""

from __future__ import annotations

import json

from bench import long_session


def test_a_short_session_is_measured_in_every_arm_and_the_json_is_complete(capsys, tmp_path):
    out = tmp_path / "result.json"
    long_session.main(
        [
            "--turns",
            "6",
            "--reconnect-every",
            "3",
            "--output-bytes",
            "800",
            "--context-window",
            "5000",
            "--out",
            str(out),
        ]
    )
    result = json.loads(capsys.readouterr().out)
    assert result == json.loads(out.read_text())
    assert result["benchmark"] == "long_session" and result["turns"] == 6
    assert set(result["arms"]) == {"websocket/baseline", "websocket/compaction", "http/baseline", "http/compaction"}
    supported = all(long_session.compaction_supported().values())
    for name, arm in result["arms"].items():
        if "skipped" in arm:
            assert not supported and name.endswith("/compaction")
            continue
        assert arm["endings"] == {"completed": 6}
        assert arm["requests"] >= 12 and len(arm["series"]["turn_ms"]) == 6
        assert arm["bytes_sent"]["total"] == sum(arm["series"]["bytes_sent_per_turn"]) > 0
        assert arm["full_resends"]["count"] >= 1
        if name.endswith("/compaction"):
            assert arm["compactions"] >= 1 and arm["max_input_tokens"] <= 5000
    websocket, http = result["arms"]["websocket/baseline"], result["arms"]["http/baseline"]
    assert websocket["bytes_sent"]["total"] < http["bytes_sent"]["total"], "incremental requests send less"


def test_the_scenario_fits_either_place_in_a_turn():
    scenario = long_session.long_scenario(2, context_window=1000)
    assert scenario["context_window"] == 1000 and len(scenario["turns"]) == 4
    kinds = [{entry["expect"][0]["type"], entry["alternatives"][0]["expect"][0]["type"]} for entry in scenario["turns"]]
    assert kinds == [{"message", "function_call_output"}] * 4
    calls = [
        item["call_id"]
        for entry in scenario["turns"]
        for turn in (entry, *entry["alternatives"])
        for item in turn["output"]
        if item["type"] == "function_call"
    ]
    assert len(calls) == len(set(calls))
