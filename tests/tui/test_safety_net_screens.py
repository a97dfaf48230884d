"""The diff and commit screens by themselves, over a replayed session: their keys, what they show
while they wait, and what they say when the diff or the draft cannot be had."""

from __future__ import annotations

import asyncio

import pytest

from agent.config import Settings
from agent.events import Committed
from agent.session import CommitDraft, SessionDiff
from tests.tui.conftest import until
from tests.tui.safety_net import SAMPLE_DIFF, SAMPLE_DRAFT, long_diff
from tests.tui.test_replay import FIXTURE
from tui.app import CodeassistApp
from tui.screens.commit import CommitScreen
from tui.screens.diff import DiffScreen, split_patch

SIZE = (100, 32)


@pytest.fixture
def app(tmp_path, monkeypatch) -> CodeassistApp:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    project = tmp_path / "project"
    project.mkdir()
    return CodeassistApp(Settings(), project, replay=FIXTURE, replay_speed=None)


def returning(value):
    async def load():
        return value

    return load


def test_the_patch_is_split_per_file():
    pieces = split_patch(SAMPLE_DIFF.patch)
    assert [piece.split("\n", 1)[0] for piece in pieces] == [
        "diff --git a/pkg/core.py b/pkg/core.py",
        "diff --git a/notes.txt b/notes.txt",
        "diff --git a/old.py b/new.py",
        "diff --git a/logo.png b/logo.png",
    ]


async def test_diff_screen_pages_through_the_patch_follows_the_files_and_esc_closes(app):
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        app.push_screen(DiffScreen("This session", returning(long_diff())))
        await until(pilot, lambda: isinstance(app.screen, DiffScreen) and app.screen.diff is not None)
        screen = app.screen
        patch = screen.query_one("#diff-patch")
        assert str(screen.query_one("#diff-title").content) == "This session (turns 1–3) · 3 files changed +600 −0"
        assert patch.scroll_y == 0
        await pilot.press("pagedown")
        await pilot.pause()
        assert patch.scroll_y > 0
        await pilot.press("pageup")
        await pilot.pause()
        assert patch.scroll_y == 0
        await pilot.press("down", "down")  # the third file: the patch scrolls to its part
        await pilot.pause(0.2)
        assert patch.scroll_y == screen.pieces[2].virtual_region.y
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, DiffScreen)


async def test_diff_screen_says_why_when_the_diff_cannot_be_read(app):
    async def fails():
        raise ValueError("Turn 9 changed no files (it has no checkpoint).")

    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        app.push_screen(DiffScreen("Turn 9", fails))
        await pilot.pause(0.2)
        status = app.screen.query_one("#diff-status")
        assert str(status.content) == "Turn 9 changed no files (it has no checkpoint)."
        assert status.has_class("-error")


async def test_diff_screen_draws_no_control_sequence_from_the_patch(app):
    from agent.events import FileChangeSummary

    hostile = SessionDiff(
        title="Turn 1",
        files=[FileChangeSummary(path="evil\x1b]0;owned\x07.py", status="added", added=1)],
        patch="diff --git a/evil.py b/evil.py\n+\x1b[2Jclear\x1b]52;c;Zm9v\x07\n",
    )
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        app.push_screen(DiffScreen("Turn 1", returning(hostile)))
        await until(pilot, lambda: isinstance(app.screen, DiffScreen) and app.screen.diff is not None)
        drawn = app.export_screenshot()
        assert "\x1b" not in drawn and "owned" not in drawn and "Zm9v" not in drawn
        assert "evil.py" in drawn and "clear" in drawn


async def test_commit_screen_shows_progress_then_the_draft_and_ctrl_s_commits_the_edited_message(app):
    drafted = asyncio.Event()
    committed: list[tuple[str, list[str]]] = []
    results = []

    async def draft():
        await drafted.wait()
        return SAMPLE_DRAFT

    async def commit(message: str, files: list[str]) -> Committed:
        committed.append((message, files))
        return Committed(commit="a" * 40, branch="main", files=files, message=message)

    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        app.push_screen(CommitScreen(draft, commit, branch="main"), results.append)
        await pilot.pause(0.2)
        screen = app.screen
        assert isinstance(screen, CommitScreen)
        assert "drafting a message" in str(screen.query_one("#commit-status").content)
        assert screen.query_one("#commit-spinner").display and screen.query_one("#commit-message").disabled
        await pilot.press("ctrl+s")  # nothing to commit yet
        assert committed == []
        drafted.set()
        await until(pilot, lambda: screen.draft is not None)
        assert "drafted by the model" in str(screen.query_one("#commit-status").content)
        assert "TODO.md" in str(screen.query_one("#commit-left-out").content)
        await pilot.press(*" Reviewed.")  # the cursor waits at the end of the subject
        await pilot.press("ctrl+s")
        await until(pilot, lambda: bool(results))
    subject, body = SAMPLE_DRAFT.message.split("\n", 1)
    assert committed == [(f"{subject} Reviewed.\n{body}", ["a.py", "pkg/core.py"])]
    assert results[0].branch == "main"


