"""The instructions sent with every request: codeassist's base prompt plus the AGENTS.md files.

AGENTS.md is read from the user's configuration directory, the repository root and every
directory from there down to the current one; nearer files come later and take precedence.
"""

from __future__ import annotations

import datetime
import html
import platform
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from agent.paths import config_dir as user_config_dir
from agent.sandbox import SessionSandbox

if TYPE_CHECKING:
    from agent.git import RepoInfo

MAX_AGENTS_MD_BYTES = 32 * 1024
"""Bytes kept of one AGENTS.md; the rest is cut and the cut is said."""

MAX_AGENTS_MD_TOTAL_BYTES = 64 * 1024
"""Bytes kept of all AGENTS.md files together; the farthest files give way first."""

PRECEDENCE_NOTE = (
    "Project instructions follow, from AGENTS.md files, farthest first: your configuration "
    "directory, the repository root, then each directory down to the current one. When they "
    "disagree, the nearer file (later in this text) wins; the user's own words in the conversation "
    "win over all of them."
)

BASE_INSTRUCTIONS = """\
You are codeassist, a coding agent running in the user's terminal, inside their repository. You
read code, change files and run commands through tools, on the user's machine and on their behalf.
Work on the task until it is done or you need the user; do not stop at a plan when you can act.

# Using the tools

- read_file, list_files and grep look around. Read the code that matters before you change it:
  edit_file, write_file and apply_patch refuse to change an existing file you have not read with
  read_file in this session, or that changed since you read it; read it (again), then retry.
- apply_patch for edits with several hunks or across several files: the patch applies all or
  nothing. edit_file for one exact replacement; include enough context for `old` to be unique.
  write_file for a new file, or to replace a small file wholesale.
- shell runs `bash -c` with no stdin and no terminal, so anything that waits for input hangs
  until its timeout. Keep commands non-interactive: pass `--yes`/`-y` or `--no-input` where a
  program asks, `git --no-pager` (or `GIT_PAGER=cat`), `--no-edit` for merges and commits,
  `PAGER=cat` for anything with a pager; never start an editor or a REPL. Prefer `rg` for search,
  bound long output (`| head -n 200`), and set timeout_s for slow builds and test suites.
- update_plan for work of more than a couple of steps: a short list, sent whole each time, with
  exactly one step in_progress while you work and each step marked done (or completed) as soon as
  it is. Skip it for a one-step task.
- view_image shows you an image file from the workspace (a screenshot, a diagram). Images the
  user attaches come with their message.

# Approvals, the sandbox and denials

Depending on the approval policy, edits and commands may wait for the user's approval; in
read-only mode changes are refused outright. Shell commands may run in a sandbox: `read-only`
(nothing writable), or `workspace-write` (the workspace and temporary directories, but not
`.git/`), with no network in either. When the sandbox blocks a write or the network, codeassist
itself may offer the user to re-run the command outside it; do not work around the sandbox.

A call the user denies means no. Do not send the same call again, nor a disguised version of it:
take another way that respects the refusal, or stop and ask what they want. A denial's reason,
when given, is the user speaking to you. "Not run: denied without asking the user" means the
approval policy or a rule refused the call, and says which; a refusal by a deny rule is final for
this session.

# Changes and checkpoints

In a git repository each turn is checkpointed: the user can /undo a whole turn, and /redo it. So keep a turn's
changes focused on what was asked, in the style of the surrounding code; do not reformat, rename
or "tidy" what the task does not need. Never run `git commit`, `git push`, `git reset --hard`,
`git checkout -- <path>` or `git clean` unless the user asks; /commit is theirs. Do not revert
changes you did not make. Keep secrets out of files and output.

# Checking your work

After changing code, run the narrowest tests, type checks or linters that cover it, and fix what
you broke. If you cannot run them (no tests, denied, sandboxed away), say so rather than imply it
worked.

# Answering in a terminal

The user reads your answer in a terminal, in monospace, after watching your tool calls go by.
- Be concise: lead with the outcome, then what changed and why, in a few short lines or bullets.
- Refer to code as `path:line` (for example `agent/loop.py:120`), relative to the workspace.
- Do not paste files or long diffs back: the user has them, and /diff shows the turn's changes.
  Quote a few lines only when they make the point.
- Say what you verified (which command, what passed) and what is left open or uncertain.
- For a question, answer it; do not change files unless asked to.
"""


