"""The tools the model can call, and the registry that validates its arguments."""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterable
from typing import Any

from agent.side_request import SideChannel
from agent.tools.apply_patch import ApplyPatch, HeredocPatchArgs
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
from agent.tools.patch_heredoc import patch_heredoc
from agent.tools.read_file import ReadFile
from agent.tools.shell import Shell, ShellArgs
from agent.tools.update_plan import UpdatePlan
from agent.tools.view_image import ViewImage
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

    def specs(self, *, freeform: bool = False) -> list[dict[str, Any]]:
        """The `tools` list of a request; with `freeform`, the tools that have a freeform form
        (apply_patch) are offered in it, as custom tools with their grammar."""
        return [(tool.freeform_spec() if freeform else None) or tool.spec() for tool in self._tools.values()]

    def parse_call(self, call: FunctionCall | CustomToolCall) -> tuple[Tool[Any], ToolArgs]:
        """The tool and validated arguments of a call the model made, a function call (JSON
        arguments) or a custom tool call (freeform input, which fills the tool's
        `freeform_argument`). A `shell` call whose command is an apply_patch heredoc
        (`agent.tools.patch_heredoc`) is apply_patch's, when the session has that tool.

        Raises:
            ToolError: as `parse`; or a freeform call to a tool that has no freeform form.
        """
        if isinstance(call, CustomToolCall):
            tool = self._tools.get(call.name)
            if tool is None or tool.freeform_argument is None:
                raise ToolError(f"'{call.name}' is not a freeform tool here; call the function tools instead.")
            return self.parse(call.name, json.dumps({tool.freeform_argument: call.input}))
        tool, args = self.parse(call.name, call.arguments)
        patcher = self._tools.get(ApplyPatch.name)
        if isinstance(args, ShellArgs) and isinstance(patcher, ApplyPatch):
            found = patch_heredoc(args.command)
            if found is not None:
                parts = [part for part in (args.workdir, found.directory) if part]
                directory = posixpath.join(*parts) if parts else None
                return patcher, HeredocPatchArgs(patch=found.patch, directory=directory)
        return tool, args

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
    for tool in (ReadFile, ListFiles, Grep, ViewImage, EditFile, WriteFile, ApplyPatch, Shell, UpdatePlan, WebSearch)
}
"""Every built-in tool class, by name."""


def describe_call(name: str, arguments: str) -> CallDescription:
    """How a call reads on screen, from its raw arguments (partial, invalid or unknown tools
    included: the card of every call the model makes is drawn, whatever becomes of it)."""
    tool = TOOL_CLASSES.get(name, Tool)
    try:
        parsed = json.loads(arguments) if arguments else {}
    except ValueError:
        if tool.freeform_argument is not None:  # a custom tool call's raw input
            return tool.describe({tool.freeform_argument: arguments})
        return CallDescription(one_line(arguments, 80))
    if not isinstance(parsed, dict):
        return CallDescription(one_line(str(parsed), 80))
    command = parsed.get("command") if tool is Shell else None
    found = patch_heredoc(command) if isinstance(command, str) else None
    if found is not None:
        where = f" in {found.directory}" if found.directory else ""
        patch = ApplyPatch.describe({"patch": found.patch}).summary
        return CallDescription(one_line(f"apply_patch{where}: {patch}" if patch else f"apply_patch{where}"))
    return tool.describe(parsed)


def read_only_tools() -> list[Tool[Any]]:
    """The tools that change nothing."""
    return [ReadFile(), ListFiles(), Grep(), ViewImage(), UpdatePlan()]


def default_tools(*, web_search: bool = False) -> list[Tool[Any]]:
    """Every tool: reading, searching, viewing images, editing, patching, writing, shell and the
    plan; and web search when `web_search` (the setting of that name)."""
    tools: list[Tool[Any]] = [
        ReadFile(),
        ListFiles(),
        Grep(),
        ViewImage(),
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
