"""The safety net through the session facade, in the cases between the main paths: redo after a
commit, a session resumed after a crash mid-turn, Esc while the checkpoint is being taken, a turn
whose first file-changing call is denied. A real `codeassist serve` at the model boundary, real
temporary git repositories, the real tools."""

from __future__ import annotations

import asyncio
import subprocess
import threading
from contextlib import aclosing
from pathlib import Path
from typing import Any

import pytest

from agent.checkpoint_store import CheckpointStore
from agent.events import ApprovalRequested, CheckpointCreated, ToolFinished, TurnChanges, TurnEnded
from agent.session import CheckpointUnavailable, Decision, Session
from tests.agent.conftest import make_repo
from tests.agent.recording import call, requests
from tests.agent.test_checkpoints import git, identified, message, opened, scenario, tree_of


@pytest.fixture(autouse=True)
def private_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


@pytest.fixture
def work(tmp_path: Path) -> Path:
    return identified(make_repo(tmp_path / "work", {"a.py": "print('hello')\n", "README.md": "Docs.\n"}))


def write_turn(call_id: str, path: str, content: str, reply: str = "Done.") -> list[dict[str, Any]]:
    return [
        {"output": [call("write_file", call_id, path=path, content=content)]},
        {"expect": [{"type": "function_call_output", "call_id": call_id}], "output": [message(reply)]},
    ]


async def answered(session: Session, prompt: str, deny: set[str] = frozenset()) -> list:  # type: ignore[assignment]
    events = []
    async for event in session.run_turn(prompt):
        events.append(event)
        if isinstance(event, ApprovalRequested):
            kind = "deny" if event.request.call_id in deny else "approve_once"
            session.answer_approval(event.request.call_id, Decision(kind=kind))
    return events


async def test_a_turn_redone_after_a_commit_is_committed_by_the_next_one(start_server, work, tmp_path):
    server = start_server(scenario(*write_turn("c_1", "one.txt", "1\n"), *write_turn("c_2", "two.txt", "2\n")))
    session = opened(server, work, tmp_path)
    await answered(session, "write one")
    await answered(session, "write two")
    assert (await session.undo()).turn == 2
    first = await session.commit("Add one", (await session.draft_commit(message="Add one")).files)
    assert first.files == ["one.txt"]
    assert (await session.redo()).turn == 2 and (work / "two.txt").exists()
    draft = await session.draft_commit(message="Add two")
    assert draft.files == ["two.txt"], "the redone turn's changes were never committed"
    await session.commit(draft.message, draft.files)
    assert git(work, "status", "--porcelain") == ""
    assert git(work, "show", "--name-only", "--format=", "HEAD").split() == ["two.txt"]
    await session.close()


async def test_a_turn_denied_first_takes_its_checkpoint_before_the_call_that_runs(start_server, work, tmp_path):
    turn = [
        {"output": [call("write_file", "c_denied", path="no.txt", content="no\n")]},
        {
            "expect": [{"type": "function_call_output", "call_id": "c_denied"}],
            "output": [call("write_file", "c_yes", path="yes.txt", content="yes\n")],
        },
        {"expect": [{"type": "function_call_output", "call_id": "c_yes"}], "output": [message("Done.")]},
    ]
    server = start_server(scenario(*turn))
    session = opened(server, work, tmp_path)
    start = tree_of(work, tmp_path)
    events = await answered(session, "write", deny={"c_denied"})
    kinds = [(e.type, getattr(e, "call_id", None)) for e in events]
    created = [i for i, e in enumerate(events) if isinstance(e, CheckpointCreated)]
    assert len(created) == 1, kinds
    finished = {e.call_id: i for i, e in enumerate(events) if isinstance(e, ToolFinished)}
    assert finished["c_denied"] < created[0] < finished["c_yes"], kinds
    assert git(work, "rev-parse", f"{events[created[0]].commit}^{{tree}}").strip() == start
    await session.undo()
    assert tree_of(work, tmp_path) == start
    await session.close()


