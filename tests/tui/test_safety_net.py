"""The git safety net in the app, on real temporary repositories against the scripted server:
each turn's checkpoint and changes line, /undo and /redo (asking before a hand edit is
overwritten), /diff, /commit, the offer after Esc, outside git, and replay."""

from __future__ import annotations

import subprocess
from pathlib import Path

from agent.config import Settings
from tests.tui.conftest import SIZE, call, scenario, until, wait_idle
from tests.tui.test_app import send
from tui.app import CodeassistApp
from tui.screens.commit import CommitScreen
from tui.screens.diff import DiffScreen
from tui.screens.picker import PickerScreen
from tui.widgets.changes import CheckpointLine, CommittedLine, TurnChangesLine, UndoneLine
from tui.widgets.transcript import NoticeLine

GREET = "def greet():\n    return 'hello'\n"


def writes(path: str, content: str, text: str = "Done.") -> list[dict]:
    """One turn's responses: write `path`, then answer."""
    return [
        {"output": [call("write_file", f"w-{path}", path=path, content=content)]},
        {"output": [{"type": "message", "text": text}]},
    ]


BYE = [
    {"output": [call("read_file", "r", path="a.py", offset=None, limit=None)]},
    {"output": [call("edit_file", "e", path="a.py", old="hello", new="bye", replace_all=None)]},
    {"output": [{"type": "message", "text": "Done."}]},
]
"""A turn that changes a.py's `hello` into `bye`."""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def notices(app: CodeassistApp) -> list[str]:
    return [line.message for line in app.query(NoticeLine)]


async def test_a_turn_that_writes_shows_its_checkpoint_and_its_changes(make_app, repo):
    app = make_app(scenario(*writes("greet.py", GREET)), approval="full-auto")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "add a greeting")
        await wait_idle(app, pilot)
        assert (repo / "greet.py").read_text() == GREET
        [checkpoint] = app.query(CheckpointLine)
        assert (
            checkpoint.message.startswith("◇ checkpoint ") and "before this turn's first change" in checkpoint.message
        )
        [changes] = app.query(TurnChangesLine)
        assert changes.message == "± 1 file changed +2 −0 · /diff 1"
        assert git(repo, "status", "--porcelain") == "?? greet.py\n", "the user's index and HEAD are untouched"


async def test_undo_puts_the_files_back_and_redo_applies_them_again(make_app, repo):
    turns = [*writes("greet.py", GREET), *BYE]
    app = make_app(scenario(*turns), approval="full-auto")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "add a greeting")
        await wait_idle(app, pilot)
        await send(pilot, "say bye")
        await wait_idle(app, pilot)
        await send(pilot, "/undo")
        await wait_idle(app, pilot)
        assert (repo / "a.py").read_text() == "print('hello')\n" and (repo / "greet.py").exists()
        assert (
            app.query(UndoneLine).last().message
            == "↶ turn 2 undone: 1 file back as before it (a.py) · /redo re-applies it"
        )
        await send(pilot, "/undo")
        await wait_idle(app, pilot)
        assert not (repo / "greet.py").exists()
        await send(pilot, "/undo")
        await wait_idle(app, pilot)
        assert notices(app)[-1].startswith("Nothing to undo: every turn that changed files is undone already")
        await send(pilot, "/redo")
        await wait_idle(app, pilot)
        assert (repo / "greet.py").read_text() == GREET
        assert app.query(UndoneLine).last().message.startswith("↷ turn 1 redone: 1 file changed again (greet.py)")
        await send(pilot, "/redo")
        await wait_idle(app, pilot)
        assert (repo / "a.py").read_text() == "print('bye')\n"
        await send(pilot, "/redo")
        await wait_idle(app, pilot)
        assert notices(app)[-1].startswith("Nothing to redo")


