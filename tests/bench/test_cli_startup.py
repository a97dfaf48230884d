"""Smoke version of `bench.cli_startup`: one launch per arm, JSON complete, nothing heavy loaded."""

from __future__ import annotations

import json

from bench import cli_startup


def test_one_launch_per_arm_and_the_json_is_complete(capsys, tmp_path):
    out = tmp_path / "result.json"
    cli_startup.main(["--runs", "1", "--out", str(out)])
    result = json.loads(capsys.readouterr().out)
    assert result == json.loads(out.read_text())
    assert result["benchmark"] == "cli_startup" and result["runs"] == 1
    assert set(result["arms"]) == {"python", "version", "help", "exec_help"}
    for arm in result["arms"].values():
        assert 0 < arm["min"] <= arm["median"] <= arm["max"]
    assert result["heavy_imports"] == {"version": [], "help": []}
    assert result["goal_ms"] == 150.0 and isinstance(result["within_goal"], bool)
    assert result["machine"]["cores"] >= 1
