"""The temporary files of atomic writes: how they are named, and removing those a crash left.

A write goes to a temporary file next to its target, renamed over the target once complete
(`agent.tools.atomic`). A process killed in between leaves that file behind. Its name says whose
it is: `.<start of the target's name>.<pid>.<8 hex digits>.codeassist-tmp`, the pid being the
writer's. `clean_stale_temp_files` removes, in a workspace, only files that

- are named exactly that way (or the way earlier versions named them:
  `.<name>.<8 letters, digits or _>.codeassist-tmp`),
- are regular files (never a symlink, which is not followed, nor a directory),
- were last modified more than `STALE_AFTER_S` seconds ago,
- and, when the name carries a pid, whose writer is no longer running;

so a write in progress, in this process or another, never loses its file.
"""

from __future__ import annotations

import os
import re
import secrets
import stat
import time
from contextlib import suppress
from pathlib import Path

TEMP_SUFFIX = ".codeassist-tmp"
"""Suffix of the temporary files atomic writes create (and remove on failure)."""

STALE_AFTER_S = 120.0
"""A temporary file younger than this is never removed (a slow write may still be going on)."""

MAX_SCANNED_ENTRIES = 50_000
"""The start-up scan stops after this many directory entries (huge trees are cleaned partly)."""

NAME_STEM_BYTES = 64
"""At most this many bytes of the target's name go into the temporary name (it must stay under the
file system's 255-byte limit when the target's own name is near it)."""

_CURRENT = re.compile(r"\..*\.(?P<pid>[0-9]+)\.[0-9a-f]{8}" + re.escape(TEMP_SUFFIX), re.DOTALL)
_EARLIER = re.compile(r"\..*\.[a-z0-9_]{8}" + re.escape(TEMP_SUFFIX), re.DOTALL)
MAX_DEPTH = 64
"""Directories deeper than this below the workspace are not scanned."""

_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_NEVER_SCANNED = frozenset({".git"})
_cleaned: set[Path] = set()


def temp_name(target_name: str) -> str:
    """A fresh temporary name for writing `target_name`, carrying this process's pid."""
    stem = target_name.encode("utf-8", "surrogateescape")[:NAME_STEM_BYTES].decode("utf-8", "ignore")
    return f".{stem}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}"


def _writer_running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # someone else's live process, or a pid we cannot judge: keep the file
    return True


def is_stale_temp_file(name: str, info: os.stat_result, now: float | None = None) -> bool:
    """Whether the entry `name` (with its lstat `info`) is a temporary file a crashed write left."""
    if not stat.S_ISREG(info.st_mode) or not name.endswith(TEMP_SUFFIX):
        return False
    if (now if now is not None else time.time()) - info.st_mtime < STALE_AFTER_S:
        return False
    current = _CURRENT.fullmatch(name)
    if current is not None:
        return not _writer_running(int(current["pid"]))
    return _EARLIER.fullmatch(name) is not None


def clean_stale_temp_files(workspace: Path) -> list[Path]:
    """Remove the temporary files crashed writes left under `workspace` (see the module docstring).

    Directories are walked by descriptor with `O_NOFOLLOW` (a symlink is never followed, not even
    one swapped in during the walk), `.git` is not entered, and the walk is bounded by
    `MAX_SCANNED_ENTRIES` and `MAX_DEPTH`. Errors (unreadable directories, files vanishing) are
    skipped.

    Returns:
        The files removed.
    """
    removed: list[Path] = []
    budget = [MAX_SCANNED_ENTRIES]
    with suppress(OSError):
        fd = os.open(workspace, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            _clean_directory(fd, workspace, 0, budget, removed, time.time())
        finally:
            os.close(fd)
    return removed


def _clean_directory(fd: int, path: Path, depth: int, budget: list[int], removed: list[Path], now: float) -> None:
    subdirectories: list[str] = []
    with suppress(OSError), os.scandir(fd) as entries:
        for entry in entries:
            budget[0] -= 1
            if budget[0] <= 0:
                return
            with suppress(OSError):
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in _NEVER_SCANNED and depth < MAX_DEPTH:
                        subdirectories.append(entry.name)
                elif entry.name.endswith(TEMP_SUFFIX) and is_stale_temp_file(
                    entry.name, entry.stat(follow_symlinks=False), now
                ):
                    os.unlink(entry.name, dir_fd=fd)
                    removed.append(path / entry.name)
    for name in subdirectories:
        if budget[0] <= 0:
            return
        with suppress(OSError):
            child = os.open(name, _DIRECTORY_FLAGS, dir_fd=fd)
            try:
                _clean_directory(child, path / name, depth + 1, budget, removed, now)
            finally:
                os.close(child)


def clean_once(workspace: Path) -> None:
    """`clean_stale_temp_files` the first time a workspace is used in this process."""
    if workspace in _cleaned:
        return
    _cleaned.add(workspace)
    clean_stale_temp_files(workspace)
