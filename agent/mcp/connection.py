"""One live connection to an MCP server through the official `mcp` SDK (the only module that
imports it, and only when a server starts: `agent.mcp.manager` loads it in a thread).

The SDK's connection is a stack of context managers that must be entered and left by one task, so
each connection is held open by a task of its own (`_hold`) until `close`. A stdio server's stderr
goes to a private file (never the terminal), whose last lines say why a server failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client, MCPError, StdioServerParameters
from mcp.client.stdio import get_default_environment, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CONNECTION_CLOSED, REQUEST_TIMEOUT, Implementation

from agent import __version__
from agent.mcp.config import McpServerConfig
from agent.terminal_text import safe_terminal_text

logging.getLogger("mcp").addHandler(logging.NullHandler())  # never Python's last-resort stderr
logging.getLogger("mcp").propagate = False

MAX_TOOL_PAGES = 100
STDERR_TAIL_BYTES = 2000
HTTP_CONNECT_S = 30.0
CLOSE_TIMEOUT_S = 10.0
"""Seconds a server has to stop (a stdio one: its stdin closed, then terminated, then killed)."""


VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expanded(values: dict[str, str] | Any, what: str) -> dict[str, str]:
    """`values` with each `${NAME}` replaced by the variable's value in codeassist's environment
    (so a token need not be written in the config file).

    Raises:
        StartFailed: a variable named is not set.
    """

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise StartFailed(f"its {what} name ${{{name}}}, which is not set in the environment")
        return os.environ[name]

    return {key: VARIABLE.sub(value, text) for key, text in dict(values).items()}


class StartFailed(Exception):
    """The server could not be started or reached; the message says why, for a person."""


class ConnectionLost(Exception):
    """The server went away (it exited, or its connection broke)."""


class CallFailed(Exception):
    """The server answered a call with an error, or not in time; the message says which."""


class McpConnection:
    """A connection to `config`'s server, opened by `open` and held until `close`."""

    def __init__(self, config: McpServerConfig, workspace: Path) -> None:
        self.config = config
        self.workspace = workspace
        self.client: Client | None = None
        self._closing = asyncio.Event()
        self._lost = asyncio.Event()
        """Set once a stdio server's output ended (it exited): nothing more can be sent to it."""
        self._task: asyncio.Task[None] | None = None
        self._refused: int | None = None
        """The status of the latest HTTP answer that was an error (4xx, 5xx)."""
        self._stderr = tempfile.TemporaryFile("a+", encoding="utf-8", errors="replace")  # noqa: SIM115
        self._last_words = ""
        """The stderr tail once the file is closed (a start that timed out still says it)."""

    async def open(self) -> list[Any]:
        """Start or reach the server and list its tools (the SDK's `Tool` objects).

        Raises:
            StartFailed: the command is missing, the server exited or refused, or it took longer
                than its start timeout.
        """
        if self.config.command is not None:
            self._check_command()
        ready: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._task = asyncio.ensure_future(self._hold(ready))
        try:
            return await asyncio.wait_for(asyncio.shield(ready), self.config.start_timeout_s)
        except asyncio.CancelledError:  # the session closes while the server starts: stop it
            ready.cancel()
            await self.close()
            raise
        except TimeoutError:
            ready.cancel()  # nobody waits for it any more
            await self.close()
            raise StartFailed(
                f"it did not start within {self.config.start_timeout_s:g} s (start_timeout_s){self._said()}"
            ) from None
        except StartFailed:
            await self.close()
            raise
        except Exception as exc:
            await self.close()
            raise StartFailed(f"{describe(exc)}{self._said()}") from None

    def _check_command(self) -> None:
        config = self.config
        assert config.command is not None
        environment = {**get_default_environment(), **expanded(config.env, "env")}
        cwd = self.working_directory()
        if not cwd.is_dir():
            raise StartFailed(f"its directory {cwd} does not exist")
        program = config.command
        if os.sep in program:  # a path: relative to where the server runs
            if shutil.which(str(cwd / program)) is None:
                raise StartFailed(f"the command {program!r} was not found")
        elif shutil.which(program, path=environment.get("PATH", os.defpath)) is None:
            raise StartFailed(f"the command {program!r} was not found on PATH")

    def working_directory(self) -> Path:
        """Where a stdio server runs: its `cwd`, relative to the workspace, or the workspace."""
        return (self.workspace / self.config.cwd) if self.config.cwd else self.workspace

    async def _hold(self, ready: asyncio.Future[list[Any]]) -> None:
        try:
            async with contextlib.AsyncExitStack() as stack:
                transport: Any
                if self.config.command is not None:
                    parameters = StdioServerParameters(
                        command=self.config.command,
                        args=list(self.config.args),
                        env=expanded(self.config.env, "env"),
                        cwd=self.working_directory(),
                        encoding_error_handler="replace",
                    )
                    transport = _watched(stdio_client(parameters, errlog=self._stderr), self._lost)
                else:
                    assert self.config.url is not None
                    http = httpx2.AsyncClient(
                        headers=expanded(self.config.headers, "headers"),
                        timeout=httpx2.Timeout(HTTP_CONNECT_S, read=None),
                        event_hooks={"response": [self._note_status]},
                    )
                    await stack.enter_async_context(http)
                    transport = streamable_http_client(self.config.url, http_client=http)
                client = Client(
                    transport, client_info=Implementation(name="codeassist", version=__version__), cache=None
                )
                await stack.enter_async_context(client)
                tools: list[Any] = []
                cursor: str | None = None
                for _ in range(MAX_TOOL_PAGES):
                    page = await client.list_tools(cursor=cursor)
                    tools.extend(page.tools)
                    cursor = page.next_cursor
                    if cursor is None:
                        break
                if ready.done():  # its start timed out meanwhile
                    return
                self.client = client
                ready.set_result(tools)
                await self._closing.wait()
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(StartFailed(f"{describe(exc)}{self._said()}"))
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            self.client = None

    def alive(self) -> bool:
        """Whether the connection is still open (a stdio server that exited is not; an HTTP
        server's absence shows only when a call fails)."""
        return self.client is not None and not self._lost.is_set() and self._task is not None and not self._task.done()

    def lose(self) -> None:
        """Count the connection as gone (a call found it broken): the next call starts anew."""
        self._lost.set()

    async def call(self, tool: str, arguments: dict[str, Any]) -> Any:
        """Call `tool` with `arguments`; the SDK's `CallToolResult`.

        Raises:
            ConnectionLost: the server went away before or while answering.
            CallFailed: an error answer, or none within the call timeout.
        """
        client = self.client
        if client is None:
            raise ConnectionLost("the server is not running")
        timeout = self.config.call_timeout_s
        try:
            return await client.call_tool(tool, arguments, read_timeout_seconds=timeout)
        except MCPError as exc:
            if exc.code == CONNECTION_CLOSED:
                raise ConnectionLost(f"the connection closed{self._said()}") from None
            if exc.code == REQUEST_TIMEOUT:
                raise CallFailed(f"no answer within {timeout:g} s (call_timeout_s)") from None
            raise CallFailed(f"the server answered with an error: {exc.message}") from None
        except (OSError, httpx2.HTTPError) as exc:
            raise ConnectionLost(f"{describe(exc)}{self._said()}") from None
        except Exception as exc:
            if type(exc).__module__.startswith(("anyio", "mcp")):
                raise ConnectionLost(f"{describe(exc)}{self._said()}") from None
            raise CallFailed(f"the answer could not be read: {describe(exc)}") from None

    async def close(self) -> None:
        """Stop the server (a stdio one is asked to exit, then killed) or leave the HTTP session."""
        self._closing.set()
        task = self._task
        if task is not None and not task.done():
            if self.client is None:  # still starting: there is no session to leave
                task.cancel()
            done, _ = await asyncio.wait({task}, timeout=CLOSE_TIMEOUT_S)
            if not done:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if not self._stderr.closed:
            self._last_words = self.stderr_tail()
            self._stderr.close()

    def stderr_tail(self) -> str:
        """The last lines a stdio server wrote on its stderr (made safe for a terminal)."""
        if self._stderr.closed:
            return self._last_words
        fd = self._stderr.fileno()
        size = os.fstat(fd).st_size
        start = max(0, size - STDERR_TAIL_BYTES)
        data = os.pread(fd, size - start, start).decode("utf-8", errors="replace")
        lines = data.splitlines()[1:] if start else data.splitlines()
        return safe_terminal_text("\n".join(lines[-5:]).strip())

    async def _note_status(self, response: httpx2.Response) -> None:
        if response.status_code >= 400:
            self._refused = response.status_code

    def _said(self) -> str:
        if self._refused is not None:
            return f" (HTTP {self._refused})"
        tail = self.stderr_tail()
        return f"; its stderr ends: {tail}" if tail else ""


