"""`write_file`: create a file, or replace the whole of a file the model has read."""

from __future__ import annotations

import stat
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
from agent.tools.workspace_fs import file_status, not_regular, os_error

MAX_WRITE_BYTES = 2 * 1024 * 1024
NEW_FILE_FORMAT = TextFormat(eol="\n", bom=False, trailing_newline=True)


class WriteFileArgs(ToolArgs):
    path: str = Field(description="File path, relative to the workspace root. Missing directories are created.")
    content: str = Field(description="The complete new content of the file.")


class WriteFile(Tool[WriteFileArgs]):
    name = "write_file"
    description = (
        "Create a new file with the given content, or replace the whole content of an existing file "
        "that you have read in this session. For small changes to an existing file prefer edit_file."
    )
    Args = WriteFileArgs
    kind = "edit"
    mutating = True

    @classmethod
    def describe(cls, arguments: dict[str, Any]) -> CallDescription:
        return CallDescription(one_line(text_argument(arguments, "path") or ""))

    def _plan(self, args: WriteFileArgs, ctx: ToolContext):  # type: ignore[no-untyped-def]
        path = resolve_path(ctx, args.path, for_write=True)
        shown = display_path(ctx, path)
        if len(args.content.encode(errors="replace")) > MAX_WRITE_BYTES:
            raise ToolError(f"The content is larger than {MAX_WRITE_BYTES} bytes.")
        if "\x00" in args.content:
            raise ToolError("The content contains a NUL byte; write_file writes text only.")
        content = args.content.replace("\r\n", "\n")
        try:
            info = file_status(ctx.workspace, path)
        except FileNotFoundError:
            info = None  # a missing parent directory: created when writing
        except OSError as exc:
            raise os_error(exc, "write", shown) from None
        if info is None:
            return path, shown, None, content, NEW_FILE_FORMAT
        if stat.S_ISDIR(info.st_mode):
            raise ToolError(f"'{shown}' is a directory.")
        if not stat.S_ISREG(info.st_mode):
            raise not_regular(shown, info.st_mode, "written")
        if path not in ctx.read_hashes:
            raise ToolError(f"'{shown}' already exists; read it with read_file before overwriting it.")
        data, _ = read_for_edit(ctx, path, shown, missing=f"'{shown}' disappeared since you read it.")
        check_not_stale(ctx, path, data, shown)
        before, fmt = decode_text(data, shown)
        if before == content:
            raise ToolError(f"'{shown}' already has exactly this content; nothing to write.")
        return path, shown, before, content, fmt

    def approval_request(self, call_id: str, args: WriteFileArgs, ctx: ToolContext) -> ApprovalRequest:
        _, shown, before, after, _ = self._plan(args, ctx)
        verb = "create" if before is None else "overwrite"
        return ApprovalRequest(
            call_id=call_id,
            tool=self.name,
            kind="edit",
            summary=f"{verb} {shown}",
            diff=unified_diff(before, after, shown),
            rule_key=self.name,
            rule_scope="every write_file call: creating or overwriting any file in the workspace",
            paths=(shown,),
        )

    async def run(self, args: WriteFileArgs, ctx: ToolContext) -> ToolResult:
        path, shown, before, after, fmt = self._plan(args, ctx)
        data = encode_text(after, fmt)
        atomic_write(path, data, shown_path=shown, workspace=ctx.workspace, created=[])
        ctx.remember_read(path, data)
        diff = unified_diff(before, after, shown)
        verb = "Created" if before is None else "Overwrote"
        return ToolResult(output=f"{verb} {shown} ({len(data)} bytes).", display={"path": shown, "diff": diff})
