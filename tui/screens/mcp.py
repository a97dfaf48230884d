"""`McpScreen` (`/mcp`): the MCP servers of the session, their status and their tools.

The server list keeps the focus: Up/Down move through it, the highlighted server's details (what
it runs or where it is, why it failed, each tool with the name the model calls it by) show below;
`r` starts it again (its tools listed anew); Esc closes. The list is read again while a server is
starting, so the screen follows it. Names, descriptions and reasons come from the servers and the
config: everything drawn goes through `agent.terminal_text` first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from agent.terminal_text import safe_terminal_text

if TYPE_CHECKING:
    from agent.session import McpServerView

Servers = Callable[[], "list[McpServerView]"]
Restart = Callable[[str], Awaitable[list[str]]]

STATUS_STYLES = {
    "ready": "$success",
    "starting": "$warning",
    "not started": "$text-muted",
    "failed": "$error",
    "disabled": "$text-muted",
}
REFRESH_S = 0.5
"""How often the list is read again while a server is starting."""


def server_label(view: McpServerView, width: int) -> Content:
    """`files      ready · 4 tools   stdio` (a failed or disabled server says so)."""
    offered = sum(1 for tool in view.tools if tool.left_out is None)
    status = view.status + (f" · {offered} tools" if view.status == "ready" else "")
    return Content.assemble(
        (safe_terminal_text(view.name).ljust(width) + "  ", "bold"),
        (status.ljust(18), STATUS_STYLES.get(view.status, "")),
        (view.transport, "$text-muted"),
    )


def server_details(view: McpServerView) -> Text:
    """What the server runs (or where it is), its status and why, and each tool."""
    text = Text()
    text.append(f"{safe_terminal_text(view.target)}\n", style="dim")
    text.append(view.status, style="bold")
    if view.restarts:
        text.append(f" · started again {view.restarts}×")
    if view.reason:
        text.append(f": {safe_terminal_text(view.reason)}")
    text.append("\n")
    if view.status == "disabled":
        text.append("\nenabled = false in the config: it is not started.\n", style="dim")
    for tool in view.tools:
        text.append("\n")
        if tool.left_out is not None:
            text.append(f"{safe_terminal_text(tool.remote_name)}", style="strike dim")
            text.append(f"  not offered: {safe_terminal_text(tool.left_out)}\n", style="dim")
            continue
        text.append(safe_terminal_text(tool.name), style="bold")
        marks = ["runs without asking (read-only hint trusted)" if tool.read_only else "asks"]
        if not tool.strict:
            marks.append("non-strict schema")
        text.append(f"  {' · '.join(marks)}\n", style="dim")
        text.append(f"  {safe_terminal_text(tool.description)}\n")
    return text


class McpScreen(ModalScreen[None]):
    """The session's MCP servers over the dimmed app.

    Args:
        servers: reads the servers' current state (`Session.mcp_servers`).
        restart: starts a server again by name (`Session.restart_mcp_server`); what to say.
    """

    CSS_PATH = Path(__file__).with_name("mcp.tcss")
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("r", "restart", "Restart server"),
    ]
    NAME_COLUMN = 24

    def __init__(self, servers: Servers, restart: Restart | None = None) -> None:
        super().__init__()
        self.read_servers = servers
        self.restart = restart
        self.views: list[McpServerView] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="mcp"):
            yield Static(Text("MCP servers"), id="mcp-title")
            yield OptionList(id="mcp-servers")
            with VerticalScroll(id="mcp-details"):
                yield Static("", id="mcp-detail")
            yield Static("", id="mcp-status")
            yield Static(Text("↑↓ server · r restart · Esc close"), id="mcp-keys")

    def on_mount(self) -> None:
        self.refresh_servers()
        self.query_one("#mcp-servers", OptionList).focus()
        self.set_interval(REFRESH_S, self._follow_starting)

    def refresh_servers(self) -> None:
        """Read the servers again and redraw the list (the highlighted one stays highlighted)."""
        self.views = self.read_servers()
        servers = self.query_one("#mcp-servers", OptionList)
        highlighted = servers.highlighted or 0
        servers.clear_options()
        if not self.views:
            servers.display = False
            self.query_one("#mcp-detail", Static).update(
                Text(
                    "No MCP servers are configured. Add one to the config file, e.g.\n\n"
                    '[mcp_servers.files]\ncommand = "npx"\nargs = ["-y", "@modelcontextprotocol/server-filesystem", "."]\n\n'
                    "(docs/mcp.md)"
                )
            )
            return
        width = min(max(len(view.name) for view in self.views), self.NAME_COLUMN)
        servers.add_options(Option(server_label(view, width), id=view.name) for view in self.views)
        servers.highlighted = min(highlighted, len(self.views) - 1)
        self._show(servers.highlighted)

    def _follow_starting(self) -> None:
        if any(view.status in ("starting", "not started") for view in self.views):
            self.refresh_servers()

    @on(OptionList.OptionHighlighted, "#mcp-servers")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._show(event.option_index)

    def _show(self, index: int | None) -> None:
        if index is None or index >= len(self.views):
            return
        self.query_one("#mcp-detail", Static).update(server_details(self.views[index]))

    def action_restart(self) -> None:
        """`r`: start the highlighted server again."""
        index = self.query_one("#mcp-servers", OptionList).highlighted
        if self.restart is None or index is None or index >= len(self.views):
            return
        self._restart(self.views[index].name)

    @work(exclusive=True, group="mcp-restart", exit_on_error=False)
    async def _restart(self, name: str) -> None:
        assert self.restart is not None
        status = self.query_one("#mcp-status", Static)
        status.update(Text(f"starting {safe_terminal_text(name)} again…"))
        restarting = asyncio.ensure_future(self.restart(name))
        await asyncio.sleep(0)  # the restart marks the server starting: the list says so until it is up
        self.refresh_servers()
        try:
            said = await restarting
        except Exception as exc:  # a defect: said here, the screen stays usable
            said = [f"{name} could not be started again: {exc}"]
        if not self.is_attached:
            return
        status.update(Text(safe_terminal_text(" ".join(said)) + " The next request sends everything again."))
        self.refresh_servers()

    def action_close(self) -> None:
        """Esc: close the screen."""
        self.dismiss(None)