@contextlib.asynccontextmanager
async def _watched(transport: Any, lost: asyncio.Event) -> AsyncIterator[tuple[Any, Any]]:
    """`transport`'s streams, with `lost` set when the server's messages end (it exited)."""
    async with transport as (read, write):
        sender, receiver = anyio.create_memory_object_stream[Any](0)

        async def forward() -> None:
            try:
                async with sender:
                    async for message in read:
                        await sender.send(message)
            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                pass
            finally:
                lost.set()

        async with anyio.create_task_group() as group:
            group.start_soon(forward)
            try:
                yield receiver, write
            finally:
                group.cancel_scope.cancel()


def describe(exc: BaseException) -> str:
    """One readable line for `exc`, looking inside exception groups (the SDK's task groups)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, StartFailed | ConnectionLost | CallFailed):
        return str(exc)
    if isinstance(exc, MCPError):
        return f"the server answered with an error: {exc.message}"
    if isinstance(exc, FileNotFoundError):
        return f"cannot run it: {exc.strerror or exc} ({exc.filename})"
    if isinstance(exc, httpx2.ConnectError):
        try:
            where = f" to {exc.request.url}"
        except RuntimeError:  # an error raised without its request
            where = ""
        return f"cannot connect{where}: {exc}"
    if isinstance(exc, httpx2.HTTPStatusError):
        return f"the server answered HTTP {exc.response.status_code}"
    if isinstance(exc, asyncio.CancelledError):
        return "its start was cancelled"
    text = str(exc).strip()
    return safe_terminal_text(f"{type(exc).__name__}: {text}" if text else type(exc).__name__)
