"""`read_file`: numbered lines of a text file, paged; records the content hash.

Only regular files are read, opened by descriptor without blocking (`agent.tools.workspace_fs`):
a FIFO, socket, device or directory is refused before anything is read. A file up to
`WHOLE_FILE_BYTES` is read whole (its hash is recorded, so it can be edited). A larger one is
streamed: a page never holds more than the lines it shows (each cut to `MAX_LINE_CHARS`), its
lines are split at "\n" only, and its lines are counted only when that is cheap
(`COUNT_LINES_UP_TO`). A file with other hard links asks before it is read: another of its names
may be outside the workspace.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import Field

from agent.approvals import ApprovalRequest
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
from agent.tools.workspace_fs import (
    READ_CHUNK,
    file_status,
    in_thread_on_copy,
    open_regular,
    os_error,
    read_at_most,
)

DEFAULT_LIMIT = 2000
MAX_BYTES_PER_CALL = 256 * 1024
MAX_LINE_CHARS = 2000
WHOLE_FILE_BYTES = 2 * 1024 * 1024
"""Files up to this size are read whole; larger ones are streamed a page at a time."""
COUNT_LINES_UP_TO = 256 * 1024 * 1024
"""A streamed file's lines are counted (for "of N lines") only up to this size."""


class PathArgs(ToolArgs):
    """Arguments naming one workspace file (`path`)."""

    path: str


PathArgsT = TypeVar("PathArgsT", bound=PathArgs)


class OneFileReader(Tool[PathArgsT]):
    """A tool that reads the one workspace file its `path` names (`read_file`, `view_image`): its
    card and approval name that file, which is opened by descriptor (`open_checked`); a file with
    other hard links always asks first."""

    parallel_safe = True
    verb: ClassVar[str] = "read"
    """What the tool does to the file, in its refusals ("ask again to read it")."""
    in_a_directory: ClassVar[str] = "use list_files to see what it holds"
    """What to do instead when the path is a directory."""

    @classmethod
    def describe(cls, arguments: dict[str, Any]) -> CallDescription:
        return CallDescription(one_line(text_argument(arguments, "path") or ""))

    def touched_paths(self, args: PathArgsT, ctx: ToolContext) -> tuple[str, ...]:
        return (display_path(ctx, resolve_path(ctx, args.path)),)

    def approval_request(self, call_id: str, args: PathArgsT, ctx: ToolContext) -> ApprovalRequest:
        """As every reading call's, except that a file with other hard links always asks."""
        request = super().approval_request(call_id, args, ctx)
        return asking_for_hard_links(request, ctx, resolve_path(ctx, args.path))

    def open_checked(self, args: PathArgsT, ctx: ToolContext) -> tuple[Path, str, int, os.stat_result]:
        """The file's resolved path, how it is shown, an open descriptor (the caller closes it)
        and its status.

        Raises:
            ToolError: it is missing, a directory or not a regular file, cannot be opened, or
                gained other hard links since its approval was settled.
        """
        path = resolve_path(ctx, args.path)
        shown = display_path(ctx, path)
        try:
            fd, info = open_regular(ctx.workspace, path, shown)
        except FileNotFoundError:
            raise ToolError(f"'{shown}' does not exist.") from None
        except ToolError:
            if path.is_dir():
                raise ToolError(f"'{shown}' is a directory; {self.in_a_directory}.") from None
            raise
        except OSError as exc:
            raise os_error(exc, "read", shown) from None
        if withheld_hard_link(ctx, info):
            os.close(fd)
            raise ToolError(
                f"'{shown}' gained other hard links after it was checked; it was not read (ask again to {self.verb} it)."
            )
        return path, shown, fd, info


class ReadFileArgs(PathArgs):
    path: str = Field(description="File path, relative to the workspace root.")
    offset: int | None = Field(default=None, ge=1, description="First line to show (1-based). Default 1.")
    limit: int | None = Field(default=None, ge=1, le=10_000, description="Maximum lines to show. Default 2000.")


def is_binary(data: bytes, *, cut: bool = False) -> bool:
    """NUL bytes in the first 8 KiB, or bytes that are not UTF-8 (when `cut`, the first bytes of a
    file read only in part, a character cut at the end does not count)."""
    if b"\x00" in data[:8192]:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return not (cut and exc.reason == "unexpected end of data")
    return False


class ReadFile(OneFileReader[ReadFileArgs]):
    name = "read_file"
    description = (
        "Read a text file from the workspace. Returns numbered lines (line number, tab, text). "
        "Large files are paged: use offset and limit to read further."
    )
    Args = ReadFileArgs

    async def run(self, args: ReadFileArgs, ctx: ToolContext) -> ToolResult:
        path, shown, fd, info = self.open_checked(args, ctx)
        try:
            first = (args.offset or 1) - 1
            limit = args.limit or DEFAULT_LIMIT
            if info.st_size <= WHOLE_FILE_BYTES:
                data = read_at_most(fd, WHOLE_FILE_BYTES + 1)
                if len(data) <= WHOLE_FILE_BYTES:
                    return _whole(ctx, path, shown, data, first, limit)
                os.lseek(fd, 0, os.SEEK_SET)  # it grew while being read
            return await in_thread_on_copy(fd, _streamed, info, shown, first, limit)
        except OSError as exc:
            raise os_error(exc, "read", shown) from None
        finally:
            os.close(fd)


