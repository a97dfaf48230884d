"""Per-turn checkpoints through the session facade: a real `codeassist serve` at the model
boundary, real temporary git repositories, the real tools (write_file, shell)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from agent.events import (
    ApprovalRequested,
    ChangesRedone,
    ChangesUndone,
    CheckpointCreated,
    Committed,
    GitBaseline,
    ResponseStarted,
    ToolFinished,
    TurnChanges,
    TurnEnded,
)
from agent.session import CheckpointConflict, CheckpointUnavailable, Decision, Session
from agent.session_record import EventEntry, read_session
from server.scenario import Scenario
from tests.agent.conftest import make_repo, settings_for
from tests.agent.recording import call, requests, run_turn

SHELL = "printf 'changed\\n' > a.py && rm pkg/b.py && chmod +x run.sh && mkdir -p made && echo x > made/deep.txt"


def message(text: str) -> dict[str, Any]:
    return {"type": "message", "text": text}


def edit_turn(*after: dict[str, Any]) -> list[dict[str, Any]]:
    """One user turn: write a file and run a shell command that edits, deletes and chmods."""
    return [
        {
            "output": [
                call("write_file", "c_write", path="new.txt", content="new\n"),
                call("shell", "c_shell", command=SHELL),
            ]
        },
        {"expect": [{"type": "function_call_output", "call_id": "c_shell"}], "output": [message("Done.")]},
        *after,
    ]


def scenario(*turns: dict[str, Any]) -> Scenario:
    return Scenario.model_validate({"name": "checkpoints", "turns": list(turns)})


@pytest.fixture(autouse=True)
def private_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


def identified(repo: Path) -> Path:
    """`repo` with a committer identity of its own (`/commit` commits as the user)."""
    git(repo, "config", "user.name", "Test User")
    git(repo, "config", "user.email", "test@example.invalid")
    return repo


@pytest.fixture
def work(tmp_path: Path) -> Path:
    return identified(
        make_repo(
            tmp_path / "work",
            {"a.py": "print('hello')\n", "pkg/b.py": "X = 1\n", "run.sh": "echo run\n", "README.md": "Docs.\n"},
        )
    )


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True, env={**os.environ, **(env or {})}
    ).stdout


def tree_of(repo: Path, tmp_path: Path) -> str:
    """The worktree's content as a tree id (modes included), through a throwaway index."""
    index = {"GIT_INDEX_FILE": str(tmp_path / "compare.index")}
    git(repo, "read-tree", "--empty", env=index)
    git(repo, "add", "-A", env=index)
    return git(repo, "write-tree", env=index).strip()


def opened(server, repo: Path, tmp_path: Path, **options: Any) -> Session:
    settings = settings_for(server, sandbox="off", **options.pop("settings", {}))
    return Session.open(settings, cwd=repo, log_root=tmp_path / "sessions", **options)


def recorded_types(session: Session) -> list[str]:
    assert session.log_path is not None
    session.flush()
    return [entry.event.type for entry in read_session(session.log_path).entries if isinstance(entry, EventEntry)]