async def test_a_turn_interrupted_by_a_crash_is_undone_after_resume(start_server, work, tmp_path):
    turn = [
        {"output": [call("write_file", "c_w", path="made/new.txt", content="new\n")]},
        {
            "expect": [{"type": "function_call_output", "call_id": "c_w"}],
            "output": [call("shell", "c_s", command="printf 'changed\\n' > a.py")],
        },
        {"expect": [{"type": "function_call_output", "call_id": "c_s"}], "output": [message("Done.")]},
    ]
    server = start_server(scenario(*turn, {"output": [message("Back.")]}))
    session = opened(server, work, tmp_path)
    start = tree_of(work, tmp_path)
    await answered(session, "edit")
    path = session.log_path
    await session.close()
    assert path is not None
    lines = path.read_bytes().splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines) if b'"tool_finished"' in line and b"c_s" in line)
    path.write_bytes(b"".join(lines[:cut]))  # the process died while the shell command ran

    resumed = opened(server, work, tmp_path, resume=path)
    assert resumed.turn_had_checkpoint(1)
    plan = await asyncio.to_thread(resumed.plan_undo)
    assert plan is not None and plan.turn == 1 and set(plan.files) == {"a.py", "made/new.txt"}, plan
    undone = await resumed.undo()
    assert undone.turn == 1 and tree_of(work, tmp_path) == start and not (work / "made").exists()
    events = await answered(resumed, "and now?")
    assert isinstance(events[-1], TurnEnded) and events[-1].stats.turn == 2
    assert "undid the changes of turn 1" in str(requests(server)[-1]["input"])
    await resumed.close()


async def test_esc_while_the_checkpoint_is_taken_runs_no_call(start_server, work, tmp_path, monkeypatch):
    server = start_server(scenario(*write_turn("c_w", "new.txt", "new\n"), {"output": [message("Next.")]}))
    session = opened(server, work, tmp_path)
    started, release = threading.Event(), threading.Event()
    real = CheckpointStore.snapshot

    def slow_snapshot(self: CheckpointStore, name: str | None, text: str) -> Any:
        started.set()
        release.wait(30)  # a snapshot of a large tree
        return real(self, name, text)

    monkeypatch.setattr(CheckpointStore, "snapshot", slow_snapshot)
    events = []

    async def consume() -> None:
        async for event in session.run_turn("write"):
            events.append(event)
            if isinstance(event, ApprovalRequested):
                session.answer_approval(event.request.call_id, Decision(kind="approve_once"))

    turn = asyncio.create_task(consume())
    try:
        assert await asyncio.to_thread(started.wait, 10), "the checkpoint started"
        await session.cancel()  # Esc while the snapshot runs
        async with asyncio.timeout(20):
            await turn  # the turn ends without waiting for the snapshot
    finally:
        release.set()
    assert isinstance(events[-1], TurnEnded) and events[-1].reason == "cancelled"
    [output] = [e for e in events if isinstance(e, ToolFinished)]
    assert output.status == "aborted"
    assert not (work / "new.txt").exists(), "the call did not run after Esc"
    monkeypatch.setattr(CheckpointStore, "snapshot", real)
    events = await answered(session, "next")
    assert events[-1].reason == "completed"
    assert not any(isinstance(e, TurnChanges) and e.files for e in events)
    await session.close()


async def test_a_cancelled_turns_undo_plan_is_that_turn_even_before_its_end_is_read(start_server, work, tmp_path):
    server = start_server(
        scenario(
            *write_turn("c_1", "one.txt", "1\n"), {"output": [call("write_file", "c_2", path="two.txt", content="2\n")]}
        )
    )
    session = opened(server, work, tmp_path)
    await answered(session, "write one")
    after_one = tree_of(work, tmp_path)

    async def second() -> None:
        async with aclosing(session.run_turn("write two")) as events:
            async for event in events:
                if isinstance(event, ApprovalRequested):
                    session.answer_approval(event.request.call_id, Decision(kind="approve_once"))
                if isinstance(event, ToolFinished):
                    raise asyncio.CancelledError  # the task running the turn is cancelled

    with pytest.raises(asyncio.CancelledError):
        await second()
    assert (work / "two.txt").exists() and session.turn_had_checkpoint(2)
    plan = await asyncio.to_thread(session.plan_undo)
    assert plan is not None and plan.turn == 2 and plan.files == ["two.txt"], plan
    assert (await session.undo()).turn == 2
    assert tree_of(work, tmp_path) == after_one
    await session.close()


