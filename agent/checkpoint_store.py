"""Checkpoints of a git work tree: commits no branch points to, restored by codeassist itself.

A snapshot is a commit of the work tree exactly as it is on disk (tracked files and untracked
files that are not ignored, byte for byte: no clean, eol or LFS filter on the way in), kept under
`refs/codeassist/<session>/<name>`. It is built in a private index file per session
(`<index_dir>/<session>.index`), first copied from the user's index so that its stat cache spares
re-reading unchanged files; each snapshot asks git which paths differ from that index, stores
only those blobs, then writes the tree and the commit. The user's index, HEAD, branches, stash and
reflogs are never written by a snapshot, a restore or a diff. `commit` is the one operation that
moves the user's branch, as `git commit` would, and updates only the committed paths' entries of
the user's index.

Every git command goes through `agent.git` (no program the repository configures runs), with the
user's own filter drivers neutralised too for snapshots (`every_driver`). Restores are written
from blobs by `agent.checkpoint_tree`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import git
from git.refs.symbolic import SymbolicReference

from agent.checkpoint_scan import (
    CHECKPOINT_CONFIG,
    Plan,
    converted_paths,
    has_attributes,
    index_info,
    nul_split,
    parse_changes,
    paths_input,
    plan_snapshot,
    quoted,
)
from agent.checkpoint_tree import (
    GITLINK,
    IN_PROGRESS,
    SKIPPED_TRAILER,
    Entry,
    TreeReader,
    inside,
    remove_path,
    under,
    worktree_entry,
    write_entry,
)
from agent.git import GIT_ERRORS, config_fingerprint, git_environment, run_git, with_config

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "CheckpointError",
    "CheckpointStore",
    "CommitResult",
    "FileChange",
    "RestoreResult",
    "Snapshot",
    "init_repository",
]

DEFAULT_MAX_FILE_BYTES = 10 * 1024 * 1024
"""Untracked files larger than this are left out of checkpoints."""

AUTHOR = {
    "GIT_AUTHOR_NAME": "codeassist",
    "GIT_AUTHOR_EMAIL": "codeassist@localhost",
    "GIT_COMMITTER_NAME": "codeassist",
    "GIT_COMMITTER_EMAIL": "codeassist@localhost",
}
TRAILER = "Assisted-by: codeassist"
"""The trailer every commit made by `CheckpointStore.commit` ends with."""
DIRTY_FILES_LIMIT = 1000
_REFRESH_AFTER = 100
"""After this many index entries set without stat information, the private index is refreshed."""
_SCAN_TIMEOUT_S = 120.0
_PATHSPEC_BYTES = 256 * 1024  # a diff's paths are given to git as arguments up to this size in all
_READ_ERRORS: tuple[type[BaseException], ...] = (*GIT_ERRORS, KeyError, git.BadObject)


class CheckpointError(Exception):
    """A git command failed; the message is for the user."""


@dataclass(frozen=True)
class Snapshot:
    """A checkpoint that was written."""

    commit: str
    """The commit's full hex id."""
    ref: str | None
    """The ref that keeps it, None when it was taken without a name."""
    skipped: tuple[str, ...]
    """Paths left out (restore never touches them)."""
    skipped_reasons: tuple[str, ...]
    """Why, for each of `skipped`: "over 10 MiB", "nested repository", "submodule"…"""


@dataclass(frozen=True)
class FileChange:
    """One file changed between two commits."""

    path: str
    status: Literal["added", "modified", "deleted", "renamed", "mode", "type"]
    old_path: str | None
    """The path before, for a rename."""
    added: int
    """Lines added (0 for a binary file)."""
    removed: int
    binary: bool


@dataclass(frozen=True)
class RestoreResult:
    """What a restore did to the work tree."""

    written: tuple[str, ...]
    """Paths written or re-created."""
    deleted: tuple[str, ...]
    skipped: tuple[str, ...]
    """Submodules, paths the checkpoint left out, paths that could not be written."""
    problems: tuple[str, ...]
    """One line for the user about each path that was skipped for a reason worth telling."""


