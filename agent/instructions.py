"""The instructions sent with every request: codeassist's base prompt plus the AGENTS.md files.

AGENTS.md is read from the user's configuration directory, the repository root and every
directory from there down to the current one; nearer files come later and take precedence.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from agent.paths import config_dir as user_config_dir

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

# Approvals, the sandbox and denials

Depending on the approval policy, edits and commands may wait for the user's approval; in
read-only mode changes are refused outright. Shell commands may run in a sandbox: `read-only`
(nothing writable), or `workspace-write` (the workspace and temporary directories, but not
`.git/`), with no network in either. When the sandbox blocks a write or the network, codeassist
itself may offer the user to re-run the command outside it; do not work around the sandbox.

A call the user denies means no. Do not send the same call again, nor a disguised version of it:
take another way that respects the refusal, or stop and ask what they want. A denial's reason,
when given, is the user speaking to you. A refusal by a deny rule is final for this session.

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