async def test_a_checkpoint_that_cannot_be_taken_is_told_and_the_turn_goes_on(start_server, work, tmp_path):
    server = start_server(
        scenario(
            {
                "output": [
                    call("write_file", "c_1", path="one.txt", content="1\n"),
                    call("write_file", "c_2", path="two.txt", content="2\n"),
                ]
            },
            {"expect": [{"type": "function_call_output", "call_id": "c_2"}], "output": [message("Done.")]},
            *write_turn("c_3", "three.txt", "3\n"),
        )
    )
    session = opened(server, work, tmp_path)
    (work / ".git" / "refs" / "codeassist").write_text("in the way\n")  # git cannot write the ref
    events = await answered(session, "write two files")
    notices = [e.message for e in events if e.type == "notice"]
    assert len(notices) == 1 and notices[0].startswith("No checkpoint for turn 1, so /undo cannot undo it: git"), (
        notices
    )
    assert not any(isinstance(e, CheckpointCreated | TurnChanges) for e in events)
    assert [e.status for e in events if isinstance(e, ToolFinished)] == ["ok", "ok"]
    assert events[-1].reason == "completed" and (work / "two.txt").exists()
    assert await asyncio.to_thread(session.plan_undo) is None
    with pytest.raises(CheckpointUnavailable, match="Nothing to undo"):
        await session.undo()
    with pytest.raises(
        CheckpointUnavailable, match=r"^Turn 1 has no changes to show \(its checkpoint could not be taken\)"
    ):
        await session.diff(1)

    (work / ".git" / "refs" / "codeassist").unlink()
    events = await answered(session, "write a third")
    assert sum(isinstance(e, CheckpointCreated) for e in events) == 1
    assert (await session.undo()).turn == 2 and not (work / "three.txt").exists() and (work / "two.txt").exists()
    await session.close()


async def test_a_new_turn_that_changes_files_after_an_undo_drops_the_redo(start_server, work, tmp_path):
    server = start_server(
        scenario(
            *write_turn("c_1", "one.txt", "1\n"),
            {"output": [message("Nothing to change.")]},
            *write_turn("c_2", "two.txt", "2\n"),
        )
    )
    session = opened(server, work, tmp_path)
    await answered(session, "write one")
    await session.undo()
    await answered(session, "just talk")
    assert (await asyncio.to_thread(session.plan_redo)).turn == 1, "a turn that changed nothing keeps the redo"
    await answered(session, "write two")
    assert await asyncio.to_thread(session.plan_redo) is None
    with pytest.raises(CheckpointUnavailable, match="Nothing to redo"):
        await session.redo()
    assert not (work / "one.txt").exists()
    assert (await session.undo()).turn == 3 and not (work / "two.txt").exists()
    with pytest.raises(CheckpointUnavailable, match="Nothing to undo"):
        await session.undo()
    await session.close()


async def test_commit_during_a_merge_is_refused_clearly_and_changes_nothing(start_server, work, tmp_path):
    server = start_server(scenario(*write_turn("c_1", "one.txt", "1\n")))
    session = opened(server, work, tmp_path, settings={"auto_commit": True})
    git(work, "checkout", "-q", "-b", "side")
    (work / "a.py").write_text("side\n")
    git(work, "commit", "-qam", "side")
    git(work, "checkout", "-q", "main")
    (work / "a.py").write_text("main\n")
    git(work, "commit", "-qam", "main")
    subprocess.run(["git", "merge", "side"], cwd=work, capture_output=True)  # a conflict
    head, index = git(work, "rev-parse", "HEAD"), (work / ".git" / "index").read_bytes()
    events = await answered(session, "write one")
    notices = [e.message for e in events if e.type == "notice"]
    assert any("auto_commit: turn 1 was not committed" in n and "merge is in progress" in n for n in notices), notices
    draft = await session.draft_commit(message="Add one")
    with pytest.raises(
        CheckpointUnavailable, match="^Nothing was committed: a merge is in progress: finish it with git first"
    ):
        await session.commit(draft.message, draft.files)
    assert git(work, "rev-parse", "HEAD") == head and (work / ".git" / "index").read_bytes() == index
    assert (await session.undo()).turn == 1 and not (work / "one.txt").exists()
    assert (work / ".git" / "index").read_bytes() == index and (work / ".git" / "MERGE_HEAD").exists()
    await session.close()


