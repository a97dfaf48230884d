"""The session's MCP servers: started lazily, watched, restarted, and described for `/mcp`.

When: nothing here runs before the app's first frame. `start` is called when the session warms up
(right after the first frame, in the background) or, at the latest, by the first turn, which waits
for every server to be ready or failed (each within its `start_timeout_s`) before its first
request: the request's tool list is then complete from the first request on, so adding the tools
never breaks the chain of incremental requests (a changed tool list forces a full resend).

A server that fails to start is told once and left out; the session goes on without it. A server
that stopped is started again on the next call of one of its tools: a stdio server's end is seen
when its output ends; an HTTP server's only when a call to it fails. A call the server was
answering when it stopped (or an HTTP call that found it gone) fails, saying it may or may not
have run.
"""

from __future__ import annotations

import asyncio
import importlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from agent.mcp.config import McpServerConfig, parse_servers
from agent.mcp.names import offered_name
from agent.mcp.tool import McpTool, tool_class
from agent.terminal_text import safe_terminal_text
from agent.tools.base import ToolError, ToolResult

if TYPE_CHECKING:
    from agent.mcp.connection import McpConnection

MAX_TOOLS = 128
"""Tools one request may offer (the Responses API's limit), built-in ones included."""
MAX_DESCRIPTION = 2000
"""Characters of a server tool's description passed to the model."""

Status = Literal["disabled", "not started", "starting", "ready", "failed"]


@dataclass(frozen=True)
class McpToolView:
    """One of a server's tools, as `/mcp` shows it."""

    name: str
    """The name the model calls it by (`mcp__<server>__<tool>`)."""
    remote_name: str
    description: str
    read_only: bool
    """Runs without asking (the server marks it read-only and the user trusts that)."""
    strict: bool
    """Offered with a strict schema."""
    left_out: str | None = None
    """Why it is not offered to the model (None: it is)."""


@dataclass(frozen=True)
class McpServerView:
    """One server, as `/mcp` shows it."""

    name: str
    transport: str
    target: str
    """Its command line or URL (never its env or headers)."""
    status: Status
    reason: str | None
    """Why it failed (or what it is doing)."""
    tools: tuple[McpToolView, ...]
    restarts: int


