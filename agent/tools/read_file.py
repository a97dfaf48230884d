"""`read_file`: numbered lines of a text file, paged; records the content hash."""

from __future__ import annotations

from typing import Any

from pydantic import Field

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

DEFAULT_LIMIT = 2000
MAX_BYTES_PER_CALL = 256 * 1024
MAX_LINE_CHARS = 2000


class ReadFileArgs(ToolArgs):
    path: str = Field(description="File path, relative to the workspace root.")
    offset: int | None = Field(default=None, ge=1, description="First line to show (1-based). Default 1.")
    limit: int | None = Field(default=None, ge=1, le=10_000, description="Maximum lines to show. Default 2000.")


def is_binary(data: bytes) -> bool:
    """NUL bytes in the first 8 KiB, or bytes that are not UTF-8."""
    if b"\x00" in data[:8192]:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


class ReadFile(Tool[ReadFileArgs]):
    name = "read_file"
    description = (
        "Read a text file from the workspace. Returns numbered lines (line number, tab, text). "
        "Large files are paged: use offset and limit to read further."
    )
    Args = ReadFileArgs

    @classmethod
    def describe(cls, arguments: dict[str, Any]) -> CallDescription:
        return CallDescription(one_line(text_argument(arguments, "path") or ""))

    def touched_paths(self, args: ReadFileArgs, ctx: ToolContext) -> tuple[str, ...]:
        return (display_path(ctx, resolve_path(ctx, args.path)),)

    async def run(self, args: ReadFileArgs, ctx: ToolContext) -> ToolResult:
        path = resolve_path(ctx, args.path)
        shown = display_path(ctx, path)
        if path.is_dir():
            raise ToolError(f"'{shown}' is a directory; use list_files to see what it holds.")
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise ToolError(f"'{shown}' does not exist.") from None
        except OSError as exc:
            raise ToolError(f"Cannot read '{shown}': {exc.strerror}.") from None
        ctx.remember_read(path, data)
        if is_binary(data):
            return ToolResult(output=f"'{shown}' is a binary file ({len(data)} bytes); it cannot be shown as text.")
        text = data.decode("utf-8").removeprefix("\ufeff")
        lines = text.splitlines()
        if not lines:
            return ToolResult(output=f"'{shown}' is empty.", display={"path": shown, "lines": 0})
        first = (args.offset or 1) - 1
        if first >= len(lines):
            raise ToolError(f"'{shown}' has {len(lines)} lines; offset {args.offset} is past the end.")
        last = min(len(lines), first + (args.limit or DEFAULT_LIMIT))
        out: list[str] = []
        size = 0
        for number in range(first, last):
            line = lines[number]
            if len(line) > MAX_LINE_CHARS:
                line = line[:MAX_LINE_CHARS] + f"… [{len(line) - MAX_LINE_CHARS} more characters]"
            entry = f"{number + 1:6}\t{line}"
            size += len(entry) + 1
            if size > MAX_BYTES_PER_CALL and out:
                last = number
                break
            out.append(entry)
        if last < len(lines) or first > 0:
            out.append(
                f"[lines {first + 1}-{last} of {len(lines)}"
                + (f"; continue with offset={last + 1}]" if last < len(lines) else "]")
            )
        return ToolResult(output="\n".join(out), display={"path": shown, "lines": len(lines)})