async def test_a_turn_of_write_file_and_shell_is_undone_and_redone_exactly(start_server, work, tmp_path):
    server = start_server(scenario(*edit_turn()))
    session = opened(server, work, tmp_path)
    start = tree_of(work, tmp_path)
    events = await run_turn(session, "edit things")
    types = [event.type for event in events]
    assert types.index("checkpoint_created") < types.index("tool_finished"), "the checkpoint comes before the call runs"
    assert types[-2:] == ["turn_changes", "turn_ended"]
    assert types.count("checkpoint_created") == 1, "one checkpoint a turn"
    changes = next(event for event in events if isinstance(event, TurnChanges))
    assert {(f.path, f.status) for f in changes.files} == {
        ("new.txt", "added"),
        ("a.py", "modified"),
        ("pkg/b.py", "deleted"),
        ("run.sh", "mode"),
        ("made/deep.txt", "added"),
    }
    assert all(f.status == "ok" for f in events if isinstance(f, ToolFinished))
    changed = tree_of(work, tmp_path)
    assert changed != start

    plan = session.plan_undo()
    assert plan is not None and plan.turn == 1 and not plan.conflicts
    undone = await session.undo()
    assert isinstance(undone, ChangesUndone) and undone.turn == 1
    assert tree_of(work, tmp_path) == start, "byte for byte and mode for mode as before the turn"
    assert not (work / "new.txt").exists() and not (work / "made").exists(), "created files and their directories go"
    assert (work / "pkg/b.py").read_text() == "X = 1\n" and not os.access(work / "run.sh", os.X_OK)
    assert session.plan_undo() is None
    with pytest.raises(CheckpointUnavailable, match="Nothing to undo"):
        await session.undo()

    redone = await session.redo()
    assert isinstance(redone, ChangesRedone) and redone.turn == 1
    assert tree_of(work, tmp_path) == changed and os.access(work / "run.sh", os.X_OK)
    assert git(work, "status", "--porcelain", "--", "new.txt").startswith("??"), "the user's index is untouched"
    assert git(work, "log", "--format=%s") == "init\n", "no branch moved"
    types = recorded_types(session)
    assert types.count("git_baseline") == 1 and "changes_undone" in types and "changes_redone" in types
    await session.close()


async def test_undo_goes_back_turn_by_turn_and_the_model_hears_of_it(start_server, work, tmp_path):
    second = {
        "output": [call("shell", "c_second", command="printf 'second\\n' > a.py")],
    }
    server = start_server(
        scenario(
            *edit_turn(),
            second,
            {"expect": [{"type": "function_call_output", "call_id": "c_second"}], "output": [message("Again.")]},
            {"output": [message("Noted.")]},
        )
    )
    session = opened(server, work, tmp_path)
    start = tree_of(work, tmp_path)
    await run_turn(session, "edit things")
    after_first = tree_of(work, tmp_path)
    await run_turn(session, "edit a.py again")
    assert (work / "a.py").read_text() == "second\n"
    assert (await session.undo()).turn == 2
    assert tree_of(work, tmp_path) == after_first
    assert (await session.undo()).turn == 1
    assert tree_of(work, tmp_path) == start
    await run_turn(session, "what now?")
    sent = requests(server)[-1]["input"]
    notes = [item for item in sent if item.get("role") == "developer"]
    assert len(notes) == 1, sent
    text = notes[0]["content"][0]["text"]
    assert "undid the changes of turn 2" in text and "undid the changes of turn 1" in text and "a.py" in text
    assert sent.index(notes[0]) < len(sent) - 1, "the note comes before the prompt"
    await session.close()


async def test_a_file_edited_by_hand_since_is_a_conflict_to_confirm(start_server, work, tmp_path):
    server = start_server(scenario(*edit_turn()))
    session = opened(server, work, tmp_path)
    await run_turn(session, "edit things")
    (work / "new.txt").write_text("mine\n")
    plan = session.plan_undo()
    assert plan is not None and plan.conflicts == ["new.txt"]
    with pytest.raises(CheckpointConflict) as raised:
        await session.undo()
    assert raised.value.conflicts == ["new.txt"] and (work / "new.txt").read_text() == "mine\n"
    undone = await session.undo(overwrite=True)
    assert undone.overwritten == ["new.txt"] and not (work / "new.txt").exists()
    await session.close()