@dataclass(frozen=True)
class AgentsFile:
    """One AGENTS.md to include: where it is and how it is labelled."""

    path: Path
    label: str


def agents_md_files(workspace: Path, cwd: Path, config_dir: Path | None = None) -> list[AgentsFile]:
    """The AGENTS.md files that apply, farthest first: the user's configuration directory, the
    repository root, then each directory down to `cwd`.

    A file in the repository whose real path leaves it (a symlink pointing at, say,
    `~/.aws/credentials`) is never read; the same file is listed once.
    """
    root = workspace.resolve()
    found: list[AgentsFile] = []
    seen: set[Path] = set()

    def add(candidate: Path, label: str, *, contained: bool) -> None:
        try:
            resolved = candidate.resolve()
            if not candidate.is_file():
                return
        except OSError:
            return
        if (contained and not resolved.is_relative_to(root)) or resolved in seen:
            return
        seen.add(resolved)
        found.append(AgentsFile(candidate, label))

    user_file = (config_dir or user_config_dir()) / "AGENTS.md"
    add(user_file, f"{user_file} (your configuration directory)", contained=False)
    here = cwd.resolve()
    directories = [root]
    if here != root and here.is_relative_to(root):
        for part in here.relative_to(root).parts:
            directories.append(directories[-1] / part)
    elif here != root:
        directories.append(here)
    for directory in directories:
        candidate = directory / "AGENTS.md"
        try:
            label = candidate.relative_to(root).as_posix()
        except ValueError:
            label = str(candidate)
        add(candidate, label, contained=True)
    return found


def _read_prefix(path: Path, limit: int) -> tuple[bytes, int] | None:
    """Up to `limit` bytes of `path` and its whole size; None when it cannot be read."""
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
            size = handle.seek(0, 2)
    except OSError:
        return None
    return data[:limit], max(size, len(data))


def agents_md_sections(files: list[AgentsFile], *, per_file: int, total: int) -> list[str]:
    """One labelled section per file, in the given order. Each file keeps at most `per_file`
    bytes and all together at most `total`: the budget goes to the nearest files first, so the
    farthest are cut (or left out) first; every cut is said in the text."""
    sections: list[str] = []
    budget = total
    for item in reversed(files):
        read = _read_prefix(item.path, min(per_file, max(budget, 0)))
        if read is None:
            continue
        data, size = read
        if not data and size:
            sections.append(
                f"# Project instructions from {item.label}\n\n[left out: {size} bytes, over the total limit]\n"
            )
            continue
        budget -= len(data)
        text = data.decode(errors="replace").strip()
        if len(data) < size:
            text += f"\n\n[… cut: {size - len(data)} of {size} bytes left out]"
        sections.append(f"# Project instructions from {item.label}\n\n{text}\n")
    return list(reversed(sections))


def build_instructions(workspace: Path, cwd: Path | None = None, *, config_dir: Path | None = None) -> str:
    """The base prompt followed by the AGENTS.md files that apply, labelled by path.

    Args:
        workspace: the repository root (or the directory codeassist works in outside git).
        cwd: where the user started codeassist (default: `workspace`).
        config_dir: the user's configuration directory (default: `agent.paths.config_dir()`).
    """
    files = agents_md_files(workspace, cwd or workspace, config_dir)
    sections = agents_md_sections(files, per_file=MAX_AGENTS_MD_BYTES, total=MAX_AGENTS_MD_TOTAL_BYTES)
    if not sections:
        return BASE_INSTRUCTIONS
    return "\n".join([BASE_INSTRUCTIONS, PRECEDENCE_NOTE + "\n", *sections])


@dataclass(frozen=True)
class Environment:
    """What the model is told about where it runs (`environment_context`)."""

    cwd: Path
    workspace: Path
    os: str
    shell: str
    date: str
    approval: str
    sandbox: str
    git_branch: str | None = None
    """None outside git or on a detached HEAD (`git_status` then says which)."""
    git_status: str | None = None
    """A summary of the working tree at session start; None outside git."""


