"""Smoke version of `bench.sessions`: tiny sessions, every arm and operation measured, JSON complete."""

from __future__ import annotations

import json

from agent.replay import history_events
from agent.resume import session_turns
from bench import sessions


def test_small_sessions_are_measured_in_every_arm_and_the_json_is_complete(capsys, tmp_path):
    out = tmp_path / "result.json"
    sessions.main(
        ["--turns", "1,2", "--app-turns", "1", "--app-ops", "app_replay_instant", "--app-runs", "1", "--out", str(out)]
    )
    result = json.loads(capsys.readouterr().out)
    assert result == json.loads(out.read_text())
    assert result["benchmark"] == "sessions" and result["turns"] == [1, 2]
    assert set(result["arms"]) == {"v2", "v1"}
    for arm in result["arms"].values():
        for turns in ("1", "2"):
            for operation in sessions.OPERATIONS:
                figures = arm[turns][operation]
                assert figures["seconds"] >= 0 and figures["peak_rss_mb"] > 0 and figures["count"] > 0
        assert arm["list"]["count"] > 0 and arm["list"]["mb_of_logs"] >= 100
    assert result["file_mb"]["v2"]["2"] > result["file_mb"]["v2"]["1"] > 0
    assert isinstance(result["within_goals"], bool) and result["goals"]["open_s"] == 3.0
    assert result["app_turns"] == [1] and result["app_runs"] == 1
    replayed = result["arms"]["v2"]["1"]["app_replay_instant"]
    assert 0 < replayed["seconds"] < replayed["from_launch_s"] and replayed["peak_rss_mb"] > 0
    assert replayed["widgets"] > 0 and replayed["from_launch_s_runs"] == [replayed["from_launch_s"]]
    assert "app_replay_instant" not in result["arms"]["v2"]["2"] and "app_resume" not in result["arms"]["v1"]["1"]
    assert set(result["goals_met"]) == {"readers_resume", "readers_replay_instant", "list", "app_replay_instant"}


def test_both_formats_of_a_generated_session_hold_the_same_turns(tmp_path):
    v2 = sessions.write_v2(tmp_path / "v2", 2)
    v1 = sessions.write_v1(tmp_path / "v1", 2)
    new, old = session_turns(v2), session_turns(v1)
    assert [turn.prompt for turn in new] == [turn.prompt for turn in old]
    assert [[item.model_dump(mode="json") for item in turn.items] for turn in new] == [
        [item.model_dump(mode="json") for item in turn.items] for turn in old
    ]
    assert [(call.call_id, call.status) for turn in new for call in turn.tool_calls] == [
        (call.call_id, call.status) for turn in old for call in turn.tool_calls
    ]
    assert len(history_events(v2)) > 0


def test_the_app_resumes_a_copy_and_draws_the_whole_transcript(tmp_path):
    path = sessions.write_v2(tmp_path / "v2", 1)
    before = path.read_bytes()
    figures = sessions.measure_app("app_resume", path, tmp_path / "app")
    assert "error" not in figures, figures
    assert 0 < figures["seconds"] < figures["from_launch_s"] and figures["peak_rss_mb"] > 0
    assert figures["widgets"] > 0
    assert path.read_bytes() == before  # the resume appended to a copy, which is gone
    assert not (tmp_path / "app" / "resumed" / path.name).exists()


def test_a_generated_turn_is_as_large_as_a_long_real_session_has():
    ((_, _, steps),) = list(sessions.session_script(1))
    outputs = [result for step in steps for _, _, result, _ in step["calls"]]
    assert sum(map(len, outputs)) > 150_000
