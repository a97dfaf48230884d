"""The approval card: "approve always" is offered only for a call that can become a rule."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console
from textual.widgets import Static

from tests.tui.conftest import SIZE, call, scenario, wait_idle
from tui.widgets.approval import HINT, HINT_WITHOUT_ALWAYS, ApprovalCard
from tui.widgets.prompt import PromptInput
from tui.widgets.tool_card import ToolCard

CHAINED = scenario(
    {"output": [call("shell", "s", command="cd pkg && ls | sort", timeout_s=None, workdir=None)]},
    {"output": [{"type": "message", "text": "ok"}]},
)


def shown(card: ApprovalCard, widget_id: str) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(card.query_one(widget_id, Static).content)
    return console.export_text().strip()


def enabled_keys(app, card: ApprovalCard) -> set[str]:
    return {key for key, active in app.active_bindings.items() if active.node is card and active.enabled}


async def card_of(app, pilot, prompt_text: str) -> ApprovalCard:
    """Send the prompt and wait for the approval card of the call."""
    prompt = app.query_one(PromptInput)
    prompt.focus()
    prompt.load_text(prompt_text)
    await pilot.press("enter")
    while not app.query(ApprovalCard):
        await pilot.pause(0.05)
    card = app.query_one(ApprovalCard)
    card.focus()
    await pilot.pause()
    return card


async def test_a_is_neither_offered_nor_accepted_for_a_call_without_a_rule_key(make_app, tmp_path: Path):
    app = make_app(CHAINED)
    async with app.run_test(size=SIZE) as pilot:
        card = await card_of(app, pilot, "list")
        assert card.request.rule_key is None
        assert shown(card, "#approval-hint") == HINT_WITHOUT_ALWAYS
        assert "not offered" in shown(card, "#approval-body")
        assert "a" not in enabled_keys(app, card)
        await pilot.press("a")
        await pilot.pause(0.3)
        assert card.decided is None
        assert app.session.agent.approvals.pending == ["s"]
        await pilot.press("y")
        await wait_idle(app, pilot)
        assert card.decided == "approve_once"
        assert app.session.agent.approvals.rules == set()
        assert [c.status for c in app.query(ToolCard)] == ["ok"]
    [log] = (tmp_path / "sessions").rglob("*.jsonl")
    records = [json.loads(line) for line in log.read_text().splitlines()]
    decisions = [r["decision"] for r in records if r["type"] == "approval_decided"]
    assert decisions == ["approve_once"]


async def test_a_is_offered_for_a_call_with_a_rule_key(make_app):
    edit = scenario(
        {"output": [call("read_file", "r", path="a.py", offset=None, limit=None)]},
        {"output": [call("edit_file", "e", path="a.py", old="hello", new="bye", replace_all=None)]},
        {"output": [{"type": "message", "text": "Done."}]},
    )
    app = make_app(edit)
    async with app.run_test(size=SIZE) as pilot:
        card = await card_of(app, pilot, "change it")
        assert card.request.rule_key is not None
        assert shown(card, "#approval-hint") == HINT
        assert "a" in enabled_keys(app, card)
        await pilot.press("y")
        await wait_idle(app, pilot)
        assert card.decided == "approve_once"


EDIT = scenario(
    {"output": [call("read_file", "r", path="a.py", offset=None, limit=None)]},
    {"output": [call("edit_file", "e", path="a.py", old="hello", new="bye", replace_all=None)]},
    {"output": [{"type": "message", "text": "Done."}]},
)


def rendered(widget) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(widget.content if hasattr(widget, "content") else widget.render())
    return console.export_text()


async def test_the_card_says_what_approve_always_covers_for_a_shell_prefix(make_app):
    app = make_app(
        scenario(
            {"output": [call("shell", "s", command="git status --short", timeout_s=None, workdir=None)]},
            {"output": [{"type": "message", "text": "ok"}]},
        )
    )
    async with app.run_test(size=SIZE) as pilot:
        card = await card_of(app, pilot, "status")
        assert card.request.rule_key == "shell:git status"
        body = shown(card, "#approval-body")
        assert "a = always approve, in this session: shell commands starting with `git status`" in body
        await pilot.press("a")
        await wait_idle(app, pilot)
        assert "always approved in this session: shell commands starting with `git status`" in shown(
            card, "#approval-hint"
        )
        assert app.session.agent.approvals.rules == {"shell:git status"}


async def test_the_card_says_what_approve_always_covers_for_a_file_tool(make_app):
    app = make_app(EDIT)
    async with app.run_test(size=SIZE) as pilot:
        card = await card_of(app, pilot, "change it")
        assert "a = always approve, in this session: every edit_file call" in shown(card, "#approval-body")
        await pilot.press("n")
        await pilot.press("enter")
        await wait_idle(app, pilot)


async def test_a_diff_is_shown_in_the_pending_approval_then_only_in_the_tool_card(make_app):
    app = make_app(EDIT)
    async with app.run_test(size=SIZE) as pilot:
        card = await card_of(app, pilot, "change it")
        [tool_card] = [c for c in app.query(ToolCard) if c.tool_name == "edit_file"]
        assert "+print('bye')" in shown(card, "#approval-body")
        assert "+print('bye')" not in rendered(tool_card)
        await pilot.press("y")
        await wait_idle(app, pilot)
        assert "+print('bye')" not in shown(card, "#approval-body")
        assert "edit a.py" in shown(card, "#approval-body")
        assert "+print('bye')" in rendered(tool_card)


async def test_the_tool_card_shows_its_run_time_and_its_approval_wait_apart(make_app, tmp_path: Path):
    app = make_app(EDIT)
    async with app.run_test(size=SIZE) as pilot:
        await card_of(app, pilot, "change it")
        await pilot.press("y")
        await wait_idle(app, pilot)
        cards = {c.tool_name: c for c in app.query(ToolCard)}
        edit_title = rendered(cards["edit_file"]).splitlines()[0]
        read_title = rendered(cards["read_file"]).splitlines()[0]
    [log] = (tmp_path / "sessions").rglob("*.jsonl")
    records = [json.loads(line) for line in log.read_text().splitlines()]
    [decided] = [r for r in records if r["type"] == "approval_decided"]
    [finished] = [r for r in records if r["type"] == "tool_finished" and r["call_id"] == "e"]
    assert f"ran {finished['duration_s']:.1f}s · waited {decided['waited_s']:.1f}s for approval" in edit_title
    assert "ran " in read_title and "waited" not in read_title