@dataclass(frozen=True)
class CommitResult:
    """A commit made on the user's branch."""

    commit: str
    branch: str | None
    """The branch moved; None on a detached HEAD."""
    files: tuple[str, ...]


def _failure(args: Sequence[str], detail: bytes | str) -> CheckpointError:
    text = detail.decode(errors="replace") if isinstance(detail, bytes) else detail
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith(("fatal:", "error:"))] or lines  # not git's advice
    return CheckpointError(f"git {args[0]} failed: {errors[-1] if errors else 'no message'}")


def _git(args: list[str], root: Path, env: Mapping[str, str], *, input: bytes | None = None) -> bytes:
    try:
        result = run_git(args, root, env=env, input=input, timeout=_SCAN_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError) as exc:
        raise _failure(args, str(exc)) from exc
    if result.returncode != 0:
        raise _failure(args, result.stderr)
    return result.stdout


def init_repository(workspace: Path) -> None:
    """Run `git init` in `workspace`.

    Raises:
        CheckpointError: git failed (or is missing).
    """
    _git(["init", "-q"], workspace, git_environment(workspace))


class CheckpointStore:
    """Snapshots, diffs, restores and commits for one session in one repository.

    Synchronous; used from one thread at a time. Every method raises `CheckpointError` when git
    fails."""

    def __init__(self, repo: git.Repo, root: Path, session_id: str, index_file: Path, max_file_bytes: int) -> None:
        self._repo = repo
        self.root = root
        """The repository's work tree."""
        self._session = session_id
        self._index = index_file
        self._max_file_bytes = max_file_bytes
        self._user_index = Path(repo.git_dir) / "index"
        self._converting: bool | None = None
        self._unstatted = 0
        self._hex: int | None = None
        self._environments: dict[bool, tuple[bytes | None, dict[str, str]]] = {}
        """The environments of `_environment`, with the configuration they were made from."""
        self._trees = TreeReader(repo)

    @classmethod
    def open(
        cls,
        workspace: Path,
        session_id: str,
        *,
        index_dir: Path,
        max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
        owner: bool = True,
    ) -> CheckpointStore | None:
        """The store for the repository containing `workspace`; None outside a git work tree.

        Args:
            session_id: names the private index and the ref namespace (no "/").
            index_dir: where the session's private index file is kept (created).
            max_file_bytes: untracked files larger than this are left out.
            owner: opened by the session itself (a lock its own crashed git command left is
                removed); False to only read its checkpoints (replay, export), while the session
                may be running in another process.

        Raises:
            CheckpointError: `session_id` cannot name a ref, or `index_dir` cannot be made.
        """
        if not session_id or "/" in session_id or session_id.startswith(".") or "\0" in session_id:
            raise CheckpointError(f"unusable session id for checkpoints: {session_id!r}")
        try:
            repo = git.Repo(workspace, search_parent_directories=True)
        except GIT_ERRORS:
            return None
        if repo.bare or repo.working_tree_dir is None:
            repo.close()
            return None
        root = Path(repo.working_tree_dir)
        repo.git.update_environment(**git_environment(root, every_driver=True))
        try:
            index_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            repo.close()
            raise CheckpointError(f"cannot keep checkpoints in {index_dir}: {exc.strerror}") from exc
        index_file = index_dir / f"{session_id}.index"
        if owner:
            with suppress(OSError):
                # Left by a crash of this session's own git command: nothing else uses this file.
                os.unlink(f"{index_file}.lock")
        return cls(repo, root, session_id, index_file, max_file_bytes)

    def close(self) -> None:
        """Stop the git processes the store keeps open."""
        self._repo.close()

    def _environment(self, *, private: bool = True) -> dict[str, str]:
        """For snapshot commands (`private`: the private index, exact bytes) or for the user's own
        view (their filters and settings, their index)."""
        fingerprint = config_fingerprint(Path(self._repo.git_dir), Path(self._repo.common_dir))
        cached = self._environments.get(private)
        if fingerprint is not None and cached is not None and cached[0] == fingerprint:
            return cached[1]
        if not private:
            env = {**git_environment(self.root), "GIT_LITERAL_PATHSPECS": "1"}
        else:
            env = self._private_environment()
        self._environments[private] = (fingerprint, env)
        return env

    def _private_environment(self) -> dict[str, str]:
        env = with_config(git_environment(self.root, every_driver=True), CHECKPOINT_CONFIG)
        return {
            **env,
            **AUTHOR,
            "GIT_ATTR_NOSYSTEM": "1",
            "GIT_LITERAL_PATHSPECS": "1",
            "GIT_INDEX_FILE": str(self._index),
        }

    def _head(self) -> tuple[str | None, str | None]:
        """HEAD's commit (None on an unborn branch) and the branch's ref (None when detached)."""
        try:
            branch: str | None = self._repo.head.ref.path
        except TypeError:
            branch = None
        except GIT_ERRORS as exc:
            raise CheckpointError(f"cannot read HEAD: {exc}") from exc
        try:
            head: str | None = SymbolicReference.dereference_recursive(self._repo, "HEAD")
        except (ValueError, OSError):
            head = None
        return head, branch

    # -- snapshots -------------------------------------------------------------------------

    def snapshot(self, name: str | None, message: str) -> Snapshot:
        """Commit the work tree as it is, with HEAD as parent (none on an unborn branch), and keep
        it under `refs/codeassist/<session>/<name>` (unreferenced when `name` is None).

        Untracked files over the size cap, nested repositories and submodules whose content
        changed are left out and listed in the result and in the commit message."""
        env = self._environment()
        try:
            tree, plan = self._index_work_tree(env)
        except CheckpointError:
            if not self._index.exists():
                raise
            # A private index git cannot read (a crash while writing it): start it again.
            self._index.unlink()
            tree, plan = self._index_work_tree(env)
        head, _ = self._head()
        body = message.rstrip("\n") + "\n"
        if plan.skipped:
            trailers = b"".join(SKIPPED_TRAILER + json.dumps(path).encode() + b"\n" for path in plan.skipped)
            body_bytes = body.encode(errors="surrogateescape") + b"\n" + trailers
        else:
            body_bytes = body.encode(errors="surrogateescape")
        parents = ["-p", head] if head else []
        commit = _git(["commit-tree", tree, *parents, "-F", "-"], self.root, env, input=body_bytes).decode().strip()
        ref = None
        if name is not None:
            ref = f"refs/codeassist/{self._session}/{name}"
            _git(["update-ref", ref, commit], self.root, env)
        return Snapshot(commit, ref, tuple(plan.skipped), tuple(plan.skipped.values()))

    def _index_work_tree(self, env: Mapping[str, str]) -> tuple[str, Plan]:
        """Bring the private index to the work tree's exact content; its tree id and the plan."""
        fresh = not self._index.exists()
        if fresh:
            self._start_index(env)
        if fresh or self._converting is None:
            self._converting = has_attributes(self.root, Path(self._repo.git_dir), self._repo, env)
        listing = _git(["ls-files", "-z", "-t", "-m", "-d", "-o", "--exclude-standard"], self.root, env)
        plan = plan_snapshot(self.root, listing, self._max_file_bytes)
        if any(Path(path).name == ".gitattributes" for path in plan.files):
            self._converting = True
        if fresh and self._converting:
            plan.add_converted(converted_paths(self.root, env, Path(self._repo.git_dir), self._max_file_bytes))
        self._apply(plan, env)
        return self._write_tree(env), plan

    def _start_index(self, env: Mapping[str, str]) -> None:
        """The private index starts as a copy of the user's (its stat cache is reused), or empty;
        the user's "assume unchanged" marks are dropped from the copy, so that a file marked so
        that a turn changes is still seen."""
        try:
            shutil.copyfile(self._user_index, self._index)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise CheckpointError(f"cannot copy the index to {self._index}: {exc.strerror}") from exc
        listing = _git(["ls-files", "-v", "-z"], self.root, env)
        marked = [item[2:] for item in listing.split(b"\0") if len(item) > 2 and item[:1].islower()]
        if marked:
            stdin = b"".join(path + b"\0" for path in marked)
            _git(["update-index", "--no-assume-unchanged", "-z", "--stdin"], self.root, env, input=stdin)

    def _apply(self, plan: Plan, env: Mapping[str, str]) -> None:
        """Store the planned paths' blobs and set their entries in the private index."""
        if not plan.files and not plan.links and not plan.deleted:
            return
        if not self._converting:
            # Without attributes (and with core.autocrlf off) git stores a file's bytes as they
            # are: one command hashes, stores and records the stat information. Deleted paths are
            # removed first by name (one beyond a symlink now would fail as a path to look at).
            if plan.deleted:
                _git(
                    ["update-index", "--force-remove", "-z", "--stdin"],
                    self.root,
                    env,
                    input=paths_input(plan.deleted),
                )
            if plan.links or plan.files:
                _git(
                    ["update-index", "--add", "--remove", "--replace", "-z", "--stdin"],
                    self.root,
                    env,
                    input=paths_input([*plan.links, *plan.files]),
                )
            return
        lines = [b"0 %s\t%s\0" % (b"0" * self._hex_length(), os.fsencode(path)) for path in plan.deleted]
        if plan.files:
            lines_in = b"".join(quoted(path) + b"\n" for path in plan.files)
            ids = _git(["hash-object", "-w", "--no-filters", "--stdin-paths"], self.root, env, input=lines_in).split()
            for (path, mode), oid in zip(plan.files.items(), ids, strict=True):
                lines.append(b"%o %s\t%s\0" % (mode, oid, os.fsencode(path)))
        for path, target in plan.links.items():
            oid = _git(["hash-object", "-w", "--stdin"], self.root, env, input=target).strip()
            lines.append(b"120000 %s\t%s\0" % (oid, os.fsencode(path)))
        _git(["update-index", "-z", "--index-info"], self.root, env, input=b"".join(lines))
        self._unstatted += len(plan.files) + len(plan.links)
        if self._unstatted > _REFRESH_AFTER:
            with suppress(CheckpointError):
                _git(["update-index", "-q", "--refresh"], self.root, env)
            self._unstatted = 0

    def _write_tree(self, env: Mapping[str, str]) -> str:
        try:
            return _git(["write-tree"], self.root, env).decode().strip()
        except CheckpointError:
            unmerged = _git(["ls-files", "-z", "-u"], self.root, env)
            if not unmerged:
                raise
        # A conflicted path copied from the user's index: record what the work tree holds.
        paths = list(dict.fromkeys(item.split("\t", 1)[1] for item in nul_split(unmerged)))
        plan = plan_snapshot(
            self.root, b"".join(b"C " + os.fsencode(path) + b"\0" for path in paths), self._max_file_bytes
        )
        self._apply(plan, env)
        return _git(["write-tree"], self.root, env).decode().strip()

    def _hex_length(self) -> int:
        if self._hex is None:
            try:
                form = self._repo.config_reader("repository").get_value("extensions", "objectformat", "sha1")
            except _READ_ERRORS:
                form = "sha1"
            self._hex = 64 if str(form).lower() == "sha256" else 40
        return self._hex

    # -- reading ---------------------------------------------------------------------------

    def exists(self, commit: str) -> bool:
        """Whether `commit` (a full hex id) is a commit in the repository."""
        try:
            return bool(self._repo.odb.info(bytes.fromhex(commit)).type == b"commit")
        except _READ_ERRORS:
            return False

    def _diff_tree(self, options: list[str], before: str, after: str, paths: Sequence[str] | None) -> bytes:
        if paths is not None and not paths:
            return b""
        # More than arguments hold (a turn that made thousands of files): the whole diff, filtered.
        named = paths is not None and sum(len(path) + 1 for path in paths) <= _PATHSPEC_BYTES
        spec = ["--", *paths] if paths is not None and named else []
        # diff-tree compares two commits, yet git still reads the index at start-up: on a big
        # repository that is most of the time, so it is pointed at an index that does not exist.
        no_index = {**self._environment(), "GIT_INDEX_FILE": f"{self._index}.none"}
        return _git(
            ["diff-tree", "-r", "--no-ext-diff", "--no-textconv", *options, before, after, *spec], self.root, no_index
        )

    def changed_paths(self, before: str, after: str) -> list[str]:
        """Every path that differs between two commits (both sides of a rename)."""
        return nul_split(self._diff_tree(["-z", "--no-renames", "--name-only"], before, after, None))

    def changes(self, before: str, after: str, paths: Sequence[str] | None = None) -> list[FileChange]:
        """The files changed from `before` to `after` (renames detected), limited to `paths`."""
        raw = self._diff_tree(["-z", "-M", "--raw", "--numstat"], before, after, paths)
        wanted = set(paths) if paths is not None else None
        found = [FileChange(*fields) for fields in parse_changes(raw)]
        return [c for c in found if wanted is None or c.path in wanted or c.old_path in wanted]

    def patch(self, before: str, after: str, paths: Sequence[str] | None = None) -> str:
        """The unified diff from `before` to `after` (renames detected; a binary file shows as
        "Binary files … differ"), limited to `paths`."""
        return self._diff_tree(["-p", "-M", "--no-color"], before, after, paths).decode(errors="replace")

    def differing(self, commit: str, paths: Sequence[str]) -> list[str]:
        """The `paths` whose content, mode or existence in the work tree differs from `commit`
        (submodules and paths the checkpoint left out are never reported)."""
        skipped = self._skipped(commit)
        found = []
        for path in dict.fromkeys(paths):
            if under(path, skipped) or not inside(path):
                continue
            recorded = self._entry(commit, path)
            if recorded is not None and recorded.mode == GITLINK:
                continue
            current = worktree_entry(self.root, path, self._hex_length())
            if current is not None and current.mode == GITLINK:
                current = None
            if current != recorded:
                found.append(path)
        return found

    def _entry(self, commit: str, path: str) -> Entry | None:
        try:
            return self._trees.entry(commit, path)
        except _READ_ERRORS as exc:
            raise CheckpointError(f"cannot read checkpoint {commit[:12]}: {exc}") from exc

    def _skipped(self, commit: str) -> set[str]:
        try:
            return self._trees.skipped(commit)
        except _READ_ERRORS as exc:
            raise CheckpointError(f"cannot read checkpoint {commit[:12]}: {exc}") from exc

    def dirty_files(self) -> list[str]:
        """What `git status` lists: staged, modified, deleted and untracked files that are not
        ignored (at most `DIRTY_FILES_LIMIT`)."""
        output = _git(
            ["status", "--porcelain=v1", "-z", "--untracked-files=all", "--no-renames"],
            self.root,
            self._environment(private=False),
        )
        return list(dict.fromkeys(item[3:] for item in nul_split(output) if len(item) > 3))[:DIRTY_FILES_LIMIT]

    # -- writing the work tree ---------------------------------------------------------------

    def restore(self, source: str, paths: Sequence[str]) -> RestoreResult:
        """Make `paths` in the work tree what they are in `source`: files written from their
        blobs (with their mode, symlinks as symlinks), paths absent from `source` deleted with the
        directories left empty. Submodules and paths `source` left out are not touched; a path
        that cannot be written is skipped and told in `problems`."""
        left_out = self._skipped(source)
        written: list[str] = []
        deleted: list[str] = []
        skipped: list[str] = []
        problems: list[str] = []
        writes: list[tuple[str, Entry]] = []
        removals: list[str] = []
        for path in dict.fromkeys(paths):
            entry = None if under(path, left_out) or not inside(path) else self._entry(source, path)
            if not inside(path):
                skipped.append(path)
                problems.append(f"{path}: not a file of the work tree, left alone")
            elif under(path, left_out):
                skipped.append(path)
                problems.append(f"{path}: not in the checkpoint (left out when it was taken), left as it is")
            elif entry is not None and entry.mode == GITLINK:
                skipped.append(path)
            elif entry is None:
                removals.append(path)
            else:
                writes.append((path, entry))
        for path in sorted(removals, key=lambda name: name.count("/"), reverse=True):
            current = worktree_entry(self.root, path, self._hex_length())
            if current is None or current.mode == GITLINK:
                continue
            try:
                remove_path(self.root, path)
                deleted.append(path)
            except OSError as exc:
                skipped.append(path)
                problems.append(f"{path}: could not delete ({exc.strerror or exc})")
        for path, entry in sorted(writes):
            if worktree_entry(self.root, path, self._hex_length()) == entry:
                continue
            try:
                write_entry(self.root, path, entry, self._trees.blob(entry.oid))
                written.append(path)
            except (OSError, ValueError) as exc:
                skipped.append(path)
                problems.append(f"{path}: could not write ({getattr(exc, 'strerror', None) or exc})")
            except _READ_ERRORS as exc:
                skipped.append(path)
                problems.append(f"{path}: could not read it from the checkpoint ({exc})")
        return RestoreResult(tuple(written), tuple(deleted), tuple(skipped), tuple(problems))

    # -- committing --------------------------------------------------------------------------

    def commit(self, paths: Sequence[str], message: str) -> CommitResult:
        """Commit `paths` as they are in the work tree (with git's usual filters) on top of HEAD,
        nothing else, and move the current branch (or a detached HEAD) to it, as `git commit`
        would; then set only those paths' entries of the user's index to what was committed, so
        that anything else they staged stays staged. The message ends with `TRAILER`.

        Raises:
            CheckpointError: nothing to commit, HEAD moved meanwhile, or git failed (no identity…).
        """
        paths = list(dict.fromkeys(paths))
        if not paths:
            raise CheckpointError("nothing to commit: no files given")
        git_dir = Path(self._repo.git_dir)
        for marker, what in IN_PROGRESS.items():
            if (git_dir / marker).exists():
                raise CheckpointError(f"{what} is in progress: finish it with git first")
        head, branch = self._head()
        temporary = self._index.with_name(f"{self._session}.commit.index")
        env = {**self._environment(private=False), "GIT_INDEX_FILE": str(temporary)}
        with suppress(OSError):
            temporary.unlink()
        try:
            if head:
                _git(["read-tree", head], self.root, env)
            _git(
                ["update-index", "--add", "--remove", "--replace", "-z", "--stdin"],
                self.root,
                env,
                input=paths_input(paths),
            )
            tree = _git(["write-tree"], self.root, env).decode().strip()
            if head and tree == self._trees.tree_of(head):
                raise CheckpointError("nothing to commit: the files are as HEAD has them")
            entries = _git(["ls-files", "-s", "-z"], self.root, env)
        finally:
            with suppress(OSError):
                temporary.unlink()
        text = message.strip()
        if TRAILER not in text.splitlines():
            text += "\n\n" + TRAILER
        parents = ["-p", head] if head else []
        try:
            made = _git(["commit-tree", tree, *parents, "-F", "-"], self.root, env, input=(text + "\n").encode())
        except CheckpointError as exc:
            if any(word in str(exc) for word in ("email", "identity", "name")):
                raise CheckpointError(
                    "git does not know who you are: set `git config --global user.name` and `user.email`"
                ) from exc
            raise
        commit = made.decode().strip()
        subject = text.splitlines()[0] if text else ""
        old = head or "0" * self._hex_length()
        deref = ["--no-deref"] if branch is None else []
        user = self._environment(private=False)
        # The index first: when git cannot write it (another git command holds its lock), the
        # branch has not moved yet and nothing changed.
        previous = _git(["ls-files", "-s", "-z"], self.root, user)  # not the paths as arguments: they may be many
        _git(
            ["update-index", "-z", "--index-info"],
            self.root,
            user,
            input=index_info(entries, paths, self._hex_length()),
        )
        try:
            _git(["update-ref", *deref, "-m", f"commit: {subject}", "HEAD", commit, old], self.root, env)
        except CheckpointError:
            with suppress(CheckpointError):
                _git(
                    ["update-index", "-z", "--index-info"],
                    self.root,
                    user,
                    input=index_info(previous, paths, self._hex_length()),
                )
            raise
        return CommitResult(commit, branch.removeprefix("refs/heads/") if branch else None, tuple(paths))
