"""`codeassist exec` in a real temporary git repository: the checkpoint events it prints."""

from __future__ import annotations

import json
import subprocess

from agent.events import AGENT_EVENT_ADAPTER
from server.scenario import Scenario
from tests.agent.conftest import make_repo
from tests.agent.test_checkpoints import identified
from tests.codeassist.test_exec import run_exec

WRITE = Scenario.model_validate(
    {
        "name": "write",
        "turns": [
            {
                "output": [
                    {
                        "type": "function_call",
                        "call_id": "w",
                        "name": "write_file",
                        "arguments": {"path": "notes.txt", "content": "one\ntwo\n"},
                    }
                ]
            },
            {
                "expect": [{"type": "function_call_output", "call_id": "w"}],
                "output": [{"type": "message", "text": "Wrote notes.txt."}],
            },
        ],
    }
)


def test_exec_json_prints_the_baseline_the_checkpoint_and_the_turns_changes(start_server, tmp_path):
    work = make_repo(tmp_path / "work", {"a.py": "print('hello')\n"})
    (work / "a.py").write_text("dirty\n")
    server = start_server(WRITE)
    result = run_exec(
        work, tmp_path, "write notes", "--json", "--base-url", server.address.base_url, "--approval", "auto-edit"
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    types = [line["type"] for line in lines]
    assert types[:2] == ["session_started", "git_baseline"]
    assert lines[1]["available"] and lines[1]["dirty"] == ["a.py"] and lines[1]["branch"] == "main"
    assert types.index("checkpoint_created") < types.index("tool_finished")
    assert types[-3:] == ["turn_changes", "turn_ended", "cost"]
    changes = AGENT_EVENT_ADAPTER.validate_python(lines[types.index("turn_changes")])
    assert [(f.path, f.status, f.added) for f in changes.files] == [("notes.txt", "added", 2)]
    ref = f"refs/codeassist/{lines[0]['session_id']}/1-before"
    listed = subprocess.run(
        ["git", "for-each-ref", "--format=%(refname)", ref], cwd=work, capture_output=True, text=True
    )
    assert listed.stdout.strip() == ref


def test_exec_text_says_what_the_turn_changed_and_auto_commit_commits_it(start_server, tmp_path):
    work = identified(make_repo(tmp_path / "work", {"a.py": "print('hello')\n"}))
    server = start_server(WRITE)
    result = run_exec(
        work,
        tmp_path,
        "write notes",
        "--base-url",
        server.address.base_url,
        "--approval",
        "auto-edit",
        CODEASSIST_AUTO_COMMIT="true",
    )
    assert result.returncode == 0, result.stderr
    assert "checkpoint before turn 1:" in result.stderr
    assert "[1 file changed +2 −0: notes.txt]" in result.stderr
    assert "[committed " in result.stderr and "on main: write notes]" in result.stderr
    log = subprocess.run(["git", "log", "-1", "--format=%B"], cwd=work, capture_output=True, text=True).stdout
    assert log.startswith("write notes") and log.rstrip().endswith("Assisted-by: codeassist")


def test_exec_outside_git_says_once_that_there_are_no_checkpoints(start_server, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    server = start_server(WRITE)
    result = run_exec(plain, tmp_path, "write notes", "--base-url", server.address.base_url, "--approval", "auto-edit")
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("not a git repository") == 1
    assert "checkpoint before" not in result.stderr and (plain / "notes.txt").exists()
