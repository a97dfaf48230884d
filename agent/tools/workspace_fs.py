"""Reading, writing and removing workspace files through directory descriptors.

`agent.tools.paths.resolve_path` checks a path: symlinks resolved, the result inside the
workspace. Using that path by name afterwards would follow whatever the name means *then*: a
process that swaps a directory for a symlink between the check and the use would redirect a write
outside. So every use here walks the resolved path again from a descriptor of the workspace root,
one component at a time with `O_NOFOLLOW | O_DIRECTORY` (`os.open(name, …, dir_fd=parent)`): a
component that has become a symlink, or anything but a directory, fails the walk instead of being
followed. The last component is opened the same way (`O_NOFOLLOW`), and what was opened is
checked with `fstat` on the descriptor, so the check and the use name the same file. Temporary
files are created, renamed and removed in the directory's descriptor, and missing directories are
created by descriptor too. Symlinks inside the workspace that point inside keep working: the
path was resolved first, so the walk only meets real directories.

Only regular files are read or written. FIFOs, sockets, devices and directories are refused
before a byte is read: the open uses `O_NONBLOCK`, so even a FIFO with no writer cannot block.
A regular file with more than one hard link is never written: another of its names may be
outside the workspace.
"""

from __future__ import annotations

import asyncio
import errno
import os
import stat
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TypeVar

from agent.tools.base import ToolError, one_line
from agent.tools.base import os_error_reason as os_error_reason
from agent.tools.stale_temp import temp_name

DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
"""How each directory of a walk is opened: never through a symlink."""
READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC
"""How a file is opened for reading: never blocking (FIFOs), never through a symlink."""
TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
READ_CHUNK = 1024 * 1024

T = TypeVar("T")


def kind_of(mode: int) -> str:
    """What a file that is not a regular file is, in words ("a named pipe (FIFO)")."""
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a named pipe (FIFO)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISLNK, "a symbolic link"),
    )
    return next((name for test, name in kinds if test(mode)), "not a regular file")


def os_error(exc: OSError, action: str, shown: str) -> ToolError:
    """One clear `ToolError` for an `OSError` raised while `action` ("read", "list"…) `shown`."""
    return ToolError(f"Cannot {action} '{one_line(shown)}': {os_error_reason(exc)}.")


def not_regular(shown: str, mode: int, action: str) -> ToolError:
    """The refusal of a file that is not a regular file."""
    return ToolError(f"'{one_line(shown)}' is {kind_of(mode)}; only regular files can be {action}.")


def hard_linked(shown: str, links: int) -> ToolError:
    """The refusal to write a file that has other hard links."""
    return ToolError(
        f"'{one_line(shown)}' has {links} hard links: another name for the same file may be outside the "
        "workspace, so it is treated as outside and will not be changed."
    )


