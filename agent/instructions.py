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
You are codeassist, a coding assistant working in the user's repository through tools.

- Look before you change: list and read the relevant files first.
- Make the smallest change that solves the task, in the style of the surrounding code.
- File edits and shell commands may need the user's approval; if one is denied, do not retry it
  unchanged — adapt, or ask the user.
- After changing code, run the relevant tests when you can.
- Finish with a short summary of what you did and anything left open.
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
