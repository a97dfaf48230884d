"""`codeassist replay [ID|FILE]`: play a saved session through the app; nothing runs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agent.config import ConfigError, draft_settings
from agent.terminal_text import safe_terminal_text


def add_replay_arguments(parser: argparse.ArgumentParser) -> None:
    """The session to play and its speed."""
    parser.add_argument("session", nargs="?", help="session id (or prefix) or a .jsonl file; default: the latest")
    speed = parser.add_mutually_exclusive_group()
    speed.add_argument("--speed", type=float, default=1.0, help="playback speed factor (default 1)")
    speed.add_argument("--instant", action="store_true", help="no delays")


def run_replay(args: argparse.Namespace) -> int:
    """Replay a saved session in the app."""
    path: Path | None
    try:
        if args.session and Path(args.session).is_file():
            path = Path(args.session)
        else:
            from agent.session import Session  # finds saved sessions; a file given needs none

            path = Session.find_saved(args.session) if args.session else Session.latest_saved(None)
    except (ValueError, OSError) as exc:
        print(f"codeassist replay: {safe_terminal_text(str(exc))}", file=sys.stderr)
        return 2
    if path is None:
        print("codeassist replay: no saved session.", file=sys.stderr)
        return 2
    try:
        settings = draft_settings({})  # built into `Settings` after the first frame
    except ConfigError as exc:
        print(f"codeassist replay: {safe_terminal_text(str(exc))}", file=sys.stderr)
        return 2
    from tui.app import CodeassistApp

    CodeassistApp(settings, Path.cwd(), replay=path, replay_speed=None if args.instant else args.speed).run()
    return 0