@dataclass
class _Server:
    config: McpServerConfig
    status: Status = "not started"
    reason: str | None = None
    connection: McpConnection | None = None
    tools: list[McpTool] = field(default_factory=list)
    views: list[McpToolView] = field(default_factory=list)
    restarts: int = 0
    told: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class McpServers:
    """The MCP servers of one session.

    Args:
        configs: the servers as configured, by name.
        workspace: where stdio servers run unless their `cwd` says otherwise.
        room: how many tools may be offered beside the built-in ones.
    """

    def __init__(self, configs: dict[str, McpServerConfig], workspace: Path, room: int = MAX_TOOLS) -> None:
        self.workspace = workspace
        self.room = room
        self._servers = {
            name: _Server(config, status="not started" if config.enabled else "disabled")
            for name, config in configs.items()
        }
        self._start: asyncio.Task[None] | None = None
        self._closed = False

    @classmethod
    def from_settings(cls, raw: dict[str, Any], workspace: Path, builtin: int) -> McpServers:
        """The servers of the `mcp_servers` setting (already checked by `Settings`)."""
        return cls(parse_servers(raw), workspace, room=max(0, MAX_TOOLS - builtin))

    def __bool__(self) -> bool:
        return any(server.config.enabled for server in self._servers.values())

    @property
    def started(self) -> bool:
        """Whether `start` was called."""
        return self._start is not None

    @property
    def settled(self) -> bool:
        """Whether every enabled server is ready or failed (true before any start too)."""
        return self._start is None or self._start.done()

    def start(self) -> None:
        """Start every enabled server in the background (once; later calls do nothing)."""
        if self._start is None and self:
            self._start = asyncio.ensure_future(self._start_all())

    async def ready(self) -> None:
        """Start the servers if nobody did, and wait until each is ready or failed."""
        self.start()
        if self._start is not None:
            await asyncio.shield(self._start)

    def take_notices(self) -> list[str]:
        """What the user has not been told yet: each server that failed to start, once."""
        notices = []
        for name, server in self._servers.items():
            if server.status == "failed" and not server.told:
                server.told = True
                notices.append(
                    f"MCP server {name!r} failed to start: {server.reason}. The session goes on without its tools."
                )
        return notices

    def tools(self) -> list[McpTool]:
        """The tools offered to the model: those of the ready servers, in the configured order."""
        return [tool for server in self._servers.values() if server.status == "ready" for tool in server.tools]

    def views(self) -> list[McpServerView]:
        """Every configured server, its status and its tools."""
        return [
            McpServerView(
                name=name,
                transport=server.config.transport,
                target=server.config.target,
                status=server.status,
                reason=server.reason,
                tools=tuple(server.views),
                restarts=server.restarts,
            )
            for name, server in self._servers.items()
        ]

    async def _start_all(self) -> None:
        await asyncio.gather(
            *(self._first_open(server) for server in self._servers.values() if server.config.enabled),
            return_exceptions=True,
        )
        self._offer()

    async def _first_open(self, server: _Server) -> None:
        """Start `server` unless a restart (`/mcp`) started it meanwhile (under its lock: one process)."""
        async with server.lock:
            if server.connection is None:
                await self._open(server)

    async def _open(self, server: _Server) -> None:
        """Start `server` and list its tools; on failure its status says why (and `ToolError` is
        raised for a restart)."""
        server.status, server.reason = "starting", None
        try:
            module = await asyncio.to_thread(importlib.import_module, "agent.mcp.connection")
            connection = module.McpConnection(server.config, self.workspace)
            try:
                listed: list[Any] = await connection.open()
            except module.StartFailed as exc:
                server.status, server.reason = "failed", safe_terminal_text(str(exc))
                raise ToolError(str(exc)) from None
        except ToolError:
            raise
        except ImportError as exc:
            server.status, server.reason = "failed", f"the mcp package cannot be imported ({exc})"
            raise ToolError(server.reason) from None
        except Exception as exc:  # e.g. no temporary file for its stderr: the server is left out, saying why
            server.status, server.reason = "failed", safe_terminal_text(f"{type(exc).__name__}: {exc}")
            raise ToolError(server.reason) from None
        if self._closed:  # the session closed while it started: stop it, not leave it running
            await connection.close()
            server.status, server.reason = "failed", "the session is closing"
            raise ToolError(server.reason)
        server.connection = connection
        server.status = "ready"
        if not server.tools:
            self._describe(server, listed)

    def _describe(self, server: _Server, listed: list[Any]) -> None:
        """Build the tool classes of a freshly started server (not yet offered: `_offer`)."""
        from agent.mcp.schema import schema_problem

        server.views = []
        server.tools = []
        for tool in listed:
            remote = str(tool.name)
            schema = tool.input_schema if isinstance(tool.input_schema, dict) else {}
            annotations = tool.annotations
            read_only = bool(server.config.trust_read_only_hint and annotations and annotations.read_only_hint)
            description = str(tool.description or tool.title or remote).strip()[:MAX_DESCRIPTION]
            try:
                problem = schema_problem(schema)
            except Exception as exc:  # e.g. nested deeper than the checker can follow: that tool is left out
                problem = f"its input schema could not be read ({type(exc).__name__})"
            if problem is None:
                try:
                    made = tool_class(
                        name="",
                        server=server.config.name,
                        remote_name=remote,
                        description=description,
                        input_schema=schema,
                        read_only=read_only,
                    )
                except Exception as exc:  # a schema no rule above foresaw: that tool is left out
                    problem = f"its input schema could not be read ({type(exc).__name__})"
                else:
                    server.tools.append(made(self._caller(server)))
            server.views.append(McpToolView("", remote, safe_terminal_text(description), read_only, False, problem))

    def _offer(self) -> None:
        """Name the ready servers' tools (`mcp__<server>__<tool>`, unique) within the room left."""
        taken: set[str] = set()
        offered = 0
        for server in self._servers.values():
            if server.status != "ready":
                continue
            kept = []
            views = []
            classes = iter(server.tools)
            for view in server.views:
                if view.left_out is not None:
                    views.append(view)
                    continue
                tool = next(classes)
                if offered >= self.room:
                    views.append(replace(view, left_out=f"over the {MAX_TOOLS} tools a request may offer"))
                    continue
                name = offered_name(server.config.name, view.remote_name, taken)
                type(tool).name = name
                kept.append(tool)
                offered += 1
                views.append(replace(view, name=name, strict=type(tool).strict))
            server.tools, server.views = kept, views

    def _caller(self, server: _Server) -> Any:
        async def call(remote_name: str, arguments: dict[str, Any]) -> ToolResult:
            return await self._call(server, remote_name, arguments)

        return call

    async def _call(self, server: _Server, remote_name: str, arguments: dict[str, Any]) -> ToolResult:
        from agent.mcp.connection import CallFailed, ConnectionLost
        from agent.mcp.results import tool_result

        name = server.config.name
        connection = await self._running(server)
        try:
            result = await connection.call(remote_name, arguments)
        except ConnectionLost as exc:
            connection.lose()
            server.status, server.reason = "failed", f"it stopped: {safe_terminal_text(str(exc))}"
            raise ToolError(
                f"The MCP server {name!r} stopped while answering ({exc}): the call may or may not have taken "
                "effect. The server is started again on the next call of one of its tools."
            ) from None
        except CallFailed as exc:
            raise ToolError(f"The MCP server {name!r} could not run {remote_name}: {exc}.") from None
        return tool_result(result)

    async def _running(self, server: _Server) -> McpConnection:
        """`server`'s connection, started again first if the server stopped."""
        async with server.lock:
            connection = server.connection
            if connection is not None and connection.alive():
                return connection
            server.connection = None
            if connection is not None:
                await connection.close()
            try:
                await self._open(server)
            except ToolError as exc:
                raise ToolError(
                    f"The MCP server {server.config.name!r} stopped and could not be started again: {exc}."
                ) from None
            server.restarts += 1
            assert server.connection is not None
            return server.connection

    async def restart(self, name: str) -> list[str]:
        """Stop and start the server `name` again (`/mcp`), re-listing its tools; notices for the
        user. Its tools change the request's tool list: the next request resends everything.

        Raises:
            KeyError: no server has that name.
        """
        server = self._servers[name]
        if not server.config.enabled:
            return [f"The MCP server {name!r} is disabled in the config (enabled = false)."]
        async with server.lock:
            server.status, server.reason = "starting", None  # shown at once, while the old one stops
            if server.connection is not None:
                await server.connection.close()
                server.connection = None
            server.tools, server.views = [], []
            try:
                await self._open(server)
            except ToolError:
                return [f"The MCP server {name!r} failed to start again: {server.reason}."]
            server.restarts += 1
        self._offer()
        return [f"The MCP server {name!r} is ready again with {len(server.tools)} tools."]

    async def close(self) -> None:
        """Stop every server, all at once (a start still running is cancelled; one a restart
        still starts is stopped as soon as it is up)."""
        self._closed = True
        if self._start is not None and not self._start.done():
            self._start.cancel()
            await asyncio.gather(self._start, return_exceptions=True)
        connections = [server.connection for server in self._servers.values() if server.connection is not None]
        for server in self._servers.values():
            server.connection = None
        await asyncio.gather(*(connection.close() for connection in connections), return_exceptions=True)