def asking_for_hard_links(request: ApprovalRequest, ctx: ToolContext, path: Path) -> ApprovalRequest:
    """`request`, made to ask whatever the policy when `path` is a regular file with other hard
    links (another name for it may be outside the workspace); the file is then noted in
    `ctx.hard_links_asked`, so that the run may read it."""
    try:
        info = file_status(ctx.workspace, path)
    except (OSError, ValueError):
        return request  # the run reports it
    if info is None or not stat.S_ISREG(info.st_mode) or info.st_nlink < 2:
        return request
    ctx.hard_links_asked.add((info.st_dev, info.st_ino))
    shown = display_path(ctx, path)
    return request.model_copy(
        update={
            "summary": f"{request.tool} {shown} (it has {info.st_nlink} hard links: the same file may "
            "be somewhere outside the workspace)",
            "always_ask": f"'{shown}' has {info.st_nlink} hard links",
        }
    )


def withheld_hard_link(ctx: ToolContext, info: os.stat_result) -> bool:
    """Whether a file with this status has other hard links and nobody was asked about it."""
    return info.st_nlink > 1 and (info.st_dev, info.st_ino) not in ctx.hard_links_asked


def _whole(ctx: ToolContext, path: Path, shown: str, data: bytes, first: int, limit: int) -> ToolResult:
    ctx.remember_read(path, data)
    if is_binary(data):
        return ToolResult(output=f"'{shown}' is a binary file ({len(data)} bytes); it cannot be shown as text.")
    text = data.decode("utf-8").removeprefix("\ufeff")
    lines = text.splitlines()
    if not lines:
        return ToolResult(output=f"'{shown}' is empty.", display={"path": shown, "lines": 0})
    if first >= len(lines):
        raise ToolError(f"'{shown}' has {len(lines)} lines; offset {first + 1} is past the end.")
    last = min(len(lines), first + limit)
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


@dataclass
class _Page:
    """The lines of one page of a streamed file, gathered while scanning it."""

    first: int
    limit: int
    entries: list[str]
    size: int = 0
    full: bool = False

    def add(self, number: int, raw: bytes, extra: int) -> None:
        line = raw.removesuffix(b"\r").decode("utf-8", "replace")
        if number == 0:
            line = line.removeprefix("\ufeff")
        if len(line) > MAX_LINE_CHARS or extra:
            line = line[:MAX_LINE_CHARS] + "… [more characters]"
        entry = f"{number + 1:6}\t{line}"
        self.size += len(entry) + 1
        if (self.size > MAX_BYTES_PER_CALL and self.entries) or len(self.entries) >= self.limit:
            self.full = True
            return
        self.entries.append(entry)


def _streamed(fd: int, info: os.stat_result, shown: str, first: int, limit: int) -> ToolResult:
    """One page of a file too large to read whole, holding only that page in memory."""
    try:
        return _scan(fd, info, shown, first, limit)
    except OSError as exc:
        raise os_error(exc, "read", shown) from None


def _scan(fd: int, info: os.stat_result, shown: str, first: int, limit: int) -> ToolResult:
    head = os.pread(fd, 64 * 1024, 0)
    if b"\x00" in head[:8192] or _invalid_utf8(head):
        return ToolResult(output=f"'{shown}' is a binary file ({info.st_size} bytes); it cannot be shown as text.")
    page = _Page(first, limit, [])
    keep = MAX_LINE_CHARS * 4 + 4
    number = 0  # the line being scanned (0-based)
    current = bytearray()
    dropped = 0  # bytes of the current line beyond `keep`
    ends_open = False
    counting = info.st_size <= COUNT_LINES_UP_TO
    while not page.full or counting:
        chunk = os.read(fd, READ_CHUNK)
        if not chunk:
            break
        ends_open = not chunk.endswith(b"\n")
        newlines = chunk.count(b"\n")
        if page.full or number + newlines < first:
            number += newlines  # nothing of this chunk is shown
            current.clear()
            continue
        start = 0
        while start <= len(chunk):
            end = chunk.find(b"\n", start)
            stop = len(chunk) if end < 0 else end
            if first <= number and not page.full:
                room = max(keep - len(current), 0)
                current += chunk[start : min(stop, start + room)]
                dropped += max(stop - start - room, 0)
            if end < 0:
                break
            if first <= number and not page.full:
                page.add(number, bytes(current), dropped)
            number += 1
            current.clear()
            dropped = 0
            start = end + 1
            if page.full and not counting:
                break
    total = number + (1 if ends_open else 0) if counting else None
    if ends_open and not page.full and first <= number and (current or dropped):
        page.add(number, bytes(current), dropped)
    return _page_result(page, shown, info.st_size, total)


def _page_result(page: _Page, shown: str, size: int, total: int | None) -> ToolResult:
    if not page.entries:
        if total is not None:
            raise ToolError(f"'{shown}' has {total} lines; offset {page.first + 1} is past the end.")
        raise ToolError(f"'{shown}' has fewer than {page.first + 1} lines; offset {page.first + 1} is past the end.")
    last = page.first + len(page.entries)
    more = page.full or total is None or last < total
    of = f"of {total}" if total is not None else f"of a {_size_text(size)} file (lines not counted)"
    footer = f"[lines {page.first + 1}-{last} {of}" + (f"; continue with offset={last + 1}" if more else "")
    footer += f"; '{shown}' is {_size_text(size)}: page it with offset and limit, or find lines with grep]"
    display: dict[str, Any] = {"path": shown, "lines": total, "bytes": size}
    return ToolResult(output="\n".join([*page.entries, footer]), display=display)


def _size_text(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} bytes"


def _invalid_utf8(head: bytes) -> bool:
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start < len(head) - 4  # not just a character cut at the end of the head
    return False
