"""Repository facts for the header and the session log (root, branch, head, dirty), read with
gitpython, and the environment every git command of codeassist runs with.

A repository's own configuration (`.git/config` and what it includes) is written by whoever
made the repository, not by the user: it can name programs that git runs while it merely looks
at the tree (`core.fsmonitor` on every status, clean/smudge filters and textconv drivers chosen
by `.gitattributes`, hooks, an external diff, an ssh command, credential helpers). codeassist
never runs them: `git_environment` overrides each of those settings for every git command it
starts (gitpython's included), through `GIT_CONFIG_COUNT`/`GIT_CONFIG_KEY_n`/`GIT_CONFIG_VALUE_n`,
which take precedence over every configuration file. See `NEUTRAL_CONFIG` and `_neutral_drivers`.
`git_listed_files` lists a workspace's files for `@` completion (bounded in names and time); the
`list_files` tool runs `git ls-files` in `agent.tools.list_files.git_files`.
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import git

NEUTRAL_CONFIG: dict[str, str] = {
    "core.fsmonitor": "false",
    "core.hooksPath": os.devnull,
    "core.pager": "cat",
    "core.sshCommand": "false",
    "core.askPass": "",
    "core.editor": "false",
    "sequence.editor": "false",
    "credential.helper": "",
    "diff.external": "false",
    "protocol.ext.allow": "never",
    "commit.gpgSign": "false",
    "tag.gpgSign": "false",
    "gpg.program": "false",
}
"""Settings that make git run a program, set for every git command to run nothing: no file
system monitor, hooks from an empty directory, no pager, ssh/editor/askpass/gpg replaced by
`false`, no credential helper, no `ext::` transport, no signing. An external diff is replaced by
`false` too, and `run_git` asks the commands that print patches for git's own diff instead
(`--no-ext-diff`)."""

_PATCH_COMMANDS = frozenset({"diff", "log", "show"})

GIT_LISTING_TIMEOUT_S = 5.0
"""How long listing the workspace's files may take (`git_listed_files`)."""

NEUTRAL_ENVIRONMENT: dict[str, str] = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_PAGER": "cat",
    "GIT_OPTIONAL_LOCKS": "0",
}
"""Also set for every git command: never prompt, never page, never rewrite the index as a side
effect of looking (the user's own git would find it locked)."""

_DRIVER_COMMANDS = re.compile(r"^(filter|diff|merge)\.(.+)\.(clean|smudge|process|textconv|command|driver)$", re.I)
_HARMLESS_DRIVER: dict[str, str] = {
    "clean": "cat",
    "smudge": "cat",
    "process": "",
    "textconv": "cat",
    "command": "",
    "driver": "false",
}
"""What a repository-defined driver's program is replaced with: filters and textconv pass the
bytes through unchanged (`cat`), a long-running filter process and an external diff command are
unset, a merge driver fails (git then leaves the conflict to the user)."""

GIT_ERRORS: tuple[type[BaseException], ...] = (
    git.GitError,
    git.InvalidGitRepositoryError,
    git.NoSuchPathError,
    OSError,
    ValueError,
)
"""What gitpython raises for a missing, broken or unusual repository."""


@dataclass(frozen=True)
class RepoInfo:
    """What the header and the session log show about the repository."""

    root: Path
    branch: str | None
    """None on a detached HEAD."""
    head: str | None
    """The commit id, None before the first commit."""
    dirty: bool