async def test_undo_asks_before_overwriting_a_file_changed_by_hand(make_app, repo):
    app = make_app(scenario(*BYE), approval="full-auto")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "say bye")
        await wait_idle(app, pilot)
        (repo / "a.py").write_text("print('mine')\n")
        await send(pilot, "/undo")
        await until(pilot, lambda: isinstance(app.screen, PickerScreen))
        question = app.screen
        assert str(question.query_one("#picker-title").content) == "Undo turn 1? You changed 1 file by hand since"
        assert "a.py" in str(question.query_one("#picker-note").content)
        await pilot.press("enter")  # the first answer: cancel
        await wait_idle(app, pilot)
        assert (repo / "a.py").read_text() == "print('mine')\n"
        await send(pilot, "/undo")
        await until(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.press("down", "enter")  # overwrite
        await wait_idle(app, pilot)
        assert (repo / "a.py").read_text() == "print('hello')\n"
        assert "your edits to a.py were overwritten" in app.query(UndoneLine).last().message


async def test_diff_opens_the_sessions_changes_and_diff_n_one_turns(make_app, repo):
    turns = [*writes("greet.py", GREET), *BYE]
    app = make_app(scenario(*turns), approval="full-auto")
    async with app.run_test(size=SIZE) as pilot:
        for prompt in ("add a greeting", "say bye"):
            await send(pilot, prompt)
            await wait_idle(app, pilot)
        await send(pilot, "/diff")
        await until(pilot, lambda: isinstance(app.screen, DiffScreen) and app.screen.diff is not None)
        assert [change.path for change in app.screen.diff.files] == ["a.py", "greet.py"]
        assert "+def greet():" in app.screen.diff.patch
        await pilot.press("escape")
        await send(pilot, "/diff 2")
        await until(pilot, lambda: isinstance(app.screen, DiffScreen) and app.screen.diff is not None)
        assert str(app.screen.query_one("#diff-title").content) == "Turn 2 · 1 file changed +1 −1"
        await pilot.press("escape")
        await send(pilot, "/diff two")
        await pilot.pause()
        assert notices(app)[-1] == "/diff: usage: /diff for the whole session, /diff N for turn N"


async def test_d_and_enter_on_a_turns_changes_line_open_its_diff(make_app, repo):
    app = make_app(scenario(*writes("greet.py", GREET)), approval="full-auto")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "add a greeting")
        await wait_idle(app, pilot)
        line = app.query_one(TurnChangesLine)
        line.focus()
        await pilot.pause()
        await pilot.press("d")
        await until(pilot, lambda: isinstance(app.screen, DiffScreen) and app.screen.diff is not None)
        assert str(app.screen.query_one("#diff-title").content) == "Turn 1 · 1 file changed +2 −0"
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused is line
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DiffScreen))
        await pilot.press("escape")


async def test_commit_commits_the_sessions_files_with_the_approved_message(make_app, repo):
    (repo / "notes.md").write_text("mine, before the session\n")  # dirty before, not the session's
    turns = [
        *writes("greet.py", GREET),
        {"output": [{"type": "message", "text": "Add a greeting module"}]},  # the drafted message
    ]
    app = make_app(scenario(*turns), approval="full-auto")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "add a greeting")
        await wait_idle(app, pilot)
        await send(pilot, "/commit")
        await until(pilot, lambda: isinstance(app.screen, CommitScreen) and app.screen.draft is not None)
        screen = app.screen
        assert screen.draft.files == ["greet.py"]
        assert screen.query_one("#commit-message").text == screen.draft.message  # the model's, or drafted offline
        await pilot.press("ctrl+s")
        await until(pilot, lambda: bool(app.query(CommittedLine)))
        line = app.query_one(CommittedLine).message
        assert line.startswith("✓ committed ") and " on main: " in line and line.endswith("(1 file)")
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["greet.py"]
    assert "Assisted-by: codeassist" in git(repo, "log", "-1", "--format=%B")
    assert git(repo, "status", "--porcelain") == "?? notes.md\n"


async def test_escape_offers_to_undo_a_cancelled_turns_partial_changes(make_app, repo):
    turns = [
        {"output": [call("write_file", "w", path="half.py", content="X = 1\n")]},
        {"output": [call("shell", "s", command="echo next")]},  # asks (auto-edit): Esc cancels here
    ]
    app = make_app(scenario(*turns), approval="auto-edit")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "start something")
        await until(pilot, lambda: (repo / "half.py").exists() and app.pending_approval() is not None)
        await pilot.pause(0.6)
        await pilot.press("escape")
        await until(pilot, lambda: isinstance(app.screen, PickerScreen))
        offer = app.screen
        assert str(offer.query_one("#picker-title").content) == "Turn 1 was cancelled part-way"
        assert [row.value for row in offer.shown] == ["Undo this turn's partial changes", "Keep them"]
        await pilot.press("enter")
        await wait_idle(app, pilot)
        assert not (repo / "half.py").exists()
        assert app.query(UndoneLine).last().message.startswith("↶ turn 1 undone")


async def test_outside_git_the_commands_say_so_and_git_init_starts_checkpoints(start_server, tmp_path, monkeypatch):
    from tests.agent.conftest import settings_for
    from tests.tui.conftest import COMMAND_SANDBOX, seen_before

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    folder = tmp_path / "plain"
    folder.mkdir()
    seen_before(folder, tmp_path / "data")
    server = start_server(scenario(*writes("x.py", "X = 1\n")))
    app = CodeassistApp(
        settings_for(server, approval="full-auto", sandbox=COMMAND_SANDBOX),
        folder,
        session_options={"log_root": tmp_path / "sessions"},
    )
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        assert any("/git-init" in notice for notice in notices(app)), "the start notice offers /git-init"
        for name in ("undo", "redo", "diff", "commit"):
            await send(pilot, f"/{name}")
            await pilot.pause()
            assert "/git-init" in notices(app)[-1], name
        await send(pilot, "/git-init")
        await pilot.pause(0.5)
        assert (folder / ".git").is_dir()
        assert "checkpoints start with the next turn" in notices(app)[-1]
        await send(pilot, "/undo")
        await wait_idle(app, pilot)
        assert (
            notices(app)[-1]
            == "Nothing to undo: no turn of this session has changed a file since it took a checkpoint."
        )
        await send(pilot, "write it")
        await wait_idle(app, pilot)
        assert app.query_one(TurnChangesLine).message == "± 1 file changed +1 −0 · /diff 1"


