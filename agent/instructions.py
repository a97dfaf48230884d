"""The instructions sent with every request: codeassist's base prompt plus the repo's AGENTS.md."""

from __future__ import annotations

from pathlib import Path

MAX_AGENTS_MD_BYTES = 64 * 1024

BASE_INSTRUCTIONS = """\
You are codeassist, a coding assistant working in the user's repository through tools.

- Look before you change: list and read the relevant files first.
- Make the smallest change that solves the task, in the style of the surrounding code.
- File edits and shell commands may need the user's approval; if one is denied, do not retry it
  unchanged — adapt, or ask the user.
- After changing code, run the relevant tests when you can.
- Finish with a short summary of what you did and anything left open.
"""


def agents_md_files(workspace: Path, cwd: Path) -> list[Path]:
    """AGENTS.md at the repository root, then in the current directory (if different)."""
    found: list[Path] = []
    root = workspace.resolve()
    for directory in (workspace, cwd):
        candidate = directory / "AGENTS.md"
        resolved = candidate.resolve()
        # A symlink pointing out of the workspace (say, at ~/.aws/credentials) is never read.
        if candidate.is_file() and resolved.is_relative_to(root) and resolved not in [p.resolve() for p in found]:
            found.append(candidate)
    return found


def build_instructions(workspace: Path, cwd: Path | None = None) -> str:
    """The base prompt followed by each AGENTS.md (truncated past 64 KiB), labelled by path."""
    parts = [BASE_INSTRUCTIONS]
    for path in agents_md_files(workspace, cwd or workspace):
        try:
            data = path.read_bytes()
        except OSError:
            continue
        text = data[:MAX_AGENTS_MD_BYTES].decode(errors="replace")
        if len(data) > MAX_AGENTS_MD_BYTES:
            text += "\n[… truncated]"
        try:
            label = path.relative_to(workspace).as_posix()
        except ValueError:
            label = str(path)
        parts.append(f"# Project instructions from {label}\n\n{text.strip()}\n")
    return "\n".join(parts)
