"""Workspace containment: every path a tool touches is resolved and checked here.

Paths are resolved with symlinks followed and compared by path components
(`Path.is_relative_to`), never by string prefix, so `..`, absolute paths elsewhere, a sibling
directory whose name starts like the workspace's, and symlinks pointing out are all refused.
The resolved path is then used through directory descriptors (`agent.tools.workspace_fs`), so a
symlink swapped in after this check is refused rather than followed.
"""

from __future__ import annotations

from pathlib import Path

from agent.paths import config_dir, data_dir
from agent.tools.base import ToolContext, ToolError, one_line
from agent.tools.workspace_fs import os_error_reason

PROTECTED_DIRECTORIES = (".git",)
"""Inside the workspace but never writable by tools (even when they do not exist yet)."""


def own_directories() -> tuple[Path, ...]:
    """codeassist's config and data directories: never writable by tools, wherever they are."""
    return (config_dir().resolve(), data_dir().resolve())


def resolve_path(ctx: ToolContext, raw: str, *, for_write: bool = False) -> Path:
    """The resolved absolute path of `raw` (relative to the workspace), if it stays inside.

    A path that does not exist yet is resolved through its nearest existing parent.

    Raises:
        ToolError: empty path, NUL byte, outside the workspace, or (for writes) protected.
    """
    if not raw or not raw.strip():
        raise ToolError("The path is empty.")
    if "\x00" in raw:
        raise ToolError("The path contains a NUL byte.")
    try:
        candidate = Path(raw).expanduser()
    except RuntimeError:  # "~name" for a user that does not exist
        raise ToolError(f"'{raw}' names a home directory that does not exist.") from None
    if not candidate.is_absolute():
        candidate = ctx.workspace / candidate
    try:
        resolved = candidate.resolve(strict=False)
    except (OSError, RuntimeError) as exc:  # a symlink loop: RuntimeError before Python 3.13
        reason = os_error_reason(exc) if isinstance(exc, OSError) else "a symbolic link in it loops"
        raise ToolError(f"Cannot use '{one_line(raw)}': {reason}.") from None
    if not resolved.is_relative_to(ctx.workspace):
        raise ToolError(f"'{raw}' is outside the workspace ({ctx.workspace}); only files inside it can be used.")
    if for_write:
        relative = resolved.relative_to(ctx.workspace)
        if relative.parts and relative.parts[0] in PROTECTED_DIRECTORIES:
            raise ToolError(f"'{raw}' is inside {relative.parts[0]}/, which tools may not change.")
        for directory in own_directories():
            if resolved.is_relative_to(directory):
                raise ToolError(
                    f"'{raw}' is inside codeassist's own settings or data ({directory}); tools may not change it."
                )
    return resolved


def display_path(ctx: ToolContext, path: Path) -> str:
    """The workspace-relative form of a resolved path, for outputs and approvals."""
    try:
        relative = path.relative_to(ctx.workspace)
    except ValueError:
        return str(path)
    return relative.as_posix() or "."