async def test_resume_keeps_the_checkpoints_usable(start_server, work, tmp_path):
    server = start_server(scenario(*edit_turn(), {"output": [message("Back.")]}))
    session = opened(server, work, tmp_path)
    start = tree_of(work, tmp_path)
    await run_turn(session, "edit things")
    path = session.log_path
    await session.close()

    resumed = opened(server, work, tmp_path, resume=path)
    assert resumed.checkpoints_available and resumed.turn_had_checkpoint(1)
    assert resumed.start_notices() == [] or all("uncommitted" not in n for n in resumed.start_notices())
    diff = await resumed.diff(1)
    assert "new.txt" in diff.patch and {f.path for f in diff.files} >= {"new.txt", "a.py"}
    await resumed.undo()
    assert tree_of(work, tmp_path) == start
    events = await run_turn(resumed, "and now?")
    assert isinstance(events[-1], TurnEnded)
    sent = requests(server)[-1]["input"]
    assert any("undid the changes of turn 1" in str(item) for item in sent)
    assert recorded_types(resumed).count("git_baseline") == 1, "the baseline is not recorded again"
    await resumed.close()


async def test_commit_holds_the_sessions_changes_and_leaves_files_dirty_before_out(start_server, work, tmp_path):
    (work / "pkg/b.py").write_text("X = 2  # mine\n")
    draft_turn = {  # the side request holds no model output: the server plays it as a first turn
        "expect": [{"type": "message", "role": "user", "contains": "Write the commit message"}],
        "output": [message("Add new.txt and change a.py\n\nThe shell edited a.py.")],
    }
    write = {
        **draft_turn,
        "alternatives": [{"output": [call("write_file", "c_write", path="new.txt", content="new\n")]}],
    }
    done = {"expect": [{"type": "function_call_output", "call_id": "c_write"}], "output": [message("Done.")]}
    edit = {"output": [call("shell", "c_a", command="printf 'changed\\n' > a.py")]}
    edit_done = {"expect": [{"type": "function_call_output", "call_id": "c_a"}], "output": [message("Edited.")]}
    touch_b = {"output": [call("shell", "c_b", command="echo 'X = 3' > pkg/b.py")]}
    b_done = {"expect": [{"type": "function_call_output", "call_id": "c_b"}], "output": [message("B.")]}
    server = start_server(scenario(write, done, edit, edit_done, touch_b, b_done, {"output": [message("Ok.")]}))
    session = opened(server, work, tmp_path)
    notices = session.start_notices()
    assert any("uncommitted changes (1 file): pkg/b.py" in notice for notice in notices), notices
    assert session.start_notices() == [] or not any("uncommitted" in n for n in session.start_notices())
    await run_turn(session, "write new.txt")
    await run_turn(session, "edit a.py")
    await run_turn(session, "touch b")

    draft = await session.draft_commit()
    assert draft.drafted_by == "model" and draft.message.startswith("Add new.txt and change a.py")
    assert draft.message.rstrip().endswith("Assisted-by: codeassist")
    assert draft.files == ["a.py", "new.txt"] and draft.left_out == ["pkg/b.py"]
    draft_request = requests(server)[-1]
    assert (
        draft_request["store"] is False and "tools" not in draft_request and "previous_response_id" not in draft_request
    )

    committed = await session.commit(draft.message, draft.files)
    assert isinstance(committed, Committed) and committed.branch == "main" and not committed.auto
    assert git(work, "show", "--name-only", "--format=", "HEAD").split() == ["a.py", "new.txt"]
    assert git(work, "show", "HEAD:a.py") == "changed\n" and git(work, "show", "HEAD:new.txt") == "new\n"
    assert git(work, "status", "--porcelain") == " M pkg/b.py\n", "what was dirty before stays uncommitted"
    assert "Assisted-by: codeassist" in git(work, "log", "-1", "--format=%B")

    events = await run_turn(session, "next")
    started = next(event for event in events if isinstance(event, ResponseStarted))
    assert started.transport == "websocket" and started.incremental, "the side request left the chain alone"
    with pytest.raises(CheckpointUnavailable, match="Nothing to commit"):
        await session.draft_commit()
    await session.close()