async def test_replay_shows_the_changes_and_d_opens_a_recorded_turns_diff(make_app, repo, tmp_path):
    app = make_app(scenario(*writes("greet.py", GREET)), approval="full-auto")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "add a greeting")
        await wait_idle(app, pilot)
        recorded = app.session.flush()
    viewer = CodeassistApp(Settings(), repo, replay=recorded, replay_speed=None)
    async with viewer.run_test(size=SIZE) as pilot:
        await viewer.workers.wait_for_complete()
        await pilot.pause(0.3)
        assert len(viewer.query(CheckpointLine)) == 1
        line = viewer.query_one(TurnChangesLine)
        line.focus()
        await pilot.pause()
        await pilot.press("d")
        await until(pilot, lambda: isinstance(viewer.screen, DiffScreen) and viewer.screen.diff is not None)
        assert "+def greet():" in viewer.screen.diff.patch
        await pilot.press("escape")
        await pilot.pause()
        await viewer.run_slash_command("/diff")  # from the command palette: the one turn that changed files
        await until(pilot, lambda: isinstance(viewer.screen, DiffScreen) and viewer.screen.diff is not None)
        assert str(viewer.screen.query_one("#diff-title").content) == "Turn 1 · 1 file changed +2 −0"
        await pilot.press("escape")
        await viewer.run_slash_command("/diff 5")
        await pilot.pause()
        assert notices(viewer)[-1] == "Turn 5 changed no file (or has not been replayed yet)."


async def test_a_replay_names_the_d_key_not_commands_its_disabled_prompt_cannot_take(make_app, repo):
    app = make_app(scenario(*writes("greet.py", GREET)), approval="full-auto")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "add a greeting")
        await wait_idle(app, pilot)
        await send(pilot, "/undo")
        await wait_idle(app, pilot)
        assert app.query_one(TurnChangesLine).message.endswith(" · /diff 1"), "live: the command works"
        recorded = app.session.flush()
    viewer = CodeassistApp(Settings(), repo, replay=recorded, replay_speed=None)
    async with viewer.run_test(size=SIZE) as pilot:
        await viewer.workers.wait_for_complete()
        await pilot.pause(0.3)
        assert viewer.query_one(TurnChangesLine).message == "± 1 file changed +2 −0 · d: diff"
        assert viewer.query_one(UndoneLine).message == "↶ turn 1 undone: 1 file back as before it (greet.py)"


async def test_auto_commit_commits_after_each_turn_that_changed_files(make_app, repo):
    app = make_app(scenario(*writes("greet.py", GREET)), approval="full-auto", auto_commit=True)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "add a greeting")
        await wait_idle(app, pilot)
        line = app.query_one(CommittedLine).message
        assert line.startswith("✓ auto-committed ") and " on main: " in line and line.endswith("(1 file)")
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["greet.py"]


def test_a_frozen_turn_keeps_its_changes_line_and_thaws_it_with_its_diff():
    from agent.events import FileChangeSummary, TurnChanges
    from tui.widgets.frozen_turn import freeze

    event = TurnChanges(
        turn=4, before="a" * 40, after="b" * 40, files=[FileChangeSummary(path="x.py", status="added", added=3)]
    )
    part = freeze(TurnChangesLine(event), {})
    assert part is not None and part.kind == "changes" and part.text == "± 1 file changed +3 −0 · /diff 4"
    thawed = part.thaw()
    assert isinstance(thawed, TurnChangesLine) and thawed.diff_turn == 4
    replayed = freeze(TurnChangesLine(event, commands=False), {})
    assert replayed is not None and replayed.text == "± 1 file changed +3 −0 · d: diff"
    assert replayed.thaw().message == replayed.text, "a replay's line thaws as it was drawn"


async def test_d_on_a_frozen_turn_opens_its_diff_in_a_long_replay(make_app, repo):
    from tui.widgets.frozen_turn import FrozenHistory

    hello = {"output": [{"type": "message", "text": "Hi."}]}
    app = make_app(scenario(*writes("greet.py", GREET), hello, hello, hello, hello), approval="full-auto")
    async with app.run_test(size=SIZE) as pilot:
        for prompt in ("add a greeting", "one", "two", "three", "four"):
            await send(pilot, prompt)
            await wait_idle(app, pilot)
        recorded = app.session.flush()
    viewer = CodeassistApp(Settings(), repo, replay=recorded, replay_speed=None)
    async with viewer.run_test(size=SIZE) as pilot:
        await viewer.workers.wait_for_complete()
        await pilot.pause(0.3)
        history = viewer.query_one(FrozenHistory)
        history.focus()
        history.enter_cursor(from_below=False)  # the first turn: the one that changed files
        await pilot.pause()
        assert history.diff_turn == 1
        await pilot.press("d")
        await until(pilot, lambda: isinstance(viewer.screen, DiffScreen) and viewer.screen.diff is not None)
        assert str(viewer.screen.query_one("#diff-title").content) == "Turn 1 · 1 file changed +2 −0"
        await pilot.press("escape")
        history.step_cursor(1)
        assert history.diff_turn is None
