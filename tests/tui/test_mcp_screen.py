"""`/mcp`: the MCP servers screen (Pilot, a real SDK server process behind a live session), an MCP
call approved on its card in the app, and a snapshot of the screen."""

from __future__ import annotations

from agent.mcp.manager import McpServerView, McpToolView
from tests.agent.mcp.conftest import stdio_server
from tests.tui.conftest import call, scenario, until, wait_idle
from tests.tui.test_app import send
from tests.tui.test_snapshots import replayed_app
from tui.screens.mcp import McpScreen
from tui.widgets.approval import ApprovalCard
from tui.widgets.tool_card import ToolCard

SIZE = (110, 36)
SERVERS = {"t": stdio_server(), "gone": {"command": "codeassist-no-such-server"}}
HELLO = scenario({"output": [{"type": "message", "text": "Hi."}]})


def detail(app) -> str:
    return str(app.screen.query_one("#mcp-detail").render())


def settled(app) -> bool:
    return isinstance(app.screen, McpScreen) and all(view.status in ("ready", "failed") for view in app.screen.views)


async def test_mcp_screen_lists_servers_moves_with_up_down_r_restarts_and_esc_closes(make_app):
    app = make_app(HELLO, mcp_servers=SERVERS, warmup=False)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "/mcp")
        await until(pilot, lambda: settled(app))
        screen = app.screen
        assert [(view.name, view.status) for view in screen.views] == [("t", "ready"), ("gone", "failed")]
        assert "mcp__t__echo" in detail(app) and "asks" in detail(app)
        await pilot.press("down")
        assert "not found" in detail(app) and "codeassist-no-such-server" in detail(app)
        await pilot.press("up")
        assert "mcp__t__add" in detail(app)
        await pilot.press("r")
        await until(pilot, lambda: screen.views[0].restarts == 1 and screen.views[0].status == "ready")
        assert "ready again with 12 tools" in str(screen.query_one("#mcp-status").render())
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, McpScreen)


async def test_an_mcp_call_asks_on_its_card_and_y_runs_it(make_app):
    app = make_app(
        scenario(
            {"output": [call("mcp__t__add", "c1", a=2, b=40)]},
            {"output": [{"type": "message", "text": "It is 42."}]},
        ),
        mcp_servers={"t": stdio_server()},
    )
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "add them")
        await until(pilot, lambda: bool(app.query(ApprovalCard)))
        card = app.query_one(ApprovalCard)
        assert card.request.tool == "mcp__t__add" and "MCP t · add" in card.request.summary
        await pilot.press("y")
        await wait_idle(app, pilot)
        tool = app.query_one(ToolCard)
        assert tool.status == "ok" and tool.output == "42"


VIEWS = [
    McpServerView(
        name="files",
        transport="stdio",
        target="npx -y @modelcontextprotocol/server-filesystem .",
        status="ready",
        reason=None,
        tools=(
            McpToolView("mcp__files__read_text", "read_text", "Read a text file.", True, True),
            McpToolView("mcp__files__write", "write", "Write a file \x1b[31mnow\x1b[0m.", False, True),
            McpToolView("mcp__files__search", "search", "Search with free-form filters.", False, False),
            McpToolView("", "odd", "Takes a string.", False, False, "its input schema is not an object schema"),
        ),
        restarts=1,
    ),
    McpServerView(
        name="tracker",
        transport="http",
        target="https://mcp.example.com/mcp",
        status="failed",
        reason="cannot connect: All connection attempts failed",
        tools=(),
        restarts=0,
    ),
    McpServerView("old", "stdio", "old-server", "disabled", None, (), 0),
]


def test_mcp_screen(snap_compare, tmp_path, monkeypatch):
    """Expect the MCP servers box over the dimmed replay: files (ready · 3 tools, stdio, highlighted),
    tracker (failed, http), old (disabled); below, files' command line, "ready · started again 1×",
    its tools: mcp__files__read_text runs without asking, mcp__files__write asks (its description's
    escape sequence drawn harmless), mcp__files__search asks with a non-strict schema, odd struck
    through and not offered (its schema); then the keys."""
    app = replayed_app(tmp_path, monkeypatch)

    async def opened(pilot) -> None:
        await app.workers.wait_for_complete()
        app.push_screen(McpScreen(lambda: list(VIEWS)))
        await until(pilot, lambda: isinstance(app.screen, McpScreen) and bool(app.screen.views))
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(100, 32), run_before=opened)


async def test_mcp_screen_without_servers_says_how_to_add_one(make_app):
    app = make_app(HELLO)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "/mcp")
        await until(pilot, lambda: isinstance(app.screen, McpScreen))
        assert app.screen.views == []
        assert "No MCP servers are configured" in detail(app) and "[mcp_servers.files]" in detail(app)
        await pilot.press("r")  # nothing to restart: nothing happens
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, McpScreen)