APPROVAL_MEANINGS = {
    "read-only": "file changes and commands are refused",
    "ask": "file changes and shell commands wait for the user's approval",
    "auto-edit": "file changes in the workspace run; shell commands wait for approval",
    "full-auto": "nothing asks; the sandbox still applies",
}

MAX_DIRTY_LISTED = 20
"""Changed files named in the environment; the rest are counted."""


def dirty_summary(workspace: Path, timeout_s: float = 5.0) -> str:
    """The working tree's changes in one line (`2 changed: M a.py, ?? new.py`), at most
    `MAX_DIRTY_LISTED` named; `clean`, or `unknown` when git cannot tell in time."""
    from agent.git import run_git  # git only where it is used

    try:
        done = run_git(["status", "--porcelain=v1", "-z", "--untracked-files=normal"], workspace, timeout=timeout_s)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if done.returncode != 0:
        return "unknown"
    entries: list[str] = []
    fields = iter(done.stdout.decode(errors="replace").split("\0"))
    for field in fields:
        if len(field) < 4:
            continue
        code, name = field[:2].strip() or "?", field[3:]
        if code[0] in "RC":
            next(fields, None)  # the rename's source
        entries.append(f"{code} {name}")
    if not entries:
        return "clean"
    shown = ", ".join(entries[:MAX_DIRTY_LISTED])
    more = f", and {len(entries) - MAX_DIRTY_LISTED} more" if len(entries) > MAX_DIRTY_LISTED else ""
    return f"{len(entries)} changed: {shown}{more}"


def gather_environment(
    *, cwd: Path, workspace: Path, approval: str, sandbox: str, repo: RepoInfo | None
) -> Environment:
    """The environment now: this machine, today, the given policy and sandbox, the git state
    (`repo`, from `agent.git.repo_info`; its working tree is listed only when it is dirty)."""
    status = None if repo is None else dirty_summary(workspace) if repo.dirty else "clean"
    return Environment(
        cwd=cwd,
        workspace=workspace,
        os=f"{platform.system()} {platform.release()}".strip(),
        shell="bash (the shell tool runs `bash -c`)",
        date=datetime.date.today().isoformat(),
        approval=approval,
        sandbox=sandbox,
        git_branch=repo.branch if repo is not None else None,
        git_status=status,
    )


def environment_context(env: Environment) -> str:
    """The `<environment_context>` block appended to the instructions (values escaped)."""

    def tag(name: str, value: str) -> str:
        return f"  <{name}>{html.escape(value, quote=False)}</{name}>"

    approval = env.approval + (f" ({APPROVAL_MEANINGS[env.approval]})" if env.approval in APPROVAL_MEANINGS else "")
    lines = [
        tag("cwd", str(env.cwd)),
        tag("workspace_root", str(env.workspace)),
        tag("os", env.os),
        tag("shell", env.shell),
        tag("date", env.date),
        tag("approval_policy", approval),
        tag("sandbox", env.sandbox),
    ]
    if env.git_status is None:
        lines.append(tag("git", "not a git repository: no checkpoints, /undo cannot restore files"))
    else:
        lines.append(tag("git_branch", env.git_branch or "(detached HEAD)"))
        lines.append(tag("git_status_at_start", env.git_status))
    return (
        "# Environment\n\nWhere you run; codeassist updates it when the approval policy or the sandbox "
        "changes.\n\n<environment_context>\n" + "\n".join(lines) + "\n</environment_context>\n"
    )


def sandbox_context(sandbox: SessionSandbox) -> str:
    """The sandbox as the model is told it: mode, network, and what a missing sandbox means."""
    if sandbox.missing:
        return f"{sandbox.describe()}; shell commands ask before they run"
    return sandbox.describe()


def instructions_with_environment(instructions: str, env: Environment) -> str:
    """`instructions` (from `build_instructions`) followed by the environment block."""
    return f"{instructions}\n{environment_context(env)}"