async def test_the_draft_is_written_offline_when_the_model_cannot_answer(start_server, work, tmp_path):
    server = start_server(scenario(*edit_turn()))
    session = opened(server, work, tmp_path)
    await run_turn(session, "Make the files tidy")
    draft = await session.draft_commit()
    assert draft.drafted_by == "offline"
    assert draft.message.startswith("Make the files tidy\n")
    assert "write_file new.txt" in draft.message and "shell " in draft.message
    assert draft.message.rstrip().endswith("Assisted-by: codeassist")
    await session.close()


async def test_auto_commit_commits_every_turn_that_changed_files(start_server, work, tmp_path):
    server = start_server(scenario(*edit_turn(), {"output": [message("Nothing to change.")]}))
    session = opened(server, work, tmp_path, settings={"auto_commit": True})
    events = await run_turn(session, "edit things")
    types = [event.type for event in events]
    assert types[-3:] == ["turn_changes", "committed", "turn_ended"]
    committed = next(event for event in events if isinstance(event, Committed))
    assert committed.auto and git(work, "rev-parse", "HEAD").strip() == committed.commit
    assert git(work, "status", "--porcelain") == ""
    body = git(work, "log", "-1", "--format=%B")
    assert body.startswith("edit things") and body.rstrip().endswith("Assisted-by: codeassist")
    events = await run_turn(session, "and?")
    assert not any(isinstance(event, Committed | CheckpointCreated) for event in events)
    await session.close()


async def test_diff_of_a_turn_and_of_the_session(start_server, work, tmp_path):
    server = start_server(scenario(*edit_turn()))
    session = opened(server, work, tmp_path)
    await run_turn(session, "edit things")
    turn = await session.diff(1)
    assert turn.title == "Turn 1"
    stats = {f.path: (f.added, f.removed) for f in turn.files}
    assert stats["a.py"] == (1, 1) and stats["new.txt"] == (1, 0) and stats["pkg/b.py"] == (0, 1)
    assert "+changed" in turn.patch and "-print('hello')" in turn.patch
    whole = await session.diff()
    assert whole.title == "This session (turn 1)" and {f.path for f in whole.files} == set(stats)
    with pytest.raises(CheckpointUnavailable, match="Turn 7"):
        await session.diff(7)
    await session.close()


async def test_an_interrupted_turns_partial_changes_can_be_undone(start_server, work, tmp_path):
    server = start_server(scenario(*edit_turn()))
    session = opened(server, work, tmp_path)
    start = tree_of(work, tmp_path)
    events = []
    async for event in session.run_turn("edit things"):
        events.append(event)
        if event.type == "approval_requested":
            session.answer_approval(event.request.call_id, _approve())
        if isinstance(event, ToolFinished) and event.name == "write_file":
            await session.cancel()
    assert events[-1].reason == "cancelled"
    assert session.turn_had_checkpoint(1)
    assert (work / "new.txt").exists()
    await session.undo()
    assert tree_of(work, tmp_path) == start
    await session.close()


def _approve():
    from agent.session import Decision

    return Decision(kind="approve_once")


async def test_outside_git_every_command_says_so_and_git_init_turns_checkpoints_on(start_server, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "a.txt").write_text("a\n")
    write = {"output": [call("write_file", "c_w", path="b.txt", content="b\n")]}
    done = {"expect": [{"type": "function_call_output", "call_id": "c_w"}], "output": [message("Done.")]}
    write2 = {"output": [call("write_file", "c_w2", path="c.txt", content="c\n")]}
    done2 = {"expect": [{"type": "function_call_output", "call_id": "c_w2"}], "output": [message("Done.")]}
    server = start_server(scenario(write, done, write2, done2))
    session = opened(server, plain, tmp_path)
    assert not session.checkpoints_available and "not a git repository" in (session.checkpoints_reason or "")
    notices = [n for n in session.start_notices() if "git repository" in n]
    assert len(notices) == 1 and "/git-init" in notices[0]
    assert not [n for n in session.start_notices() if "/git-init" in n], "said once"
    events = await run_turn(session, "write b")
    assert not any(isinstance(event, CheckpointCreated | TurnChanges) for event in events)
    for command in (session.undo(), session.redo(), session.diff(), session.draft_commit()):
        with pytest.raises(CheckpointUnavailable, match="not a git repository"):
            await command
    assert session.plan_undo() is None and not session.turn_had_checkpoint(1)

    said = await session.init_repository()
    assert "checkpoints start with the next turn" in said and (plain / ".git").is_dir()
    assert session.checkpoints_available
    with pytest.raises(CheckpointUnavailable, match="no turn of this session has changed files since its checkpoints"):
        await session.diff()
    events = await run_turn(session, "write c")
    assert any(isinstance(event, CheckpointCreated) for event in events)
    await session.undo()
    assert not (plain / "c.txt").exists() and (plain / "b.txt").exists()
    baselines = [t for t in recorded_types(session) if t == "git_baseline"]
    assert len(baselines) == 2, "outside git, then after git init"
    await session.close()


