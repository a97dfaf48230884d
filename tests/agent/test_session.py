"""The session facade: everything a UI may do, against a real server and a real git repository."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from agent.events import ApprovalRequested, ToolCallReady, ToolFinished, TurnEnded, TurnStarted
from agent.git import git_listed_files
from agent.replay import SessionReplay, whole_runs
from agent.session import Decision, Policy, Session
from server.scenario import Scenario
from tests.agent.conftest import make_repo, settings_for
from tests.agent.recording import PROMPTS, TASK, record_task, requests, run_turn

HELLO = Scenario.model_validate(
    {"name": "hello", "turns": [{"output": [{"type": "message", "text": "Hi."}]} for _ in range(3)]}
)


def opened(server, repo: Path, tmp_path: Path, **options) -> Session:
    return Session.open(settings_for(server), cwd=repo, log_root=tmp_path / "sessions", **options)


async def test_a_turn_asks_and_is_answered_by_call_id(start_server, repo, tmp_path):
    server = start_server(TASK)
    session = opened(server, repo, tmp_path)
    asked = []
    async for event in session.run_turn(PROMPTS[0]):
        if isinstance(event, ApprovalRequested):
            asked.append(event.request.call_id)
            assert session.answer_approval(event.request.call_id, Decision(kind="approve_once"))
            assert not session.answer_approval(event.request.call_id, Decision(kind="deny"))
    assert asked == ["c_shell", "c_write"]
    assert (repo / "notes.txt").exists()
    await session.close()


async def test_a_connection_that_fails_to_close_still_lets_the_log_close(start_server, repo, tmp_path, monkeypatch):
    session = opened(server := start_server(HELLO), repo, tmp_path)
    await run_turn(session, "hi")

    async def failing_close() -> None:
        raise OSError("the socket was already gone")

    monkeypatch.setattr(session.agent.client, "close", failing_close)
    with pytest.raises(OSError, match="already gone"):
        await session.close()
    assert session.log_path is not None
    resumed = opened(server, repo, tmp_path, resume=session.log_path)  # the log was closed and unlocked
    await resumed.close()


async def test_model_and_policy_change_for_the_next_request(start_server, repo, tmp_path):
    server = start_server(HELLO)
    session = opened(server, repo, tmp_path)
    assert session.model == "scripted-test" and session.policy is Policy.ASK
    session.set_model("other-model")
    session.set_policy("read-only")
    assert session.model == "other-model" and session.policy is Policy.READ_ONLY
    assert session.settings.model == "other-model" and session.settings.approval == "read-only"
    with pytest.raises(ValueError):
        session.set_policy("sometimes")
    await run_turn(session, "hi")
    assert requests(server)[-1]["model"] == "other-model"
    await session.close()


async def test_stats_describe_the_connection_and_the_turns(start_server, repo, tmp_path):
    server = start_server(HELLO)
    session = opened(server, repo, tmp_path)
    assert session.stats().turns == 0 and session.stats().transport == "websocket"
    await run_turn(session, "hi")
    stats = session.stats()
    assert stats.turns == 1 and stats.connections == 1 and stats.bytes_sent > 0 and stats.output_tokens > 0
    assert [turn.turn for turn in session.turns] == [1]
    await session.close()


async def test_workspace_files_and_mentions(start_server, repo, tmp_path):
    server = start_server(HELLO)
    session = opened(server, repo / "pkg", tmp_path)  # started in a subdirectory: the repository is the workspace
    assert session.workspace == repo.resolve()
    assert set(session.workspace_files()) == {"a.py", "pkg/b.py", "AGENTS.md"}
    prepared = session.prepare_prompt("look at @a.py and @missing.py, not @../outside")
    expanded = prepared.text
    assert expanded.startswith("look at @a.py and @missing.py, not @../outside")
    assert "[Attached @a.py]\n```\nprint('hello')\n\n```" in expanded
    assert "[Attached @missing.py]" not in expanded and "[Attached @../outside]" not in expanded
    assert prepared.images == {} and prepared.notices == []
    await session.close()


async def test_workspace_files_add_untracked_not_ignored_ones_and_skip_hostile_names(start_server, repo, tmp_path):
    server = start_server(HELLO)
    (repo / ".gitignore").write_text("build/\n*.log\n")
    (repo / "new.py").write_text("")
    (repo / "docs").mkdir()
    (repo / "docs" / "guide.md").write_text("")
    (repo / "build").mkdir()
    (repo / "build" / "out.py").write_text("")
    (repo / "debug.log").write_text("")
    (repo / "line\nbreak.py").write_text("")
    (repo / "title\x1b]0;pwned\x07.py").write_text("")
    (repo / "with space.py").write_text("")
    marker = tmp_path / "fsmonitor-ran"
    hook = repo / "monitor.sh"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    subprocess.run(["git", "config", "core.fsmonitor", str(hook)], cwd=repo, check=True)
    session = opened(server, repo, tmp_path)
    marker.unlink(missing_ok=True)
    files = session.workspace_files()
    assert set(files) == {"a.py", "pkg/b.py", "AGENTS.md", ".gitignore", "new.py", "docs/guide.md", "monitor.sh"}
    assert not marker.exists(), "listing files never runs the repository's fsmonitor hook"
    await session.close()


def test_git_listing_stops_at_its_bound(tmp_path):
    repo = make_repo(tmp_path / "many", {f"f{n:03}.py": "" for n in range(50)})
    for n in range(50):
        (repo / f"u{n:03}.py").write_text("")
    listed = git_listed_files(repo, 30)
    assert listed is not None and len(listed) == 30 and len(set(listed)) == 30
    assert len(git_listed_files(repo, 1000) or []) == 100
    assert git_listed_files(tmp_path, 10) is None, "not a repository"


async def test_workspace_files_outside_git(start_server, tmp_path):
    server = start_server(HELLO)
    plain = tmp_path / "plain"
    (plain / "sub").mkdir(parents=True)
    (plain / "sub" / "x.txt").write_text("x")
    (plain / ".git-not").write_text("")
    session = opened(server, plain, tmp_path)
    assert session.workspace_files() == [".git-not", "sub/x.txt"]
    await session.close()


async def test_history_draws_a_resumed_session_as_its_instant_replay(start_server, repo, tmp_path):
    server = start_server(TASK)
    path, _ = await record_task(server, repo, tmp_path / "sessions", prompts=PROMPTS[:1])
    replayed = [event async for event in SessionReplay(path, instant=True).events()]
    session = opened(server, repo, tmp_path, resume=path)
    history = session.history()
    assert history == whole_runs(replayed), "the instant replay, each streamed run drawn at once"
    assert history[0].type == "git_baseline", "the repository as the session found it"
    assert isinstance(history[1], TurnStarted) and isinstance(history[-1], TurnEnded)
    assert {e.call_id: e.status for e in history if isinstance(e, ToolFinished)} == {
        "c_list": "ok",
        "c_shell": "ok",
        "c_write": "ok",
    }
    assert session.id == path.stem and session.log_path == path
    await session.close()
    fresh = opened(server, repo, tmp_path)
    assert fresh.history() == []
    await fresh.close()


async def test_export_flush_and_saved_sessions(start_server, repo, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    server = start_server(HELLO)
    root = tmp_path / "data" / "codeassist" / "sessions"
    session = Session.open(settings_for(server), cwd=repo)
    await run_turn(session, "hi")
    assert session.flush() == session.log_path and session.log_path is not None
    assert session.log_path.is_relative_to(root)
    written = session.export("json", tmp_path / "out.json")
    assert json.loads(written.read_text())["turns"][0]["prompt"] == "hi"
    assert [summary.id for summary in Session.saved_sessions()] == [session.id]
    assert Session.find_saved(session.id[:15]) == session.log_path
    assert Session.latest_saved(repo) == session.log_path
    await session.close()

    unrecorded = Session.open(settings_for(server), cwd=repo, record=False)
    assert unrecorded.flush() is None and unrecorded.log_path is None
    with pytest.raises(ValueError, match="not being recorded"):
        unrecorded.export()
    await unrecorded.close()


def test_calls_are_described_without_a_live_session():
    description = Session.describe_call("shell", json.dumps({"command": "make && make test"}))
    assert description.summary == "make && make test" and description.segments == ("make", "make test")


def test_the_repository_of_a_path(repo, tmp_path):
    info = Session.repository(repo / "pkg")
    assert info is not None and info.root == repo.resolve() and info.branch == "main" and not info.dirty
    assert Session.repository(tmp_path / "elsewhere") is None


async def test_cards_are_described_from_the_events_alone(start_server, repo, tmp_path):
    """Replay has no session: the events carry what `describe_call` needs (name and arguments)."""
    server = start_server(TASK)
    _, live = await record_task(server, repo, tmp_path / "sessions", prompts=PROMPTS[:1])
    calls = [e for e in live if isinstance(e, ToolCallReady) and e.final]
    assert [Session.describe_call(e.name, e.arguments).summary for e in calls] == [
        "",
        "echo ran >> shell.log",
        "notes.txt",
    ]


EDITS = Scenario.model_validate(
    {
        "name": "edits",
        "turns": [
            {
                "output": [
                    {
                        "type": "function_call",
                        "call_id": f"e{n}",
                        "name": "write_file",
                        "arguments": {"path": f"n{n}.txt", "content": "x\n"},
                    }
                ]
            }
            if n % 2 == 0
            else {"output": [{"type": "message", "text": "ok"}]}
            for n in range(6)
        ],
    }
)


async def test_approve_always_rules_survive_continue_and_so_do_revocations(start_server, repo, tmp_path):
    server = start_server(EDITS)
    session = opened(server, repo, tmp_path)
    async for event in session.run_turn("write one"):
        if isinstance(event, ApprovalRequested):
            session.answer_approval(event.request.call_id, Decision(kind="approve_always"))
    path = session.log_path
    await session.close()
    assert path is not None

    resumed = opened(server, repo, tmp_path, resume=path)
    assert resumed.agent.approvals.rules == {"write_file"}
    asked = [e async for e in resumed.run_turn("write another") if isinstance(e, ApprovalRequested)]
    assert asked == []  # the restored rule approved it
    (rule,) = [r for r in resumed.permission_rules() if r.source == "session"]
    assert resumed.revoke_rule(rule)
    await resumed.close()

    again = opened(server, repo, tmp_path, resume=path)
    assert again.agent.approvals.rules == set()
    await again.close()