async def test_two_undos_given_at_once_undo_two_turns(start_server, work, tmp_path):
    server = start_server(scenario(*write_turn("c_1", "one.txt", "1\n"), *write_turn("c_2", "two.txt", "2\n")))
    session = opened(server, work, tmp_path)
    start = tree_of(work, tmp_path)
    await answered(session, "write one")
    await answered(session, "write two")
    first, second = await asyncio.gather(session.undo(), session.undo())
    assert (first.turn, second.turn) == (2, 1) and not first.overwritten and not second.overwritten
    assert tree_of(work, tmp_path) == start
    first, second = await asyncio.gather(session.redo(), session.redo())
    assert (first.turn, second.turn) == (1, 2)
    assert (work / "one.txt").exists() and (work / "two.txt").exists()
    await session.close()


async def test_a_file_too_large_for_checkpoints_is_named_and_left_alone_by_undo(start_server, work, tmp_path):
    command = "head -c 2097152 /dev/zero > big.bin && printf 'small\\n' > small.txt"
    server = start_server(
        scenario(
            {"output": [call("shell", "c_big", command=command)]},
            {"expect": [{"type": "function_call_output", "call_id": "c_big"}], "output": [message("Done.")]},
        )
    )
    session = opened(server, work, tmp_path, settings={"checkpoint_max_file_mb": 1})
    events = await answered(session, "make files")
    types = [e.type for e in events]
    assert types[-3:] == ["notice", "turn_changes", "turn_ended"], types
    assert events[-3].message == "Left out of turn 1's checkpoint, so /undo will not touch them: big.bin (over 1 MiB)."
    changes = events[-2]
    assert [f.path for f in changes.files] == ["small.txt"]
    undone = await session.undo()
    assert undone.files == ["small.txt"] and (work / "big.bin").stat().st_size == 2097152
    await session.close()


async def test_commit_leaves_out_a_file_dirty_before_the_session_beyond_the_named_ones(start_server, work, tmp_path):
    generated = work / "gen"
    generated.mkdir()
    for number in range(1005):  # more dirty files than the baseline names
        (generated / f"f{number:04}.txt").write_text(f"{number}\n")
    command = "printf 'edited\\n' > gen/f1004.txt && printf 'new\\n' > mine.txt"
    server = start_server(
        scenario(
            {"output": [call("shell", "c_s", command=command)]},
            {"expect": [{"type": "function_call_output", "call_id": "c_s"}], "output": [message("Done.")]},
        )
    )
    session = opened(server, work, tmp_path)
    assert len(session.checkpoints.baseline.dirty) == 1000
    assert any("uncommitted changes (1000+ files)" in notice for notice in session.start_notices())
    await answered(session, "edit")
    draft = await session.draft_commit(message="Add mine")
    assert draft.files == ["mine.txt"] and draft.left_out == ["gen/f1004.txt"]
    assert (await session.draft_commit(message="All", include_dirty=True)).files == ["gen/f1004.txt", "mine.txt"]
    await session.close()


async def test_no_git_command_runs_on_the_event_loop_thread_after_the_session_opened(
    start_server, work, tmp_path, monkeypatch
):
    server = start_server(scenario(*write_turn("c_1", "one.txt", "1\n"), *write_turn("c_2", "two.txt", "2\n")))
    session = opened(server, work, tmp_path, settings={"auto_commit": True})
    loop_thread = threading.current_thread()
    on_loop: list[list[str]] = []
    real_init = subprocess.Popen.__init__

    def watched(self: subprocess.Popen, args: Any, *rest: Any, **options: Any) -> None:
        argv = [str(arg) for arg in (args if isinstance(args, list | tuple) else [args])]
        if argv and Path(argv[0]).name == "git" and threading.current_thread() is loop_thread:
            on_loop.append(argv)
        real_init(self, args, *rest, **options)

    monkeypatch.setattr(subprocess.Popen, "__init__", watched)
    await answered(session, "write one")
    await session.undo()
    await session.redo()
    await session.diff()
    await session.diff(1)
    await answered(session, "write two")
    await session.undo()
    await session.commit("Drop two", ["two.txt"])
    await session.close()
    assert on_loop == []
