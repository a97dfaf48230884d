"""The base prompt keeps its promises: every tool by name, the rules the tools and approvals enforce."""

from __future__ import annotations

from agent.instructions import BASE_INSTRUCTIONS
from agent.tools import default_tools


def test_the_prompt_is_worth_reading_and_bounded() -> None:
    assert 2000 < len(BASE_INSTRUCTIONS) < 6000
    assert BASE_INSTRUCTIONS.startswith("You are codeassist, a coding agent")
    assert "terminal" in BASE_INSTRUCTIONS and "repository" in BASE_INSTRUCTIONS


def test_every_registered_tool_is_named() -> None:
    for tool in default_tools():
        assert tool.name in BASE_INSTRUCTIONS, tool.name


def test_the_tool_rules_are_stated() -> None:
    text = BASE_INSTRUCTIONS
    assert "have not read with\n  read_file" in text, "read before editing, enforced"
    assert "apply_patch for edits with several hunks or across several files" in text
    assert "no stdin and no terminal" in text and "--no-pager" in text and "PAGER=cat" in text
    assert "exactly one step in_progress" in text and "completed" in text


def test_approvals_denials_checkpoints_and_answers_are_explained() -> None:
    text = BASE_INSTRUCTIONS
    assert "denies means no. Do not send the same call again" in text
    assert "read-only" in text and "workspace-write" in text
    assert "/undo" in text and "/diff" in text
    assert "`path:line`" in text
    assert "Say what you verified" in text
