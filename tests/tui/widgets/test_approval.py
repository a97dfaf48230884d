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