def test_the_baseline_event_reads_back(tmp_path):
    event = GitBaseline(head=None, branch=None, dirty=["x"], available=False, reason="not a git repository")
    assert GitBaseline.model_validate_json(event.model_dump_json()) == event


async def test_a_message_of_the_users_own_needs_no_model_request(start_server, work, tmp_path):
    server = start_server(scenario(*edit_turn(), {"output": [message("Nothing to do.")]}))
    session = opened(server, work, tmp_path)
    await run_turn(session, "edit things")
    sent = len(requests(server))
    draft = await session.draft_commit(message="Tidy the files")
    assert draft.drafted_by == "user" and draft.message == "Tidy the files\n\nAssisted-by: codeassist\n"
    assert len(requests(server)) == sent, "no side request"
    await run_turn(session, "anything?")
    assert not session.turn_had_checkpoint(2), "a turn that changed nothing offers no undo"
    assert session.turn_had_checkpoint(1)
    await session.close()


async def test_a_file_name_that_is_not_utf8_is_recorded_and_undone(start_server, work, tmp_path):
    odd = "printf 'x\\n' > \"$(printf 'bad\\377name.txt')\""
    server = start_server(
        scenario(
            {
                "output": [call("shell", "c_odd", command=odd)],
            },
            {"expect": [{"type": "function_call_output", "call_id": "c_odd"}], "output": [message("Done.")]},
        )
    )
    session = opened(server, work, tmp_path)
    start = tree_of(work, tmp_path)
    events = await run_turn(session, "make an odd file")
    assert (work / os.fsdecode(b"bad\xffname.txt")).exists()
    changes = next(event for event in events if isinstance(event, TurnChanges))
    assert [f.path for f in changes.files] == ["bad\\xffname.txt"], "shown with its odd byte escaped"
    undone = await session.undo()
    assert undone.files == ["bad\\xffname.txt"]
    assert tree_of(work, tmp_path) == start and not (work / os.fsdecode(b"bad\xffname.txt")).exists()
    assert "changes_undone" in recorded_types(session), "the session log took the event"
    await session.close()


async def test_git_init_waits_for_no_turn(start_server, tmp_path):
    plain = tmp_path / "plain"
    plain.mkdir()
    write = {"output": [call("write_file", "c_w", path="b.txt", content="b\n")]}
    done = {"expect": [{"type": "function_call_output", "call_id": "c_w"}], "output": [message("Done.")]}
    server = start_server(scenario(write, done))
    session = opened(server, plain, tmp_path, settings={"approval": "ask"})
    asked = []
    async for event in session.run_turn("write b"):
        if isinstance(event, ApprovalRequested):
            asked.append(event)
            with pytest.raises(CheckpointUnavailable, match="A turn is running"):
                await session.init_repository()  # half a turn without a checkpoint
            session.answer_approval(event.request.call_id, Decision(kind="approve_once"))
    assert asked and not (plain / ".git").exists()
    assert "checkpoints start with the next turn" in await session.init_repository()
    await session.close()
