"""The slash-command registry as the `/` list and `/help` read it."""

from __future__ import annotations

from tui.slash import COMMANDS, key_help, matching_commands


def test_matching_commands_put_names_starting_with_the_text_first():
    assert [entry.name for entry in matching_commands("")] == list(COMMANDS)
    assert [entry.name for entry in matching_commands("re")] == ["resume", "replay", "redo"]
    assert [entry.name for entry in matching_commands("port")] == ["export"]
    assert matching_commands("nothing-like-it") == []


def test_help_lists_every_key_of_the_transcript_blocks_and_the_completion_lists():
    sections = dict(line.split(": ", 1) for line in key_help().splitlines())
    blocks = sections["Transcript blocks"]
    for entry in (
        "Ctrl+Up/Alt+Up",
        "Ctrl+Down/Alt+Down",
        "Up/k",
        "Down/j",
        "Enter Expand",
        "c Copy",
        "d Diff",
        "Esc To prompt",
    ):
        assert entry in blocks, entry
    completion = sections["Completion lists"]
    for entry in ("/ at the start", "@ the workspace files", "Up Move", "Tab Accept", "Esc Close"):
        assert entry in completion, entry
    assert "Tab Complete /command or @file" in sections["Prompt"]
    assert "PageUp Scroll" in sections["Prompt"]
    assert "Enter" not in sections["App"] and "Esc Interrupt" in sections["App"]
    pickers = sections["Pickers (/model, /effort)"]
    for entry in ("Typing Filter", "Enter Choose", "Esc Close", "Down Next", "Up Previous"):
        assert entry in pickers, entry


def test_help_lists_the_keys_of_the_diff_and_commit_screens():
    sections = dict(line.split(": ", 1) for line in key_help().splitlines())
    for entry in ("Up Previous file", "Down Next file", "PageDown Scroll down", "PageUp Scroll up", "Esc Close"):
        assert entry in sections["Diff (/diff)"], entry
    assert sections["Commit (/commit)"] == "Ctrl+S Commit · Esc Cancel"
