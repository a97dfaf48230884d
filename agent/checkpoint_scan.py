"""Which paths a snapshot must store: parsing git's listing of what differs from the private
index, leaving out what checkpoints do not hold (large untracked files, nested repositories,
submodules), and finding, in a repository with attributes, the files whose indexed blob is not
their exact bytes (eol conversion, filters, `ident`, `working-tree-encoding`)."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import git

from agent.checkpoint_tree import EXECUTABLE, REGULAR
from agent.git import GIT_ERRORS, run_git

CHECKPOINT_CONFIG: dict[str, str] = {
    "core.logAllRefUpdates": "false",
    "gc.auto": "0",
    "core.autocrlf": "false",
    "core.safecrlf": "false",
    "core.attributesFile": os.devnull,
    "core.fileMode": "true",
    "core.symlinks": "true",
    "core.splitIndex": "false",
    "core.ignoreStat": "false",
}
"""Settings for snapshot commands: no reflog for the private refs, no automatic gc, no eol
conversion and no attributes from outside the repository (so that, without attributes in the
repository, what git stores is the file's bytes), modes and symlinks recorded as they are."""
_CONVERTING_ATTRIBUTES = ("filter", "ident", "working-tree-encoding")
_SCAN_TIMEOUT_S = 120.0
_CONFIG_ERRORS: tuple[type[BaseException], ...] = (*GIT_ERRORS, KeyError)


@dataclass
class Plan:
    """What a snapshot changes in the private index."""

    files: dict[str, int] = field(default_factory=dict)
    """Regular files to store, with their mode."""
    links: dict[str, bytes] = field(default_factory=dict)
    """Symlinks to store, with their target."""
    deleted: list[str] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    """Paths left out, with the reason."""

    def add_converted(self, other: Plan) -> None:
        """Add the files of `other` not planned already (they are stored as they are)."""
        planned = {*self.files, *self.links, *self.deleted, *self.skipped}
        for path, mode in other.files.items():
            if path not in planned:
                self.files[path] = mode
        for path, reason in other.skipped.items():
            self.skipped.setdefault(path, reason)


def _size_reason(limit: int) -> str:
    return f"over {limit / (1024 * 1024):g} MiB"


def plan_snapshot(root: Path, listing: bytes, max_file_bytes: int, *, cap_tracked: bool = False) -> Plan:
    """The plan for `git ls-files -z -t -m -d -o` output (`listing`): each path is looked at with
    `lstat` to decide whether it is stored, deleted or left out.

    Args:
        max_file_bytes: untracked files larger than this are left out (tracked ones too when
            `cap_tracked`).
    """
    tags: dict[str, set[bytes]] = {}
    for item in listing.split(b"\0"):
        if len(item) > 2:
            tags.setdefault(os.fsdecode(item[2:]), set()).add(item[:1])
    plan = Plan()
    directories: dict[str, bool] = {}
    for path, kinds in tags.items():
        untracked = b"?" in kinds
        if path.endswith("/"):
            plan.skipped[path.rstrip("/")] = "nested repository"
            continue
        if b"R" in kinds or not _real_directory(root, os.path.dirname(path), directories):
            # Beyond a symlink or a file that replaced its directory: the path is gone.
            if not untracked:
                plan.deleted.append(path)
            continue
        full = os.path.join(root, path)
        try:
            info = os.lstat(full)
        except FileNotFoundError:
            if not untracked:
                plan.deleted.append(path)
            continue
        except OSError:
            plan.skipped[path] = "cannot be read"
            continue
        if stat.S_ISLNK(info.st_mode):
            plan.links[path] = os.readlink(os.fsencode(full))
        elif stat.S_ISDIR(info.st_mode):
            if os.path.lexists(os.path.join(full, ".git")):
                plan.skipped[path] = "nested repository" if untracked else "submodule"
            elif not untracked:
                plan.deleted.append(path)
        elif not stat.S_ISREG(info.st_mode):
            plan.skipped[path] = "not a regular file"
        elif info.st_size > max_file_bytes and (untracked or cap_tracked):
            plan.skipped[path] = _size_reason(max_file_bytes)
        elif not os.access(full, os.R_OK):
            plan.skipped[path] = "cannot be read"
        else:
            plan.files[path] = EXECUTABLE if info.st_mode & 0o100 else REGULAR
    return plan


def _real_directory(root: Path, directory: str, known: dict[str, bool]) -> bool:
    """Whether `directory` (relative, "" for the root) and each directory above it is a real
    directory in the work tree, not a symlink (`known` caches the answers)."""
    if not directory:
        return True
    if directory not in known:
        real = _real_directory(root, os.path.dirname(directory), known)
        if real:
            try:
                real = stat.S_ISDIR(os.lstat(os.path.join(root, directory)).st_mode)
            except OSError:
                real = False
        known[directory] = real
    return known[directory]


def _run(args: list[str], root: Path, env: Mapping[str, str], input: bytes | None = None) -> bytes:
    try:
        result = run_git(args, root, env=env, input=input, timeout=_SCAN_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError):
        return b""
    return result.stdout if result.returncode == 0 else b""


def _user_autocrlf(repo: git.Repo) -> bool:
    try:
        value = repo.config_reader().get_value("core", "autocrlf", "false")
    except _CONFIG_ERRORS:
        return False
    return str(value).lower() in ("true", "input")


def has_attributes(root: Path, git_dir: Path, repo: git.Repo, env: Mapping[str, str]) -> bool:
    """Whether git may convert files' content on their way into this repository: it has
    `.gitattributes` files or `info/attributes`, or the user sets `core.autocrlf`."""
    with_globs = {key: value for key, value in env.items() if key != "GIT_LITERAL_PATHSPECS"}
    tracked = _run(["ls-files", "-z", "--", "*.gitattributes"], root, with_globs)
    if any(os.path.basename(path) == b".gitattributes" for path in tracked.split(b"\0")):
        return True
    try:
        if (git_dir / "info" / "attributes").read_bytes().strip():
            return True
    except OSError:
        pass
    return _user_autocrlf(repo)


def _attribute_texts(root: Path, paths: Sequence[str]) -> bytes:
    texts = []
    for path in paths:
        if os.path.basename(path) == ".gitattributes":
            full = os.path.join(root, path)
            if not os.path.islink(full):
                try:
                    with open(full, "rb") as file:
                        texts.append(file.read(1 << 20))
                except OSError:
                    pass
    return b"\n".join(texts)


def converted_paths(root: Path, env: Mapping[str, str], git_dir: Path, max_file_bytes: int) -> Plan:
    """The tracked files whose indexed blob may differ from their bytes on disk although their
    stat information matches: end-of-line conversion (`git ls-files --eol` sees different line
    endings in the index and the work tree), or a filter, `ident` or `working-tree-encoding`
    attribute (`git check-attr`, asked only when an attributes file mentions one)."""
    listing = _run(["ls-files", "-z", "--eol"], root, env)
    paths: list[str] = []
    candidates: list[str] = []
    for item in listing.split(b"\0"):
        head, tab, name = item.partition(b"\t")
        if not tab:
            continue
        path = os.fsdecode(name)
        paths.append(path)
        fields = head.split()
        if len(fields) >= 2 and fields[1] != b"w/" and fields[0][2:] != fields[1][2:]:
            candidates.append(path)
    texts = _attribute_texts(root, paths)
    with suppress(OSError):
        texts += (git_dir / "info" / "attributes").read_bytes()
    if any(name.encode() in texts for name in _CONVERTING_ATTRIBUTES):
        stdin = b"".join(os.fsencode(path) + b"\0" for path in paths)
        answer = _run(["check-attr", "-z", "--stdin", *_CONVERTING_ATTRIBUTES], root, env, input=stdin)
        fields = answer.split(b"\0")
        for at in range(0, len(fields) - 2, 3):
            if fields[at + 2] not in (b"unspecified", b"unset"):
                candidates.append(os.fsdecode(fields[at]))
    listing = b"".join(b"C " + os.fsencode(path) + b"\0" for path in dict.fromkeys(candidates))
    return plan_snapshot(root, listing, max_file_bytes, cap_tracked=True)


def nul_split(data: bytes) -> list[str]:
    """The names in NUL-separated git output."""
    return [os.fsdecode(item) for item in data.split(b"\0") if item]


def paths_input(paths: Sequence[str]) -> bytes:
    """`paths` as NUL-terminated input for a `-z --stdin` git command."""
    return b"".join(os.fsencode(path) + b"\0" for path in paths)


def index_info(listing: bytes, paths: Sequence[str], hex_length: int) -> bytes:
    """Input for `git update-index -z --index-info` that sets each of `paths` to its entry in
    `listing` (the output of `git ls-files -s -z`), and removes those it does not hold."""
    entries = {}
    for item in listing.split(b"\0"):
        meta, _, name = item.partition(b"\t")
        entries[name] = b" ".join(meta.split()[:2])
    zero = b"0 " + b"0" * hex_length
    return b"".join(b"%s\t%s\0" % (entries.get(os.fsencode(path), zero), os.fsencode(path)) for path in paths)


def quoted(path: str) -> bytes:
    """`path` as a line for `git hash-object --stdin-paths` (C-quoted when it must be)."""
    raw = os.fsencode(path)
    if b"\n" not in raw and b"\r" not in raw and not raw.startswith(b'"'):
        return raw
    escaped = raw.replace(b"\\", b"\\\\").replace(b'"', b'\\"').replace(b"\n", b"\\n").replace(b"\r", b"\\r")
    return b'"' + escaped + b'"'


Status = Literal["added", "modified", "deleted", "renamed", "mode", "type"]
_STATUS: dict[str, Status] = {"A": "added", "M": "modified", "D": "deleted", "R": "renamed", "T": "type"}


def parse_changes(raw: bytes) -> list[tuple[str, Status, str | None, int, int, bool]]:
    """Path, status, old path (renames), lines added and removed, binary: from the output of
    `git diff-tree -z --raw --numstat` (all raw records come first, then the counts in the same
    order)."""
    fields = raw.split(b"\0")
    records: list[tuple[Status, str, str | None]] = []
    at = 0
    while at < len(fields) and fields[at].startswith(b":"):
        old_mode, new_mode, old_id, new_id, letter = fields[at][1:].decode().split()
        if letter.startswith("R"):
            records.append(("renamed", os.fsdecode(fields[at + 2]), os.fsdecode(fields[at + 1])))
            at += 3
            continue
        status = _STATUS.get(letter[:1], "modified")
        if status == "modified" and old_mode != new_mode and old_id == new_id:
            status = "mode"
        records.append((status, os.fsdecode(fields[at + 1]), None))
        at += 2
    counts: list[tuple[int, int, bool]] = []
    while at < len(fields) and fields[at]:
        added, removed, rest = fields[at].split(b"\t", 2)
        at += 1 if rest else 3
        binary = added == b"-"
        counts.append((0 if binary else int(added), 0 if binary else int(removed), binary))
    counts += [(0, 0, False)] * (len(records) - len(counts))
    return [(path, status, old, *count) for (status, path, old), count in zip(records, counts, strict=False)]
