"""The servers of a session without a model: the tool budget of a request, restarts by name."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

import pytest

from agent.mcp.config import parse_servers
from agent.mcp.manager import MAX_TOOLS, McpServers
from tests.agent.mcp.conftest import SERVER_SCRIPT, stdio_server


async def test_tools_past_the_requests_budget_are_left_out_and_said(tmp_path: Path):
    servers = McpServers(parse_servers({"t": stdio_server()}), tmp_path, room=3)
    try:
        await servers.ready()
        assert [tool.name for tool in servers.tools()] == ["mcp__t__echo", "mcp__t__add", "mcp__t__picture"]
        left = [view for view in servers.views()[0].tools if view.left_out]
        assert left and all(view.left_out == f"over the {MAX_TOOLS} tools a request may offer" for view in left)
    finally:
        await servers.close()


async def test_restart_by_name_and_a_disabled_or_unknown_server(tmp_path: Path):
    table = {"t": stdio_server(), "off": stdio_server(enabled=False)}
    servers = McpServers(parse_servers(table), tmp_path)
    try:
        assert not servers.started and servers.settled
        await servers.ready()
        restarting = asyncio.ensure_future(servers.restart("t"))
        await asyncio.sleep(0)
        assert [view.status for view in servers.views()] == ["starting", "disabled"], "told at once"
        assert await restarting == ["The MCP server 't' is ready again with 12 tools."]
        assert servers.views()[0].restarts == 1
        assert await servers.restart("off") == ["The MCP server 'off' is disabled in the config (enabled = false)."]
        with pytest.raises(KeyError):
            await servers.restart("nope")
    finally:
        await servers.close()


async def test_an_http_server_nobody_answers_at_is_named_by_its_url(tmp_path: Path):
    with socket.socket() as probe:  # a loopback port nothing listens on once the probe closes
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/mcp"
    servers = McpServers(parse_servers({"web": {"url": url, "start_timeout_s": 20}}), tmp_path)
    try:
        await servers.ready()
        (view,) = servers.views()
        assert view.status == "failed" and view.reason is not None
        assert view.reason.startswith(f"cannot connect to {url}:"), view.reason
    finally:
        await servers.close()


async def test_no_enabled_server_starts_nothing(tmp_path: Path):
    servers = McpServers(parse_servers({"off": stdio_server(enabled=False)}), tmp_path)
    await servers.ready()
    assert not servers and not servers.started and servers.tools() == []
    assert [view.status for view in servers.views()] == ["disabled"]


async def test_a_missing_directory_and_a_server_that_exits_at_once_say_why(tmp_path: Path):
    table = {"nodir": stdio_server(cwd="no/such/dir"), "ok": stdio_server(cwd=".")}
    servers = McpServers(parse_servers(table), tmp_path)
    try:
        await servers.ready()
        views = {view.name: view for view in servers.views()}
        assert views["nodir"].status == "failed"
        assert views["nodir"].reason == f"its directory {tmp_path / 'no/such/dir'} does not exist"
        assert views["ok"].status == "ready"
        assert [notice.split(":")[0] for notice in servers.take_notices()] == ["MCP server 'nodir' failed to start"]
        assert servers.take_notices() == []
    finally:
        await servers.close()


async def test_a_server_past_its_start_timeout_says_what_its_stderr_ended_with(tmp_path: Path):
    script = "import sys, time; print('still loading the index', file=sys.stderr, flush=True); time.sleep(600)"
    table = {"slow": {"command": sys.executable, "args": ["-c", script], "start_timeout_s": 3}}
    servers = McpServers(parse_servers(table), tmp_path)
    try:
        await servers.ready()
        [view] = servers.views()
        assert view.status == "failed"
        assert view.reason == "it did not start within 3 s (start_timeout_s); its stderr ends: still loading the index"
    finally:
        await servers.close()


def _server_processes() -> set[int]:
    """The test server processes this test process started that are still running."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if int(fields[1]) == os.getpid() and fields[0] != "Z" and SERVER_SCRIPT.encode() in command:
            found.add(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
async def test_a_restart_while_the_servers_start_leaves_one_process_which_close_stops(tmp_path: Path):
    servers = McpServers(parse_servers({"t": stdio_server()}), tmp_path)
    try:
        servers.start()
        assert await servers.restart("t") == ["The MCP server 't' is ready again with 12 tools."]
        await servers.ready()
        assert len(_server_processes()) == 1
        assert [tool.name for tool in servers.tools()][:2] == ["mcp__t__echo", "mcp__t__add"]
    finally:
        await servers.close()
    assert _server_processes() == set()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc")
async def test_a_server_still_restarting_when_the_session_closes_is_stopped(tmp_path: Path):
    servers = McpServers(parse_servers({"t": stdio_server()}), tmp_path)
    await servers.ready()
    restarting = asyncio.ensure_future(servers.restart("t"))
    while servers.views()[0].status != "starting":
        await asyncio.sleep(0)
    await servers.close()
    said = await restarting
    assert said == ["The MCP server 't' failed to start again: the session is closing."]
    assert _server_processes() == set()


async def test_a_tool_whose_schema_nests_past_the_recursion_limit_is_left_out_saying_why(tmp_path: Path):
    servers = McpServers(parse_servers({"t": stdio_server(env={"MCP_TEST_DEEP_SCHEMA": "1"})}), tmp_path)
    try:
        await servers.ready()
        [view] = servers.views()
        assert view.status == "ready"
        assert view.tools[0].remote_name == "deep"
        assert view.tools[0].left_out == "its input schema could not be read (RecursionError)"
        assert len(servers.tools()) == 12
        assert await servers.restart("t") == ["The MCP server 't' is ready again with 12 tools."]
    finally:
        await servers.close()
