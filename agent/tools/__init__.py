"""The tools the model can call, and the registry that validates its arguments."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from agent.side_request import SideChannel
from agent.tools.apply_patch import ApplyPatch
from agent.tools.base import (
    CallDescription,
    LiveOutput,
    Tool,
    ToolArgs,
    ToolContext,
    ToolError,
    ToolResult,
    one_line,
    strict_schema,
)
from agent.tools.edit_file import EditFile
from agent.tools.grep import Grep
from agent.tools.list_files import ListFiles
from agent.tools.read_file import ReadFile
from agent.tools.shell import Shell
from agent.tools.update_plan import UpdatePlan
from agent.tools.web_search import WebSearch
from agent.tools.write_file import WriteFile
from agent.wire.items import CustomToolCall, FunctionCall

MAX_ARGUMENT_BYTES = 1024 * 1024


class ToolRegistry:
    """The tools of a session, by name."""

    def __init__(self, tools: Iterable[Tool[Any]]) -> None:
        self._tools: dict[str, Tool[Any]] = {}
        for tool in tools:
            if tool.name in self._tools:
                raise ValueError(f"two tools are named {tool.name!r}")
            self._tools[tool.name] = tool

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def names(self) -> list[str]:
        return list(self._tools)

    def specs(self) -> list[dict[str, Any]]:
        """The `tools` list of a request."""
        return [tool.spec() for tool in self._tools.values()]

    def parse_call(self, call: FunctionCall | CustomToolCall) -> tuple[Tool[Any], ToolArgs]:
        """The tool and validated arguments of a call the model made, a function call (JSON
        arguments) or a custom tool call (freeform input).

        Raises:
            ToolError: as `parse`; or a freeform call to a tool that takes JSON arguments.
        """
        if isinstance(call, CustomToolCall):
            raise ToolError(f"'{call.name}' is not a freeform tool here; call the function tools instead.")
        return self.parse(call.name, call.arguments)

    def parse(self, name: str, raw_arguments: str) -> tuple[Tool[Any], ToolArgs]:
        """The tool and its validated arguments.

        Raises:
            ToolError: unknown tool, arguments that are not a JSON object, too large, or that do
                not match the tool's schema (the message says what is wrong, field by field).
        """
        tool = self._tools.get(name)
        if tool is None:
            raise ToolError(f"There is no tool named '{name}'. Available: {', '.join(self._tools)}.")
        if len(raw_arguments.encode(errors="replace")) > MAX_ARGUMENT_BYTES:
            raise ToolError(f"The arguments for {name} are larger than {MAX_ARGUMENT_BYTES} bytes.")
        return tool, tool.parse_arguments(raw_arguments)


TOOL_CLASSES: dict[str, type[Tool[Any]]] = {
    tool.name: tool
    for tool in (ReadFile, ListFiles, Grep, EditFile, WriteFile, ApplyPatch, Shell, UpdatePlan, WebSearch)
}
"""Every built-in tool class, by name."""


def describe_call(name: str, arguments: str) -> CallDescription:
    """How a call reads on screen, from its raw arguments (partial, invalid or unknown tools
    included: the card of every call the model makes is drawn, whatever becomes of it)."""
    try:
        parsed = json.loads(arguments) if arguments else {}
    except ValueError:
        return CallDescription(one_line(arguments, 80))
    if not isinstance(parsed, dict):
        return CallDescription(one_line(str(parsed), 80))
    return TOOL_CLASSES.get(name, Tool).describe(parsed)


def read_only_tools() -> list[Tool[Any]]:
    """The tools that change nothing."""
    return [ReadFile(), ListFiles(), Grep(), UpdatePlan()]


def default_tools(*, web_search: bool = False) -> list[Tool[Any]]:
    """Every tool: reading, searching, editing, patching, writing, shell and the plan; and web
    search when `web_search` (the setting of that name)."""
    tools: list[Tool[Any]] = [
        ReadFile(),
        ListFiles(),
        Grep(),
        EditFile(),
        WriteFile(),
        ApplyPatch(),
        Shell(),
        UpdatePlan(),
    ]
    return [*tools, WebSearch()] if web_search else tools


__all__ = [
    "TOOL_CLASSES",
    "CallDescription",
    "LiveOutput",
    "SideChannel",
    "Tool",
    "ToolArgs",
    "ToolContext",
    "ToolError",
    "ToolRegistry",
    "ToolResult",
    "default_tools",
    "describe_call",
    "read_only_tools",
    "strict_schema",
]