@contextmanager
def directory_fd(
    root: Path, directory: Path, *, create: bool = False, created: list[Path] | None = None
) -> Iterator[int]:
    """A descriptor of `directory` (resolved, at or under `root`), walked from `root` by descriptor.

    Args:
        root: the resolved workspace root (trusted: opened by name).
        directory: the resolved directory to reach.
        create: make missing directories (`os.mkdir(name, dir_fd=…)`); each is added to `created`.

    Raises:
        OSError: a component is missing (unless `create`), is not a directory, or is a symlink
            (ELOOP or ENOTDIR: it changed since the path was resolved).
    """
    parts = directory.relative_to(root).parts
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        here = root
        for part in parts:
            here = here / part
            try:
                child = os.open(part, DIRECTORY_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                os.mkdir(part, dir_fd=fd)
                if created is not None:
                    created.append(here)
                child = os.open(part, DIRECTORY_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def open_regular(root: Path, path: Path, shown: str, action: str = "read") -> tuple[int, os.stat_result]:
    """A read-only descriptor of the regular file at `path` (resolved, under `root`), with its fstat.

    Raises:
        ToolError: it is a directory, FIFO, socket, device or symlink (nothing is read).
        OSError: it cannot be opened (missing, permission denied, a name too long…).
    """
    if path == root:
        raise not_regular(shown, stat.S_IFDIR, action)
    with directory_fd(root, path.parent) as parent:
        try:
            fd = os.open(path.name, READ_FLAGS, dir_fd=parent)
        except OSError as exc:
            if exc.errno in (errno.ENXIO, errno.EOPNOTSUPP, errno.ENODEV):
                info = os.stat(path.name, dir_fd=parent, follow_symlinks=False)
                raise not_regular(shown, info.st_mode, action) from None
            raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        raise not_regular(shown, info.st_mode, action)
    return fd, info


def read_at_most(fd: int, limit: int) -> bytes:
    """Up to `limit` bytes from `fd`'s current position (fewer only at the end of the file)."""
    chunks: list[bytes] = []
    left = limit
    while left > 0:
        chunk = os.read(fd, min(left, READ_CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


async def in_thread_on_copy(fd: int, work: Callable[..., T], *args: object) -> T:
    """`work(copy, *args)` in a worker thread, `copy` a duplicate of `fd` (so the caller may close
    `fd` as soon as it stops waiting). The duplicate is closed exactly once: by the thread when it
    took it, else here when the call is cancelled before a worker was free to start it.
    """
    copy = os.dup(fd)
    taken = threading.Lock()

    def in_thread() -> T:
        if not taken.acquire(blocking=False):  # the caller was cancelled and closed the copy
            raise asyncio.CancelledError
        try:
            return work(copy, *args)
        finally:
            os.close(copy)

    try:
        return await asyncio.to_thread(in_thread)
    except asyncio.CancelledError:
        if taken.acquire(blocking=False):
            os.close(copy)
        raise


def file_status(root: Path, path: Path) -> os.stat_result | None:
    """The lstat of `path` reached by descriptor from `root`, or None when it does not exist."""
    if path == root:
        return os.stat(root)
    try:
        with directory_fd(root, path.parent) as parent:
            return os.stat(path.name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _check_replaceable(info: os.stat_result, shown: str) -> None:
    if not stat.S_ISREG(info.st_mode):
        raise not_regular(shown, info.st_mode, "changed")
    if info.st_nlink > 1:
        raise hard_linked(shown, info.st_nlink)


def write_replacing(
    root: Path,
    path: Path,
    data: bytes,
    *,
    mode: int | None,
    new_file_mode: int,
    shown: str,
    created: list[Path] | None = None,
) -> None:
    """Write `data` to a temporary file in `path`'s directory (by descriptor), then rename it over
    `path`; the directory is synced. Missing directories are created when `created` is given.

    Raises:
        ToolError: `path` exists but is not a regular file, or has other hard links.
        OSError: anything else failed; the temporary file is removed and `path` is unchanged.
    """
    with directory_fd(root, path.parent, create=created is not None, created=created) as parent:
        try:
            existing: os.stat_result | None = os.stat(path.name, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            existing = None
        if existing is not None:
            _check_replaceable(existing, shown)
        if mode is None:
            mode = stat.S_IMODE(existing.st_mode) if existing is not None else new_file_mode
        tmp = temp_name(path.name)
        fd = os.open(tmp, TEMP_FLAGS, 0o600, dir_fd=parent)
        try:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                os.fchmod(fd, mode & 0o7777)
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path.name, src_dir_fd=parent, dst_dir_fd=parent)
        except BaseException:
            with suppress(OSError):
                os.unlink(tmp, dir_fd=parent)
            raise
        with suppress(OSError):
            os.fsync(parent)


def remove_file(root: Path, path: Path, shown: str) -> None:
    """Delete the regular file at `path` by descriptor (never a symlink or a hard-linked file).

    Raises:
        ToolError: it is not a regular file, or has other hard links.
        OSError: it cannot be removed.
    """
    with directory_fd(root, path.parent) as parent:
        _check_replaceable(os.stat(path.name, dir_fd=parent, follow_symlinks=False), shown)
        os.unlink(path.name, dir_fd=parent)
        with suppress(OSError):
            os.fsync(parent)


def remove_empty_directory(root: Path, path: Path) -> None:
    """Remove the empty directory `path` by descriptor (best effort: errors are ignored)."""
    with suppress(OSError, ValueError), directory_fd(root, path.parent) as parent:
        os.rmdir(path.name, dir_fd=parent)
