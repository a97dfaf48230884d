"""`codeassist sessions`: saved sessions from the command line, no UI.

`codeassist sessions [--all] [--json]` lists the sessions of the current workspace (or all),
newest first.
"""

from __future__ import annotations

import argparse
import json
import shutil
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.paths import sessions_dir
from agent.resume import in_workspace, read_header, workspace_of
from agent.session_log import SessionSummary, list_sessions
from agent.terminal_text import safe_terminal_text, terminal_safe_json

__all__ = ["add_sessions_arguments", "run_sessions", "session_rows"]

_PROMPT_MIN = 20


def add_sessions_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the options of `codeassist sessions` to its sub-parser."""
    parser.add_argument("--all", action="store_true", help="list the sessions of every workspace, not only this one")
    parser.add_argument("--json", action="store_true", help="print a JSON array instead of a table")


def run_sessions(args: argparse.Namespace) -> int:
    """Run `codeassist sessions`: print the table (or JSON) on stdout; returns the exit code."""
    root = sessions_dir()
    workspace = None if args.all else workspace_of(Path.cwd())
    rows = session_rows(list_sessions(root), workspace)
    if args.json:
        print(terminal_safe_json(json.dumps(rows, indent=2, ensure_ascii=False)))
        return 0
    if not rows:
        where = f" for {workspace}" if workspace is not None else f" in {root}"
        hint = " (`codeassist sessions --all` lists every workspace)" if workspace is not None else ""
        print(f"No saved sessions{where}.{hint}")
        return 0
    print(_table(rows, shutil.get_terminal_size((100, 24)).columns))
    return 0


def session_rows(summaries: list[SessionSummary], workspace: Path | None = None) -> list[dict[str, Any]]:
    """One JSON-ready row per session, in the given order; only `workspace`'s when it is given.

    Keys: `id`, `path`, `started` (ISO 8601), `cwd`, `workspace`, `repo` (the workspace's name),
    `branch`, `model`, `first_prompt`, `turns`, `total_tokens`.
    """
    rows = []
    for summary in summaries:
        header = read_header(summary.path)
        if workspace is not None and not in_workspace(summary, workspace, header):
            continue
        recorded = header.get("workspace")
        place = recorded if isinstance(recorded, str) and recorded else summary.cwd
        branch = header.get("git_branch")
        rows.append(
            {
                "id": summary.id,
                "path": str(summary.path),
                "started": summary.wall,
                "cwd": summary.cwd,
                "workspace": place,
                "repo": Path(place).name if place else None,
                "branch": branch if isinstance(branch, str) else None,
                "model": summary.model,
                "first_prompt": summary.first_prompt,
                "turns": summary.turns,
                "total_tokens": summary.total_tokens,
            }
        )
    return rows


def _table(rows: list[dict[str, Any]], width: int) -> str:
    columns = ["DATE", "ID", "REPO", "FIRST PROMPT", "TURNS", "TOKENS"]
    cells = [
        [
            _local_time(row["started"]),
            safe_terminal_text(row["id"]),
            safe_terminal_text(row["repo"] or "–"),
            _one_line(row["first_prompt"]),
            str(row["turns"]),
            f"{row['total_tokens']:,}",
        ]
        for row in rows
    ]
    widths = [max(len(columns[i]), *(len(cell[i]) for cell in cells)) for i in range(len(columns))]
    fixed = sum(widths) - widths[3] + 2 * (len(columns) - 1)
    widths[3] = max(_PROMPT_MIN, min(widths[3], width - fixed))
    lines = []
    for cell in [columns, *cells]:
        cell = [*cell[:3], _truncate(cell[3], widths[3]), *cell[4:]]
        left = [value.ljust(widths[i]) for i, value in enumerate(cell[:4])]
        right = [value.rjust(widths[i + 4]) for i, value in enumerate(cell[4:])]
        lines.append("  ".join(left + right).rstrip())
    return "\n".join(lines)


def _local_time(wall: str | None) -> str:
    if not wall:
        return "–"
    try:
        return datetime.fromisoformat(wall).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return wall[:16]


def _one_line(text: str | None) -> str:
    return " ".join(safe_terminal_text(text).split()) if text else "–"


def _truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