async def test_commit_screen_refuses_an_empty_message_keeps_a_failed_commit_open_and_esc_cancels(app):
    results = []

    async def commit(message: str, files: list[str]) -> Committed:
        raise ValueError("git commit-tree: object not found")

    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        mine = CommitDraft(message="Mine\n\nAssisted-by: codeassist", files=["a.py"], left_out=[], drafted_by="user")
        app.push_screen(CommitScreen(returning(mine), commit, branch=None, message="Mine"), results.append)
        await until(pilot, lambda: isinstance(app.screen, CommitScreen) and app.screen.draft is not None)
        screen = app.screen
        area = screen.query_one("#commit-message")
        assert area.text == "Mine\n\nAssisted-by: codeassist", "the user's own message, with the trailer"
        assert str(screen.query_one("#commit-status").content).startswith("your message")
        assert str(screen.query_one("#commit-title").content) == "Commit this session's changes on the detached HEAD"
        area.load_text("  ")
        await pilot.press("ctrl+s")
        assert "The message is empty" in str(screen.query_one("#commit-status").content)
        area.load_text("Mine")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: "The commit failed" in str(screen.query_one("#commit-status").content))
        assert app.screen is screen and not area.disabled
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, CommitScreen)
    assert results == [None]


async def test_commit_screen_puts_the_cursor_at_the_end_of_the_subject_not_after_the_trailer(app):
    drafted = CommitDraft(
        message="Add sub()\n\nSubtraction next to add().\n\nAssisted-by: codeassist\n",
        files=["calc.py"],
        left_out=[],
        drafted_by="offline",
    )
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        app.push_screen(CommitScreen(returning(drafted), returning(None), branch="main"))
        await until(pilot, lambda: isinstance(app.screen, CommitScreen) and app.screen.draft is not None)
        area = app.screen.query_one("#commit-message")
        assert area.has_focus and area.cursor_location == (0, len("Add sub()"))
        await pilot.press(*" and mul()")
        assert area.text.splitlines()[0] == "Add sub() and mul()"
        assert area.text.rstrip().splitlines()[-1] == "Assisted-by: codeassist"


async def test_commit_screen_says_there_is_nothing_to_commit(app):
    async def draft():
        raise ValueError("Nothing to commit: this session has changed no files since its last commit.")

    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        app.push_screen(CommitScreen(draft, returning(None), branch="main"))
        await pilot.pause(0.2)
        status = app.screen.query_one("#commit-status")
        assert str(status.content).startswith("Nothing to commit")
        assert status.has_class("-error") and not app.screen.query_one("#commit-spinner").display


async def test_commit_screen_wraps_a_long_status_instead_of_cutting_it(app):
    said = "Nothing to commit: this session has changed no files since its last commit."

    async def draft():
        raise ValueError(said)

    async with app.run_test(size=(70, 30)) as pilot:
        await app.workers.wait_for_complete()
        app.push_screen(CommitScreen(draft, returning(None), branch="main"))
        await pilot.pause(0.2)
        status = app.screen.query_one("#commit-status")
        shown = app.screen.query_one("#commit-progress")
        assert status.size.height >= 2 and shown.size.height >= status.size.height, "not cut to one line"
        drawn = [line.text.rstrip() for line in status.render_lines(status.region.reset_offset)]
        assert " ".join(drawn).split() == said.split()


@pytest.mark.parametrize("redo", [False, True])
async def test_the_overwrite_question_fits_each_answer_on_one_line_in_an_80_column_terminal(app, redo):
    from textual.widgets import OptionList

    from agent.session import UndoPlan
    from tui.screens.picker import PickerScreen
    from tui.slash_git import confirm_and_restore

    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        plan = UndoPlan(turn=12, files=["a.py", "b.py"], conflicts=["a.py"])
        confirm_and_restore(app, plan, redo=redo)
        await until(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.pause(0.2)
        answers = app.screen.query_one(OptionList)
        assert answers.option_count == 2 and answers.virtual_size.height == 2, "no answer wraps"


async def test_a_questions_answers_line_up_however_long_an_answer_is(app):
    from textual.widgets import OptionList

    from tui.screens.picker import PickerRow, PickerScreen
    from tui.slash_git import KEEP_PARTIAL, UNDO_PARTIAL

    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        rows = [
            PickerRow(UNDO_PARTIAL, "files as before the turn"),
            PickerRow(KEEP_PARTIAL, "/undo can still undo them"),
        ]
        app.push_screen(PickerScreen("Turn 4 was cancelled part-way", rows, filterable=False))
        await until(pilot, lambda: isinstance(app.screen, PickerScreen))
        await pilot.pause(0.1)
        answers = app.screen.query_one(OptionList)
        labels = [answers.get_option_at_index(index).prompt.plain for index in range(answers.option_count)]
        assert [label.index(row.detail) for label, row in zip(labels, rows, strict=True)] == [len(UNDO_PARTIAL) + 4] * 2
        assert answers.virtual_size.height == 2, "and each still fits on one line"
