"""`codeassist export [ID|FILE] [--format markdown|json] [--output FILE]`: a transcript of one session.

By default the latest session of this workspace, written to the exports folder of the data
directory (never into the repository); prints where the transcript was written.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from agent.export import export_json, export_markdown, export_session
from agent.paths import sessions_dir
from agent.resume import SessionLookupError, find_session, latest_session
from agent.session_log import SessionLogError, load_session
from agent.terminal_text import safe_terminal_text, terminal_safe_json

__all__ = ["add_export_arguments", "run_export"]


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the arguments of `codeassist export` to its sub-parser."""
    parser.add_argument(
        "session",
        nargs="?",
        metavar="ID|FILE",
        help="session id (or a unique prefix of one) or session file; default: the latest session of this workspace",
    )
    parser.add_argument(
        "--format", choices=["markdown", "json"], default="markdown", help="transcript format (default markdown)"
    )
    parser.add_argument(
        "--output",
        "-o",
        metavar="FILE",
        help="file to write, '-' for stdout (default: <session id>.md or .json in $XDG_DATA_HOME/codeassist/exports)",
    )


def run_export(args: argparse.Namespace) -> int:
    """Run `codeassist export`: write the transcript and print its path; returns the exit code."""
    root = sessions_dir()
    try:
        path = find_session(root, args.session) if args.session else latest_session(root, Path.cwd())
    except SessionLookupError as exc:
        print(f"codeassist export: {safe_terminal_text(str(exc))}", file=sys.stderr)
        return 1
    if path is None:
        print(f"codeassist export: no saved session in {root}", file=sys.stderr)
        return 1
    try:
        if args.output == "-":
            loaded = load_session(path)
            if args.format == "json":
                sys.stdout.write(
                    terminal_safe_json(json.dumps(export_json(loaded), indent=2, ensure_ascii=False)) + "\n"
                )
            else:
                sys.stdout.write(export_markdown(loaded))
            return 0
        written = export_session(path, args.format, Path(args.output) if args.output else None)
    except (SessionLogError, OSError) as exc:
        print(f"codeassist export: {safe_terminal_text(str(exc))}", file=sys.stderr)
        return 1
    print(written)
    return 0
