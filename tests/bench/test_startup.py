"""Smoke version of `bench.startup`: one launch of the real app to its first frame, JSON complete."""

from __future__ import annotations

import json

from bench import startup


def test_one_launch_reaches_the_first_frame_and_the_json_is_complete(capsys, tmp_path):
    out = tmp_path / "result.json"
    startup.main(["--runs", "1", "--warmup", "0", "--arms", "python,textual_floor,cli_live", "--out", str(out)])
    result = json.loads(capsys.readouterr().out)
    assert result == json.loads(out.read_text())
    assert result["benchmark"] == "startup" and result["runs"] == 1
    assert set(result["arms"]) == {"python", "textual_floor", "cli_live"}
    live = result["arms"]["cli_live"]
    assert set(live) == {"interpreter_ms", "imports_done_ms", "first_frame_ms", "exit_ms"}
    for mark in live.values():
        assert 0 < mark["min"] <= mark["median"] <= mark["max"]
    assert live["interpreter_ms"]["median"] < live["imports_done_ms"]["median"] < live["first_frame_ms"]["median"]
    floor = result["arms"]["textual_floor"]["first_frame_ms"]["median"]
    assert result["first_frame_ms_median"] == {"textual_floor": floor, "cli_live": live["first_frame_ms"]["median"]}
    assert result["goal_ratio"] == 1.5 and "textual_floor" in result["goal"]
    assert result["ratio_to_floor"] == {"cli_live": round(live["first_frame_ms"]["median"] / floor, 2)}
    assert result["within_goal"] == {"cli_live": result["ratio_to_floor"]["cli_live"] <= 1.5}
    imports = result["imports"]
    assert imports["tui_app_cumulative_ms"] > 0
    assert len(imports["cumulative_top"]) == len(imports["self_top"]) == 10
    assert {"module", "depth", "self_ms", "cumulative_ms"} <= set(imports["cumulative_top"][0])
    assert imports["heavy_modules_loaded"] == []
    assert result["machine"]["cores"] >= 1


def test_every_arm_is_a_program_that_reports_its_marks():
    for arm, code in startup.ARMS.items():
        compile(code, arm, "exec")
        assert "code_start" in code
