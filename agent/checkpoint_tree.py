"""What a checkpoint holds for a path, what the work tree holds for it, and writing the one over
the other (`agent.checkpoint_store` restores and compares with these).

Objects are read through GitPython's object database (`repo.odb.stream`, one `git cat-file`
process kept open), trees parsed here, for SHA-1 and SHA-256 repositories alike. Work-tree files
are reached by directory descriptor from the root (`agent.tools.workspace_fs.directory_fd`), so a
symlink swapped in for a directory is never followed; writes go to a temporary file renamed over
the target, with the mode the checkpoint recorded.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import git

from agent.tools.atomic import NEW_FILE_MODE
from agent.tools.stale_temp import temp_name
from agent.tools.workspace_fs import READ_FLAGS, TEMP_FLAGS, directory_fd, read_at_most

GITLINK = 0o160000
SYMLINK = 0o120000
EXECUTABLE = 0o100755
REGULAR = 0o100644
_TREE = 0o040000
_CACHED_TREES = 20_000
_EXECUTABLE_FILE_MODE = NEW_FILE_MODE | ((NEW_FILE_MODE & 0o444) >> 2)
SKIPPED_TRAILER = b"Codeassist-Skipped: "
"""Each path a snapshot left out is named in its commit message on a line starting with this
(the path as a JSON string), so that a restore from it never touches that path."""

IN_PROGRESS = {
    "MERGE_HEAD": "a merge",
    "CHERRY_PICK_HEAD": "a cherry-pick",
    "REVERT_HEAD": "a revert",
    "rebase-merge": "a rebase",
    "rebase-apply": "a rebase or am",
}
"""What `commit` refuses to commit in the middle of (git itself would make a different commit)."""


def inside(path: str) -> bool:
    """Whether `path` names something in the work tree that checkpoints may hold."""
    parts = path.split("/")
    return (
        bool(path)
        and not path.startswith("/")
        and all(part not in ("", ".", "..") and part.lower() != ".git" for part in parts)
    )


def under(path: str, left_out: set[str]) -> bool:
    """Whether `path` or one of its directories was left out of a checkpoint."""
    if not left_out:
        return False
    parts = path.split("/")
    return any("/".join(parts[:end]) in left_out for end in range(1, len(parts) + 1))


@dataclass(frozen=True)
class Entry:
    """A file as git records it: its mode (`REGULAR`, `EXECUTABLE`, `SYMLINK`, `GITLINK`) and
    object id (hex)."""

    mode: int
    oid: str


class TreeReader:
    """Looks paths up in commits, reading each tree object once."""

    def __init__(self, repo: git.Repo) -> None:
        self._repo = repo
        self._trees: dict[bytes, dict[bytes, tuple[int, bytes]]] = {}
        self._commits: dict[str, tuple[bytes, bytes]] = {}

    def _read(self, binsha: bytes, kind: bytes) -> bytes:
        stream = self._repo.odb.stream(binsha)
        data: bytes = stream.read()
        if stream.type != kind:
            raise ValueError(f"{binsha.hex()} is a {stream.type.decode()}, not a {kind.decode()}")
        return data

    def _commit(self, commit: str) -> tuple[bytes, bytes]:
        """The commit's root tree id and its message."""
        if commit not in self._commits:
            data = self._read(bytes.fromhex(commit), b"commit")
            headers, _, message = data.partition(b"\n\n")
            tree = headers.split(b"\n", 1)[0].removeprefix(b"tree ")
            self._commits[commit] = (bytes.fromhex(tree.decode()), message)
        return self._commits[commit]

    def _tree(self, binsha: bytes) -> dict[bytes, tuple[int, bytes]]:
        if binsha not in self._trees:
            if len(self._trees) >= _CACHED_TREES:
                self._trees.clear()
            data = self._read(binsha, b"tree")
            entries: dict[bytes, tuple[int, bytes]] = {}
            size = len(binsha)
            at = 0
            while at < len(data):
                space = data.index(b" ", at)
                nul = data.index(b"\0", space)
                entries[data[space + 1 : nul]] = (int(data[at:space], 8), data[nul + 1 : nul + 1 + size])
                at = nul + 1 + size
            self._trees[binsha] = entries
        return self._trees[binsha]

    def entry(self, commit: str, path: str) -> Entry | None:
        """The file at `path` in `commit`; None when there is none (or a directory is there)."""
        binsha = self._commit(commit)[0]
        parts = os.fsencode(path).split(b"/")
        for depth, part in enumerate(parts):
            found = self._tree(binsha).get(part)
            if found is None:
                return None
            mode, binsha = found
            if depth < len(parts) - 1 and mode != _TREE:
                return None
        return None if mode == _TREE else Entry(mode, binsha.hex())

    def tree_of(self, commit: str) -> str:
        """The id of `commit`'s root tree."""
        return self._commit(commit)[0].hex()

    def blob(self, oid: str) -> bytes:
        """The content of a blob."""
        return self._read(bytes.fromhex(oid), b"blob")

    def skipped(self, commit: str) -> set[str]:
        """The paths the snapshot `commit` left out (none for any other commit)."""
        skipped = set()
        for line in self._commit(commit)[1].split(b"\n"):
            if line.startswith(SKIPPED_TRAILER):
                with suppress(ValueError):
                    skipped.add(str(json.loads(line[len(SKIPPED_TRAILER) :])))
        return skipped


