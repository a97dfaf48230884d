"""An MCP server's tool as a `Tool` of the session's registry.

Each server tool gets a class of its own (`tool_class`): the registry, the request's `tools` list
and the approval gate read a tool's name, schema and kind from its class, as for built-in tools.
The call goes through the same gate: it asks (kind `other`, a mutating call) unless the user
trusts the server's `readOnlyHint` for that server and the tool declares it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from agent.approvals import ApprovalRequest, ToolKind
from agent.tools.base import Tool, ToolArgs, ToolContext, ToolError, ToolResult, one_line

APPROVAL_ARGUMENTS_SHOWN = 600
"""Characters of a call's arguments shown in its approval request."""

Caller = Callable[[str, dict[str, Any]], Awaitable[ToolResult]]
"""Calls the server's tool (by its own name) with arguments; the result, or `ToolError`."""


class McpArguments(ToolArgs):
    """An MCP call's arguments, checked against the server's schema (`McpTool.parse_arguments`)."""

    values: dict[str, Any]


class McpTool(Tool[McpArguments]):
    """A tool of an MCP server (subclassed once per server tool by `tool_class`)."""

    Args = McpArguments
    kind: ClassVar[ToolKind] = "other"
    mutating: ClassVar[bool] = True
    server: ClassVar[str]
    remote_name: ClassVar[str]
    """The tool's name on its server."""
    input_schema: ClassVar[dict[str, Any]]
    offered_schema: ClassVar[dict[str, Any]]
    strict: ClassVar[bool]

    def __init__(self, call: Caller) -> None:
        self._call = call

    @classmethod
    def spec(cls) -> dict[str, Any]:
        """The `tools[]` entry: strict when the server's schema could be made strict."""
        return {
            "type": "function",
            "name": cls.name,
            "description": cls.description,
            "parameters": cls.offered_schema,
            "strict": cls.strict,
        }

    def parse_arguments(self, raw_arguments: str) -> McpArguments:
        """The call's arguments: a JSON object valid under the server's input schema (the nulls the
        strict form asks for in place of a missing optional property left out first).

        Raises:
            ToolError: not a JSON object, or not valid under the schema (each problem named).
        """
        from agent.mcp.schema import SchemaCannotCheck, validate_arguments, without_added_nulls

        try:
            values = json.loads(raw_arguments or "{}")
        except ValueError as exc:
            raise ToolError(f"Invalid arguments for {self.name}: not JSON ({exc}).") from None
        except RecursionError:
            raise ToolError(
                f"Invalid arguments for {self.name}: not JSON that can be read (nested too deeply)."
            ) from None
        if not isinstance(values, dict):
            raise ToolError(f"Invalid arguments for {self.name}: expected a JSON object.")
        try:
            if self.strict:
                values = without_added_nulls(values, self.input_schema)
            problems = validate_arguments(values, self.input_schema)
        except SchemaCannotCheck as exc:
            raise ToolError(
                f"Invalid arguments for {self.name}: the server's input schema cannot check them: {exc}."
            ) from None
        except RecursionError:
            raise ToolError(f"Invalid arguments for {self.name}: they nest too deeply to check.") from None
        if problems:
            raise ToolError(f"Invalid arguments for {self.name}: {'; '.join(problems)}.")
        return McpArguments(values=values)

    def approval_request(self, call_id: str, args: McpArguments, ctx: ToolContext) -> ApprovalRequest:
        """Name the server, the tool and the arguments; "approve always" covers this tool only."""
        shown = one_line(json.dumps(args.values, ensure_ascii=False), APPROVAL_ARGUMENTS_SHOWN)
        return ApprovalRequest(
            call_id=call_id,
            tool=self.name,
            kind=self.kind,
            summary=f"MCP {self.server} · {self.remote_name} {shown}",
            rule_key=self.name,
            rule_scope=f"every call of {self.remote_name} on the MCP server {self.server}",
        )

    async def run(self, args: McpArguments, ctx: ToolContext) -> ToolResult:
        return await self._call(self.remote_name, args.values)


def tool_class(
    *,
    name: str,
    server: str,
    remote_name: str,
    description: str,
    input_schema: dict[str, Any],
    read_only: bool,
) -> type[McpTool]:
    """The class of one server tool, offered as `name` (strict where its schema allows)."""
    from agent.mcp.schema import strict_form

    strict_schema = strict_form(input_schema)
    attributes = {
        "name": name,
        "server": server,
        "remote_name": remote_name,
        "description": description,
        "input_schema": input_schema,
        "offered_schema": strict_schema if strict_schema is not None else input_schema,
        "strict": strict_schema is not None,
        "mutating": not read_only,
        "kind": "read" if read_only else "other",
        "parallel_safe": False,
    }
    return type(f"Mcp_{name}", (McpTool,), attributes)
