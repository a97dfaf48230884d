"""What `Session` does with MCP servers (a mixin, so the facade keeps only its hook lines).

The servers start when the session warms up or, at the latest, before its first turn's first
request (`agent.mcp.manager` says why then); their tools then join the registry and the request's
tool list, and the user hears of each server that failed, once.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncGenerator
from contextlib import aclosing
from pathlib import Path
from typing import TYPE_CHECKING

from agent.conversation import RequestSettings
from agent.events import AgentEvent, Notice, TurnStarted
from agent.mcp.manager import McpServers, McpServerView
from agent.mcp.tool import McpTool
from agent.session_models import tool_specs
from agent.tools import ToolRegistry

if TYPE_CHECKING:
    from agent.catalogue import Catalogue
    from agent.config import Settings
    from agent.loop import Agent


class SessionMcp:
    """The MCP part of `Session`: `mcp_servers`, `restart_mcp_server`, and the hooks."""

    agent: Agent
    settings: Settings
    workspace: Path
    if TYPE_CHECKING:

        @property
        def catalogue(self) -> Catalogue: ...

    _mcp: McpServers | None = None
    _mcp_turn_began = False
    _mcp_stop: asyncio.Event | None = None

    @property
    def mcp(self) -> McpServers:
        """The session's MCP servers (built from the settings on first use; none start yet)."""
        if self._mcp is None:
            builtin = sum(1 for tool in self.agent.tools if not isinstance(tool, McpTool))
            self._mcp = McpServers.from_settings(self.settings.mcp_servers, self.workspace, builtin)
        return self._mcp

    def mcp_servers(self) -> list[McpServerView]:
        """Every configured MCP server: its status (starting, ready, failed and why, disabled) and tools."""
        return self.mcp.views()

    def start_mcp(self) -> None:
        """Start the MCP servers in the background now (`/mcp`), if nothing started them yet; the
        next request still waits for them."""
        self.mcp.start()

    async def prepare_mcp(self) -> None:
        """Start the MCP servers (if not yet) and wait for them; their tools join the request's
        tool list."""
        servers = self.mcp
        if not servers:
            return
        await servers.ready()
        if servers.tools() and not any(isinstance(tool, McpTool) for tool in self.agent.tools):
            self._offer_mcp_tools()

    def take_mcp_notices(self) -> list[str]:
        """What the user has not been told yet about the MCP servers (each one that failed, once)."""
        return self.mcp.take_notices() if self._mcp is not None else []

    async def restart_mcp_server(self, name: str) -> list[str]:
        """Stop and start an MCP server again (its tools listed anew; the next request resends
        everything, since the tool list changed); what to tell the user.

        Raises:
            KeyError: no server has that name.
        """
        notices = await self.mcp.restart(name)
        self._offer_mcp_tools()
        return notices

    def _offer_mcp_tools(self) -> None:
        builtin = [tool for tool in self.agent.tools if not isinstance(tool, McpTool)]
        registry = ToolRegistry([*builtin, *self.mcp.tools()])
        self.agent.tools = registry
        conversation = self.agent.conversation
        model = conversation.settings.model
        offered = tool_specs(registry, self.catalogue.lookup(model))  # apply_patch in the model's form
        specs = RequestSettings.build(model=model, instructions=None, tools=offered).tools
        conversation.update_settings(dataclasses.replace(conversation.settings, tools=specs))

    async def mcp_before_warm_up(self) -> bool:
        """Before the warm-up request: the servers' tools are in it. False when a turn began
        meanwhile (its request is the first; a warm-up now would race it)."""
        await self.prepare_mcp()
        return not self._mcp_turn_began

    async def with_mcp(self, events: AsyncGenerator[AgentEvent]) -> AsyncGenerator[AgentEvent]:
        """A turn's `events`, its first request held (right after `TurnStarted`) until the MCP
        servers are ready or failed; each failure is said once, there."""
        self._mcp_turn_began = True
        servers = self.mcp
        stop = self._mcp_stop = asyncio.Event()
        try:
            async with aclosing(events) as stream:
                async for event in stream:
                    yield event
                    if not isinstance(event, TurnStarted) or not servers:
                        continue
                    if not (servers.started and servers.settled):
                        waiting = Notice(message="Waiting for the MCP servers to start…", waiting="mcp_servers")
                        self._record_notice(waiting)  # the record holds what the caller saw
                        yield waiting
                    await self._prepare_unless(stop)
                    for message in self.take_mcp_notices():
                        notice = Notice(message=message)
                        self._record_notice(notice)
                        yield notice
        finally:
            self._mcp_stop = None

    async def _prepare_unless(self, stop: asyncio.Event) -> None:
        """`prepare_mcp`, unless `stop` is set first (the turn was cancelled: the servers go on
        starting, and the next turn waits for them)."""
        preparing = asyncio.ensure_future(self.prepare_mcp())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({preparing, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
            if not preparing.done():
                preparing.cancel()
            await asyncio.gather(preparing, stopping, return_exceptions=True)

    def stop_waiting_for_mcp(self) -> None:
        """The turn is cancelled: stop waiting for MCP servers to start (Esc)."""
        if self._mcp_stop is not None:
            self._mcp_stop.set()

    def _record_notice(self, event: AgentEvent) -> None:
        recorder = self.agent.recorder
        if recorder is not None:
            recorder.event(event)

    async def close_mcp(self) -> None:
        """Stop the MCP servers."""
        if self._mcp is not None:
            await self._mcp.close()