def blob_id(data: bytes, hex_length: int) -> str:
    """The id git gives a blob with `data` (SHA-1, or SHA-256 for 64-digit ids)."""
    digest = hashlib.sha1() if hex_length == 40 else hashlib.sha256()
    digest.update(b"blob %d\0" % len(data))
    digest.update(data)
    return digest.hexdigest()


def _parent_fd(root: Path, path: str, *, create: bool = False) -> tuple[int, str]:
    """An open descriptor of `path`'s directory (the caller closes it) and its last name."""
    relative = Path(path)
    with directory_fd(root, root / relative.parent, create=create) as fd:
        return os.dup(fd), relative.name


def worktree_entry(root: Path, path: str, hex_length: int) -> Entry | None:
    """What the work tree holds at `path`: a file's mode and blob id, a nested repository as
    `GITLINK` (id ""); None when nothing (or a directory) is there. Anything else (a FIFO, a
    device, an unreadable file) comes back with mode 0."""
    try:
        parent, name = _parent_fd(root, path)
    except (OSError, ValueError):
        return None
    try:
        info = os.stat(name, dir_fd=parent, follow_symlinks=False)
        if stat.S_ISLNK(info.st_mode):
            return Entry(SYMLINK, blob_id(os.readlink(os.fsencode(name), dir_fd=parent), hex_length))
        if stat.S_ISDIR(info.st_mode):
            nested = os.path.lexists(os.path.join(root, path, ".git"))
            return Entry(GITLINK, "") if nested else None
        if not stat.S_ISREG(info.st_mode):
            return Entry(0, "")
        fd = os.open(name, READ_FLAGS, dir_fd=parent)
        try:
            chunks = []
            while chunk := read_at_most(fd, 1 << 20):
                chunks.append(chunk)
        finally:
            os.close(fd)
        return Entry(EXECUTABLE if info.st_mode & 0o100 else REGULAR, blob_id(b"".join(chunks), hex_length))
    except FileNotFoundError:
        return None
    except OSError:
        return Entry(0, "")
    finally:
        os.close(parent)


def remove_path(root: Path, path: str) -> bool:
    """Delete the file or symlink at `path` (never following a symlink), then its parent
    directories that are left empty, never the root. False when there was nothing to delete.

    Raises:
        OSError: it could not be removed (a non-empty directory is there, permission denied…).
    """
    try:
        parent, name = _parent_fd(root, path)
    except FileNotFoundError:
        return False
    try:
        info = os.stat(name, dir_fd=parent, follow_symlinks=False)
    except FileNotFoundError:
        os.close(parent)
        return False
    try:
        if stat.S_ISDIR(info.st_mode):
            os.rmdir(name, dir_fd=parent)
        else:
            os.unlink(name, dir_fd=parent)
    finally:
        os.close(parent)
    remove_empty_parents(root, path)
    return True


def remove_empty_parents(root: Path, path: str) -> None:
    """Remove `path`'s parent directories while they are empty, stopping below the root."""
    directory = Path(path).parent
    while directory.parts:
        try:
            parent, name = _parent_fd(root, str(directory))
        except (OSError, ValueError):
            return
        try:
            os.rmdir(name, dir_fd=parent)
        except OSError:
            return
        finally:
            os.close(parent)
        directory = directory.parent


def write_entry(root: Path, path: str, entry: Entry, data: bytes) -> None:
    """Make `path` the file (or symlink) `entry` with content `data`: written to a temporary
    file in its directory (created as needed, by descriptor) and renamed over whatever is there;
    an empty directory in the way is removed.

    Raises:
        OSError: it could not be written (a parent is not a directory, a non-empty directory is
            in the way, permission denied…); the work tree is unchanged.
    """
    parent, name = _parent_fd(root, path, create=True)
    try:
        with suppress(FileNotFoundError):
            if stat.S_ISDIR(os.stat(name, dir_fd=parent, follow_symlinks=False).st_mode):
                os.rmdir(name, dir_fd=parent)
        tmp = temp_name(name)
        try:
            if entry.mode == SYMLINK:
                os.symlink(data, os.fsencode(tmp), dir_fd=parent)
            else:
                fd = os.open(tmp, TEMP_FLAGS, 0o600, dir_fd=parent)
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view) :]
                    os.fchmod(fd, _EXECUTABLE_FILE_MODE if entry.mode == EXECUTABLE else NEW_FILE_MODE)
                finally:
                    os.close(fd)
            os.replace(tmp, name, src_dir_fd=parent, dst_dir_fd=parent)
        except BaseException:
            with suppress(OSError):
                os.unlink(tmp, dir_fd=parent)
            raise
    finally:
        os.close(parent)
