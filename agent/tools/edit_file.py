"""`edit_file`: replace an exact piece of text in a file the model has read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field

from agent.approvals import ApprovalRequest
from agent.tools.atomic import (
    TextFormat,
    atomic_write,
    check_not_stale,
    decode_text,
    encode_text,
    read_for_edit,
    unified_diff,
)
from agent.tools.base import (
    CallDescription,
    Tool,
    ToolArgs,
    ToolContext,
    ToolError,
    ToolResult,
    one_line,
    text_argument,
)
from agent.tools.paths import display_path, resolve_path


class EditFileArgs(ToolArgs):
    path: str = Field(description="File path, relative to the workspace root.")
    old: str = Field(
        description="The exact text to replace, including whitespace; must occur exactly once "
        "unless replace_all is true. Line endings are written as \\n."
    )
    new: str = Field(description="The replacement text.")
    replace_all: bool | None = Field(default=None, description="Replace every occurrence. Default false.")


class _PlannedEdit:
    def __init__(self, path: Path, shown: str, before: str, after: str, fmt: TextFormat, count: int) -> None:
        self.path, self.shown, self.before, self.after, self.fmt, self.count = path, shown, before, after, fmt, count


class EditFile(Tool[EditFileArgs]):
    name = "edit_file"
    description = (
        "Replace text in an existing file. Read the file first. `old` must match the file exactly "
        "(whitespace included) and occur once, unless replace_all is true; include enough surrounding "
        "lines to make it unique. Line endings, BOM and permissions of the file are kept."
    )
    Args = EditFileArgs
    kind = "edit"
    mutating = True

    @classmethod
    def describe(cls, arguments: dict[str, Any]) -> CallDescription:
        return CallDescription(one_line(text_argument(arguments, "path") or ""))

    def _plan(self, args: EditFileArgs, ctx: ToolContext) -> _PlannedEdit:
        path = resolve_path(ctx, args.path, for_write=True)
        shown = display_path(ctx, path)
        if args.old == args.new:
            raise ToolError("`old` and `new` are identical; the edit would change nothing.")
        if not args.old:
            raise ToolError("`old` is empty; to create or overwrite a whole file use write_file.")
        data, _ = read_for_edit(ctx, path, shown, missing=f"'{shown}' does not exist; use write_file to create it.")
        if path not in ctx.read_hashes:
            raise ToolError(f"Read '{shown}' with read_file before editing it.")
        check_not_stale(ctx, path, data, shown)
        before, fmt = decode_text(data, shown)
        old = args.old.replace("\r\n", "\n")
        new = args.new.replace("\r\n", "\n")
        count = before.count(old)
        if count == 0:
            hint = " (it differs only in whitespace)" if _squash(old) in _squash(before) else ""
            raise ToolError(f"`old` was not found in '{shown}'{hint}; read the file again and copy the text exactly.")
        if count > 1 and not args.replace_all:
            raise ToolError(
                f"`old` occurs {count} times in '{shown}'; add surrounding lines to make it unique, "
                "or set replace_all to true."
            )
        after = before.replace(old, new) if args.replace_all else before.replace(old, new, 1)
        return _PlannedEdit(path, shown, before, after, fmt, count if args.replace_all else 1)

    def approval_request(self, call_id: str, args: EditFileArgs, ctx: ToolContext) -> ApprovalRequest:
        plan = self._plan(args, ctx)
        return ApprovalRequest(
            call_id=call_id,
            tool=self.name,
            kind="edit",
            summary=f"edit {plan.shown}",
            diff=unified_diff(plan.before, plan.after, plan.shown),
            rule_key=self.name,
            rule_scope="every edit_file call: replacing text in any file in the workspace",
            paths=(plan.shown,),
        )

    async def run(self, args: EditFileArgs, ctx: ToolContext) -> ToolResult:
        plan = self._plan(args, ctx)
        data = encode_text(plan.after, plan.fmt)
        atomic_write(plan.path, data, shown_path=plan.shown, workspace=ctx.workspace)
        ctx.remember_read(plan.path, data)
        diff = unified_diff(plan.before, plan.after, plan.shown)
        replaced = f"{plan.count} occurrences" if plan.count > 1 else "1 occurrence"
        return ToolResult(
            output=f"Edited {plan.shown}: replaced {replaced}.\n{diff}", display={"path": plan.shown, "diff": diff}
        )


def _squash(text: str) -> str:
    return " ".join(text.split())