def _neutral_drivers(cwd: Path, environ: Mapping[str, str], *, every_scope: bool = False) -> dict[str, str]:
    """Overrides for the filter, diff and merge drivers the repository's own configuration
    defines (the user's global ones, such as git-lfs, are left alone unless `every_scope`).
    A filter whose program is replaced is no longer `required`. Reading configuration runs
    nothing."""
    try:
        listed = subprocess.run(
            ["git", "config", "--show-scope", "--includes", "--null", "--name-only", "--list"],
            cwd=cwd,
            env=dict(environ),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=5,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    fields = listed.decode(errors="replace").split("\0")
    overrides = {}
    for scope, name in zip(fields[::2], fields[1::2], strict=False):
        match = _DRIVER_COMMANDS.match(name)
        if match and (every_scope or scope in ("local", "worktree")):
            overrides[name] = _HARMLESS_DRIVER[match.group(3).lower()]
            if match.group(1).lower() == "filter":
                overrides[f"filter.{match.group(2)}.required"] = "false"
    return overrides


def git_environment(
    cwd: Path, environ: Mapping[str, str] | None = None, *, every_driver: bool = False
) -> dict[str, str]:
    """The environment for a git command in `cwd`: `environ` (default `os.environ`) plus
    `NEUTRAL_ENVIRONMENT`, with `NEUTRAL_CONFIG` and the repository's driver programs overridden
    through `GIT_CONFIG_COUNT` (appended after any such settings the caller already had).

    Args:
        cwd: where the command runs (its repository's configuration is read).
        environ: the environment to start from.
        every_driver: override the user's own drivers too (git-lfs included), for commands that
            must see a file's bytes exactly as they are.
    """
    env = dict(os.environ if environ is None else environ)
    env.update(NEUTRAL_ENVIRONMENT)
    try:
        count = int(env.get("GIT_CONFIG_COUNT", "0"))
    except ValueError:
        count = 0
    base = {**env, "GIT_CONFIG_COUNT": str(count)}
    reader = {**base, **_config_variables(NEUTRAL_CONFIG, count)}
    overrides = {**NEUTRAL_CONFIG, **_neutral_drivers(cwd, reader, every_scope=every_driver)}
    env.update(_config_variables(overrides, count))
    return env


def config_fingerprint(git_dir: Path, common_dir: Path, environ: Mapping[str, str] | None = None) -> bytes | None:
    """The content of every configuration file git reads in this repository (system, global,
    repository, worktree) and the variables that choose them: while it is the same, so is
    `git_environment`. None when a file includes another one (that one is not watched).

    Args:
        git_dir: the repository's git directory (`.git`, or `.git/worktrees/<name>`).
        common_dir: the directory shared by its worktrees (`.git`).
        environ: the environment git runs with (default `os.environ`).
    """
    env = os.environ if environ is None else environ
    home = Path(env.get("HOME") or "~").expanduser()
    files = [common_dir / "config", git_dir / "config.worktree"]
    if "GIT_CONFIG_GLOBAL" in env:
        files.append(Path(env["GIT_CONFIG_GLOBAL"]))
    else:
        files += [home / ".gitconfig", Path(env.get("XDG_CONFIG_HOME") or home / ".config") / "git" / "config"]
    if not env.get("GIT_CONFIG_NOSYSTEM"):
        files.append(Path(env.get("GIT_CONFIG_SYSTEM") or "/etc/gitconfig"))
    chosen = sorted((k, v) for k, v in env.items() if k.startswith("GIT_") or k in ("HOME", "XDG_CONFIG_HOME"))
    parts = [repr(chosen).encode(errors="surrogateescape")]
    for file in files:
        try:
            content = file.read_bytes()
        except OSError as exc:
            content = f"<{exc.errno}>".encode()
        if b"include" in content.lower():
            return None
        parts.append(os.fsencode(file) + b"\0" + content)
    return b"\0\0".join(parts)


def with_config(env: Mapping[str, str], settings: Mapping[str, str]) -> dict[str, str]:
    """`env` with `settings` appended to its `GIT_CONFIG_COUNT` settings (they take precedence
    over every configuration file and over the settings already there)."""
    count = int(env.get("GIT_CONFIG_COUNT", "0"))
    return {**env, **_config_variables(settings, count)}


def _config_variables(settings: Mapping[str, str], first: int) -> dict[str, str]:
    variables = {"GIT_CONFIG_COUNT": str(first + len(settings))}
    for index, (key, value) in enumerate(settings.items(), start=first):
        variables[f"GIT_CONFIG_KEY_{index}"] = key
        variables[f"GIT_CONFIG_VALUE_{index}"] = value
    return variables


def run_git(
    args: list[str],
    cwd: Path,
    *,
    timeout: float = 10,
    env: Mapping[str, str] | None = None,
    input: bytes | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run `git --no-pager <args>` in `cwd` with `git_environment`, output captured.

    Args:
        env: an environment made by `git_environment` (and extended) for this repository, to
            run several commands without reading the configuration for each.
        input: what the command reads on stdin (closed when None).

    Raises:
        OSError: git cannot be started.
        subprocess.SubprocessError: it timed out.
    """
    if args and args[0] in _PATCH_COMMANDS:
        args = [args[0], "--no-ext-diff", *args[1:]]
    return subprocess.run(
        ["git", "--no-pager", *args],
        cwd=cwd,
        env=dict(env) if env is not None else git_environment(cwd),
        stdin=subprocess.DEVNULL if input is None else None,
        input=input,
        capture_output=True,
        timeout=timeout,
    )


def repo_info(path: Path) -> RepoInfo | None:
    """The repository containing `path`, or None when it is not inside one (or git fails).

    Every command gitpython runs here gets `git_environment`: nothing the repository configures
    is executed."""
    try:
        repo = git.Repo(path, search_parent_directories=True)
    except GIT_ERRORS:
        return None
    try:
        repo.git.update_environment(**git_environment(Path(repo.working_tree_dir or path)))
        root = Path(repo.working_tree_dir or path)
        try:
            head = repo.head.commit.hexsha
        except GIT_ERRORS:
            head = None
        branch = None if repo.head.is_detached else repo.active_branch.name
        return RepoInfo(root=root, branch=branch, head=head, dirty=repo.is_dirty(untracked_files=True))
    except GIT_ERRORS:
        return None
    finally:
        repo.close()


def git_listed_files(workspace: Path, limit: int, timeout_s: float = GIT_LISTING_TIMEOUT_S) -> list[str] | None:
    """Tracked and untracked-but-not-ignored files, NUL-separated so that any name survives, read
    only up to `limit` names or `timeout_s` (a huge untracked tree costs neither memory nor time).

    git runs with `git_environment`: listing files never runs code from the workspace.
    None when `workspace` is not in a git repository (or git is missing or fails)."""
    command = ["git", "--no-pager", "ls-files", "-z", "--cached", "--others", "--exclude-standard"]
    try:
        process = subprocess.Popen(
            command,
            cwd=workspace,
            env=git_environment(workspace),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
    except OSError:
        return None
    names: dict[str, None] = {}  # ordered and without the repeated entries of a conflicted path
    pending = b""
    deadline = time.monotonic() + timeout_s
    assert process.stdout is not None
    with process, selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while len(names) < limit:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                break
            chunk = os.read(process.stdout.fileno(), 1 << 16)
            if not chunk:
                break
            *complete, pending = (pending + chunk).split(b"\0")
            names.update(dict.fromkeys(name.decode(errors="replace") for name in complete if name))
        process.kill()
    if process.returncode not in (0, -signal.SIGKILL):
        return None
    return list(names)[:limit]
