"""Tool cards of calls that run together: shown running at once, each answered on Esc.

The `held` tool reads nothing and returns only when the test lets it, so the picture of calls
running together can be looked at while it lasts.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import Field

from agent.tools import ToolArgs, ToolContext, ToolResult, read_only_tools
from agent.tools.base import Tool
from agent.transport.scripted import function_call, message, response_events
from tests.agent.scripted import scripted_agent
from tests.tui.conftest import SIZE, call, scenario, until, wait_idle
from tests.tui.test_router import RouterApp
from tui.widgets.prompt import PromptInput
from tui.widgets.status_line import StatusLine
from tui.widgets.tool_card import ToolCard


class HeldArgs(ToolArgs):
    path: str = Field(description="What it pretends to read")


class Held(Tool[HeldArgs]):
    """A reading tool that may run alongside others and returns once the test lets it."""

    name = "held"
    description = "Wait."
    Args = HeldArgs
    parallel_safe = True

    def __init__(self, count: int) -> None:
        self.count = count
        self.running = 0
        self.all_running = asyncio.Event()
        self.release = asyncio.Event()

    async def run(self, args: HeldArgs, ctx: ToolContext) -> ToolResult:
        self.running += 1
        if self.running == self.count:
            self.all_running.set()
        await self.release.wait()
        return ToolResult(output="released")


async def test_the_cards_of_calls_running_together_all_show_running_while_they_run(tmp_path: Path):
    held = Held(4)
    agent, _ = scripted_agent(
        tmp_path,
        response_events(*(function_call("held", f"c{n}", {"path": f"part{n}.py"}) for n in (1, 2, 3, 4))),
        response_events(message("done")),
        tools=[held],
    )
    app = RouterApp()
    async with app.run_test() as pilot:

        async def drive() -> None:
            async for event in agent.run_turn("wait"):
                await app.router.route(event)

        turn = asyncio.ensure_future(drive())
        await asyncio.wait_for(held.all_running.wait(), 10)
        await pilot.pause()
        assert [(card.call_id, card.status) for card in app.query(ToolCard)] == [
            ("c1", "running"),
            ("c2", "running"),
            ("c3", "running"),
            ("c4", "running"),
        ]
        assert "running" in str(app.query(ToolCard).first().render())
        held.release.set()
        await asyncio.wait_for(turn, 10)
        await pilot.pause()
        assert [card.status for card in app.query(ToolCard)] == ["ok"] * 4


async def test_esc_while_calls_run_together_answers_every_card(make_app):
    held = Held(3)
    app = make_app(
        scenario(
            {"output": [call("held", f"c{n}", path=f"part{n}.py") for n in (1, 2, 3)]},
            {"output": [{"type": "message", "text": "Fresh."}]},
        )
    )
    app.session_options["tools"] = [*read_only_tools(), held]
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(PromptInput).load_text("wait")
        await pilot.press("enter")
        await until(pilot, held.all_running.is_set)
        assert [card.status for card in app.query(ToolCard)] == ["running"] * 3
        line = app.query_one(StatusLine)
        assert "running 3 calls together: held path='part1.py' and 2 more · " in line.describe(line._now()).plain
        await pilot.press("escape")
        await wait_idle(app, pilot)
        assert [card.status for card in app.query(ToolCard)] == ["aborted"] * 3
        answered = app.session.agent.conversation.ledger.answered
        assert {"c1", "c2", "c3"} <= answered
