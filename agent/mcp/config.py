"""The `mcp_servers` setting: one table per server, read into `McpServerConfig`.

Plain Python (no pydantic, no SDK), so that the settings draft of the app's first frame can check
it cheaply. Every problem is a `ValueError` naming the server and the key.

A server runs a local command (stdio) or is reached at a URL (streamable HTTP)::

    [mcp_servers.files]
    command = "npx"
    args = ["-y", "@modelcontextprotocol/server-filesystem", "."]
    env = { LOG_LEVEL = "warn" }

    [mcp_servers.tracker]
    url = "https://mcp.example.com/mcp"
    headers = { Authorization = "Bearer ${TRACKER_TOKEN}" }   # ${NAME}: from the environment
    trust_read_only_hint = true
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

SERVER_NAME = re.compile(r"[A-Za-z0-9_-]{1,32}")
"""What a server may be called: it becomes part of its tools' names (`mcp__<server>__<tool>`)."""

DEFAULT_START_TIMEOUT_S = 30.0
"""Seconds a server has to start and list its tools."""
DEFAULT_CALL_TIMEOUT_S = 120.0
"""Seconds one tool call may take."""

KEYS = (
    "command",
    "args",
    "env",
    "cwd",
    "url",
    "headers",
    "enabled",
    "start_timeout_s",
    "call_timeout_s",
    "trust_read_only_hint",
)
"""The keys of a server's table."""


@dataclass(frozen=True)
class McpServerConfig:
    """One server as the user declared it."""

    name: str
    command: str | None = None
    """stdio: the program to run (looked up on PATH)."""
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    """stdio: variables added to the few the server inherits (HOME, PATH, SHELL, TERM, USER, LOGNAME);
    `${NAME}` in a value is codeassist's own variable, read when the server starts."""
    cwd: str | None = None
    """stdio: where the command runs (default: the workspace)."""
    url: str | None = None
    """streamable HTTP: the server's endpoint."""
    headers: Mapping[str, str] = field(default_factory=dict)
    """streamable HTTP: sent with every request (e.g. `Authorization`); `${NAME}` as in `env`."""
    enabled: bool = True
    start_timeout_s: float = DEFAULT_START_TIMEOUT_S
    call_timeout_s: float = DEFAULT_CALL_TIMEOUT_S
    trust_read_only_hint: bool = False
    """Let a tool the server marks `readOnlyHint` run without asking, like a built-in reading tool."""

    @property
    def transport(self) -> str:
        """`stdio` or `http`."""
        return "stdio" if self.command is not None else "http"

    @property
    def target(self) -> str:
        """What the server is, in a few words: its command line or its URL (no headers, no env)."""
        if self.command is not None:
            return " ".join([self.command, *self.args])
        return self.url or ""


def parse_servers(raw: object) -> dict[str, McpServerConfig]:
    """The servers of the `mcp_servers` setting (a table of tables), by name, in the given order.

    Raises:
        ValueError: not a table of tables, a bad server name, an unknown key, a value of the wrong
            type, neither or both of `command` and `url`, a URL that is not http(s), or a
            timeout that is not a positive number (the message names the server and the key).
    """
    if not isinstance(raw, Mapping):
        raise ValueError('must be a table of servers, e.g. [mcp_servers.files] with command = "…"')
    return {str(name): parse_server(str(name), table) for name, table in raw.items()}


def parse_server(name: str, table: object) -> McpServerConfig:
    """One server's table.

    Raises:
        ValueError: as `parse_servers`.
    """
    where = f"server {name!r}"
    if not SERVER_NAME.fullmatch(name):
        raise ValueError(f"{where}: a server name is 1 to 32 letters, digits, '_' or '-'")
    if not isinstance(table, Mapping):
        raise ValueError(f'{where}: must be a table with command = "…" or url = "…"')
    unknown = [key for key in table if key not in KEYS]
    if unknown:
        raise ValueError(f"{where}: unknown key {unknown[0]!r}; valid keys: {', '.join(KEYS)}")
    values: dict[str, Any] = {"name": name}
    for key in ("command", "cwd", "url"):
        if key in table:
            values[key] = _text(where, key, table[key])
    if ("command" in values) == ("url" in values):
        raise ValueError(f'{where}: give either command = "…" (a local server) or url = "…" (an HTTP server)')
    if "args" in table:
        args = table["args"]
        if not isinstance(args, list | tuple) or not all(isinstance(arg, str) for arg in args):
            raise ValueError(f"{where}: args must be a list of strings")
        values["args"] = tuple(args)
    for key in ("env", "headers"):
        if key in table:
            values[key] = _string_table(where, key, table[key])
    for key in ("enabled", "trust_read_only_hint"):
        if key in table:
            if not isinstance(table[key], bool):
                raise ValueError(f"{where}: {key} must be true or false")
            values[key] = table[key]
    for key in ("start_timeout_s", "call_timeout_s"):
        if key in table:
            values[key] = _seconds(where, key, table[key])
    stdio_only = [key for key in ("args", "env", "cwd") if key in values and "url" in values]
    http_only = [key for key in ("headers",) if key in values and "command" in values]
    if stdio_only or http_only:
        key = (stdio_only or http_only)[0]
        raise ValueError(f"{where}: {key} is for {'command' if stdio_only else 'url'} servers only")
    if "url" in values:
        parts = urlsplit(values["url"])
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{where}: url must be an http:// or https:// URL with a host")
    return McpServerConfig(**values)


def _text(where: str, key: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip() or "\0" in value:
        raise ValueError(f"{where}: {key} must be a non-empty string")
    return value


def _string_table(where: str, key: str, value: object) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(name, str) and isinstance(item, str) and "\0" not in item for name, item in value.items()
    ):
        raise ValueError(f'{where}: {key} must be a table of strings, e.g. {key} = {{ NAME = "value" }}')
    return dict(value)


def _seconds(where: str, key: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{where}: {key} must be a positive number of seconds")
    return float(value)


def redacted(table: Mapping[str, Any]) -> dict[str, Any]:
    """A server's table for display: the values of `env` and `headers` hidden (they hold tokens)."""
    shown = dict(table)
    for key in ("env", "headers"):
        if isinstance(shown.get(key), Mapping):
            shown[key] = dict.fromkeys(shown[key], "…")
    return shown
