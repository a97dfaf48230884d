"""`codeassist exec --compact-first` as a real subprocess against a real `codeassist serve`."""

from __future__ import annotations

import json

from server.scenario import Scenario
from tests.codeassist.test_exec import _json_lines, run_exec, workspace  # noqa: F401 (fixture)

FIRST_ANSWER = "The first answer, which compaction takes out of the window."

TALK = Scenario.model_validate(
    {
        "name": "compact-first",
        "turns": [
            {"output": [{"type": "message", "text": FIRST_ANSWER}]},
            {"output": [{"type": "message", "text": "The user asked a question and got an answer."}]},
            {"output": [{"type": "message", "text": "Later answer."}]},
        ],
        "off_script_text": "Off-script answer.",
    }
)


def test_exec_compact_first_compacts_the_continued_session_before_the_turn(start_server, workspace, tmp_path):  # noqa: F811
    server = start_server(TALK)
    base = ("--base-url", server.address.base_url, "--no-warmup")
    first = run_exec(workspace, tmp_path, "a question", *base, "--json")
    assert first.returncode == 0, first.stderr

    result = run_exec(workspace, tmp_path, "next question", "--continue", "--compact-first", *base, "--json")
    assert result.returncode == 0, result.stderr
    _, events = _json_lines(result.stdout)
    kinds = [event.type for event in events]
    assert kinds[:2] == ["compaction_started", "compacted"] and kinds[2] == "turn_started"
    compacted = events[1]
    assert compacted.mode == "manual" and compacted.items_before == 2 and compacted.window
    sent = server.state.received[-1].body
    assert FIRST_ANSWER not in json.dumps(sent["input"]), "the turn starts from the compacted window"
    assert "a question" in json.dumps(sent["input"]) and "next question" in json.dumps(sent["input"])

    text = run_exec(workspace, tmp_path, "third question", "--continue", "--compact-first", *base)
    assert text.returncode == 0, text.stderr
    assert "[compacted (manual): " in text.stderr and " items]" in text.stderr
