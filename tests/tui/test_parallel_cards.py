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
from tests.agent.mcp.conftest import stdio_server
from tests.agent.scripted import scripted_agent
from tests.tui.conftest import SIZE, call, scenario, until, wait_idle
from tests.tui.test_router import RouterApp
from tui.app import CodeassistApp
from tui.widgets.approval import ApprovalCard
from tui.widgets.prompt import PromptInput
from tui.widgets.status_line import StatusLine
from tui.widgets.tool_card import ToolCard
from tui.widgets.transcript import Transcript


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


def cards_in_order(app: CodeassistApp) -> list[tuple[str, str]]:
    """The transcript's tool and approval cards, top to bottom: (kind, call id)."""
    shown = []
    for widget in app.query_one(Transcript).children:
        if isinstance(widget, ToolCard):
            shown.append(("tool", widget.call_id))
        elif isinstance(widget, ApprovalCard):
            shown.append(("approval", widget.request.call_id))
    return shown


async def approve_each(app: CodeassistApp, pilot, count: int) -> None:
    """Answer `count` approval cards with `y`, one after the other, as each appears."""
    for answered in range(count):
        await until(pilot, lambda: sum(card.pending for card in app.query(ApprovalCard)) == 1)
        assert len(app.query(ApprovalCard)) == answered + 1
        await pilot.press("y")
    await wait_idle(app, pilot)


async def test_an_approval_card_sits_under_its_own_call_among_calls_of_parallel_groups(make_app, repo):
    app = make_app(
        scenario(
            {
                "output": [
                    call("read_file", "r", path="a.py", offset=None, limit=None),
                    call("shell", "s", command="touch made.txt", timeout_s=None, workdir=None),
                    call("grep", "g", pattern="X", path=None, glob=None),
                ]
            },
            {"output": [{"type": "message", "text": "Done."}]},
        )
    )
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(PromptInput).load_text("go")
        await pilot.press("enter")
        await approve_each(app, pilot, 1)
        assert [card.status for card in app.query(ToolCard)] == ["ok"] * 3
        assert cards_in_order(app) == [("tool", "r"), ("tool", "s"), ("approval", "s"), ("tool", "g")]


async def test_two_mcp_calls_of_one_response_each_have_their_approval_under_them(make_app):
    app = make_app(
        scenario(
            {"output": [call("mcp__t__add", "c1", a=1, b=2), call("mcp__t__add", "c2", a=3, b=4)]},
            {"output": [{"type": "message", "text": "3 and 7."}]},
        ),
        mcp_servers={"t": stdio_server()},
    )
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(PromptInput).load_text("add")
        await pilot.press("enter")
        await approve_each(app, pilot, 2)
        assert [card.status for card in app.query(ToolCard)] == ["ok"] * 2
        assert cards_in_order(app) == [("tool", "c1"), ("approval", "c1"), ("tool", "c2"), ("approval", "c2")]
