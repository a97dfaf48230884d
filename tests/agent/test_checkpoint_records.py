"""Recorded checkpoints read back: export's per-turn diffs and a replay's turn diff, from a real
session against `codeassist serve` in a real temporary git repository."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.events import TurnChanges
from agent.export import export_json, export_markdown
from agent.replay import history_events, turn_diff
from tests.agent.recording import run_turn
from tests.agent.test_checkpoints import edit_turn, message, opened, scenario, work  # noqa: F401 (fixture)


@pytest.fixture(autouse=True)
def private_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))


@pytest.fixture
async def recorded(start_server, work, tmp_path) -> Path:  # noqa: F811
    server = start_server(scenario(*edit_turn()))
    session = opened(server, work, tmp_path)
    await run_turn(session, "edit things")
    await session.undo()
    path = session.log_path
    await session.close()
    assert path is not None
    return path


def test_markdown_export_shows_each_turns_changes_with_its_diff(recorded):
    text = export_markdown(recorded)
    assert "### Changes (5 files)" in text
    assert "- `a.py (modified, +1 −1)`" in text
    assert "```diff" in text and "+changed" in text and "-print('hello')" in text
    assert "*Turn 1 undone (/undo):" in text


def test_json_export_holds_each_turns_changes_and_patch(recorded):
    turn = export_json(recorded)["turns"][0]
    changes = turn["changes"]
    assert {file["path"] for file in changes["files"]} == {"a.py", "new.txt", "pkg/b.py", "run.sh", "made/deep.txt"}
    assert "+new" in changes["patch"] and changes["before"] != changes["after"]
    assert [event["type"] for event in turn["afterwards"]] == ["changes_undone"]
    json.dumps(turn)


def test_a_replay_reads_a_recorded_turns_diff(recorded):
    event = next(event for event in history_events(recorded) if isinstance(event, TurnChanges))
    header = _header(recorded)
    diff = turn_diff(header, event)
    assert diff.title == "Turn 1" and "+changed" in diff.patch
    assert {file.path for file in diff.files} >= {"a.py", "new.txt"}


def test_a_replay_without_the_repository_still_lists_the_files(recorded, tmp_path):
    event = next(event for event in history_events(recorded) if isinstance(event, TurnChanges))
    header = {**_header(recorded), "workspace": str(tmp_path / "gone")}
    diff = turn_diff(header, event)
    assert "cannot be read here" in diff.patch and len(diff.files) == 5


def _header(path: Path) -> dict:
    from agent.resume import read_header

    return read_header(path)


async def test_undo_and_redo_after_a_resume_are_exported_after_the_turn_they_follow(
    start_server,
    work,  # noqa: F811
    tmp_path,
):
    server = start_server(scenario(*edit_turn()))
    session = opened(server, work, tmp_path)
    await run_turn(session, "edit things")
    path = session.log_path
    await session.close()
    resumed = opened(server, work, tmp_path, resume=path)
    await resumed.undo()
    await resumed.redo()
    await resumed.close()
    assert path is not None

    [turn] = export_json(path)["turns"]
    assert [event["type"] for event in turn["afterwards"]] == ["changes_undone", "changes_redone"]
    text = export_markdown(path)
    stats = text.index("*Turn 1 · completed · ")
    assert stats < text.index("*Turn 1 undone (/undo):") < text.index("*Turn 1 redone (/redo):")
    assert text.index("### Changes (5 files)") < stats, "the turn's changes stay part of the turn"


async def test_the_markdown_counts_one_response_in_the_singular(start_server, work, tmp_path):  # noqa: F811
    server = start_server(scenario({"output": [message("Hello.")]}))
    session = opened(server, work, tmp_path)
    await run_turn(session, "hi")
    path = session.log_path
    await session.close()
    assert path is not None
    text = export_markdown(path)
    assert "*Turn 1 · completed · 1 response · 0 tool calls · total " in text
    assert "**Session totals:** 1 turn · 1 response · 0 tool calls · " in text
