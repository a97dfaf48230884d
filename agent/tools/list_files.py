"""`list_files`: files under a directory, respecting `.gitignore`, bounded."""

from __future__ import annotations

import asyncio
import fnmatch
import os
import stat
from contextlib import suppress
from pathlib import Path
from typing import Any

from pydantic import Field

from agent.git import git_environment
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
from agent.tools.workspace_fs import file_status, os_error

MAX_ENTRIES = 500
SKIPPED_DIRECTORIES = frozenset({".git", "__pycache__", "node_modules", ".venv", ".mypy_cache", ".pytest_cache"})


class ListFilesArgs(ToolArgs):
    path: str | None = Field(default=None, description="Directory relative to the workspace root. Default '.'.")
    pattern: str | None = Field(
        default=None, description="Glob matched against the relative path or the file name, e.g. '*.py'."
    )


async def git_files(directory: Path) -> list[str] | None:
    """Tracked and untracked-but-not-ignored files under `directory` (None outside a git repo).

    git runs with `agent.git.git_environment`: nothing the repository configures is executed."""
    try:
        env = await asyncio.to_thread(git_environment, directory)
        process = await asyncio.create_subprocess_exec(
            "git",
            "--no-pager",
            "ls-files",
            "--cached",
            "--others",
            "--exclude-standard",
            "-z",
            cwd=directory,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
    except OSError:
        return None
    stdout, _ = await process.communicate()
    if process.returncode != 0:
        return None
    return sorted({name for name in stdout.decode(errors="replace").split("\0") if name})


def walk_files(directory: Path) -> list[str]:
    """Every file under `directory` (regular files and symlinks), skipping VCS and cache
    directories (used outside git, which lists no FIFOs, sockets or devices either)."""
    found = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRECTORIES)
        for name in sorted(files):
            with suppress(OSError):  # FIFOs, sockets and devices are not listed
                if stat.S_ISREG(os.lstat(Path(root) / name).st_mode) or os.path.islink(Path(root) / name):
                    found.append((Path(root) / name).relative_to(directory).as_posix())
    return found


class ListFiles(Tool[ListFilesArgs]):
    name = "list_files"
    description = (
        "List files under a directory of the workspace (recursively), skipping what .gitignore "
        "ignores. Optionally filter with a glob pattern."
    )
    Args = ListFilesArgs
    parallel_safe = True

    def touched_paths(self, args: ListFilesArgs, ctx: ToolContext) -> tuple[str, ...]:
        where = display_path(ctx, resolve_path(ctx, args.path or "."))
        return (where, args.pattern) if args.pattern else (where,)

    @classmethod
    def describe(cls, arguments: dict[str, Any]) -> CallDescription:
        where, pattern = text_argument(arguments, "path"), text_argument(arguments, "pattern")
        return CallDescription(one_line(" ".join(part for part in (where, pattern) if part)))

    async def run(self, args: ListFilesArgs, ctx: ToolContext) -> ToolResult:
        directory = resolve_path(ctx, args.path or ".")
        shown = display_path(ctx, directory)
        try:
            info = file_status(ctx.workspace, directory)
        except OSError as exc:
            raise os_error(exc, "list", shown) from None
        if info is None or not stat.S_ISDIR(info.st_mode):
            raise ToolError(f"'{shown}' is not a directory.")
        names = await git_files(directory)
        if names is None:
            names = await asyncio.to_thread(walk_files, directory)
        if args.pattern:
            names = [
                n
                for n in names
                if fnmatch.fnmatch(n, args.pattern) or fnmatch.fnmatch(n.rsplit("/", 1)[-1], args.pattern)
            ]
        prefix = "" if shown == "." else shown + "/"
        listed = [prefix + name for name in names[:MAX_ENTRIES]]
        if not listed:
            return ToolResult(
                output=f"No files under '{shown}'" + (f" match '{args.pattern}'." if args.pattern else ".")
            )
        if len(names) > MAX_ENTRIES:
            listed.append(f"[… {len(names) - MAX_ENTRIES} more files; narrow with path or pattern]")
        return ToolResult(output="\n".join(listed), display={"count": len(names)})
