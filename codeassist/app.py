"""`codeassist [PROMPT]` in a repository: the interactive app (or the welcome screen without a key)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from agent.config import ConfigError, config_path, draft_settings, require_credentials
from agent.terminal_text import safe_terminal_text
from codeassist.options import add_endpoint_arguments, command_name, settings_overrides


def add_app_arguments(parser: argparse.ArgumentParser) -> None:
    """The prompt, the endpoint flags and `--continue` / `--resume [ID]`."""
    parser.add_argument("prompt", nargs="?", help="send this prompt as soon as the app is ready")
    add_endpoint_arguments(parser)
    resume = parser.add_mutually_exclusive_group()
    resume.add_argument(
        "--continue", dest="continue_", action="store_true", help="continue the latest session of this repository"
    )
    resume.add_argument("--resume", nargs="?", const="", metavar="ID", help="continue a saved session")


def run_app(args: argparse.Namespace) -> int:
    """`codeassist` in a repository: the interactive app (or the welcome screen)."""
    try:
        settings = draft_settings(settings_overrides(args))  # built into `Settings` after the first frame
    except ConfigError as exc:
        print(f"codeassist: {safe_terminal_text(str(exc))}", file=sys.stderr)
        return 2
    try:
        require_credentials(settings)
    except ConfigError:
        from codeassist.demo import run_demo
        from tui.welcome import WelcomeApp

        if WelcomeApp(str(config_path())).run() == "demo":
            return run_demo(argparse.Namespace(keep=False))
        return 0
    resume = None
    cwd = Path.cwd()
    try:
        if args.continue_ or args.resume is not None:
            from agent.session import Session  # reads saved sessions; a fresh start does not

            resume = Session.find_saved(args.resume) if args.resume else Session.latest_saved(cwd)
    except (ValueError, OSError) as exc:
        print(f"codeassist: {safe_terminal_text(str(exc))}", file=sys.stderr)
        return 2
    if (args.continue_ or args.resume is not None) and resume is None:
        print("codeassist: no saved session to resume here.", file=sys.stderr)
        return 2
    from tui.app import CodeassistApp  # textual is loaded only by the commands that open the app

    app = CodeassistApp(settings, cwd, resume=resume, initial_prompt=args.prompt)
    app.run()
    if app.saved_session_id is not None:
        print(resume_hint(app.saved_session_id))
    return 0


def resume_hint(session_id: str) -> str:
    """The line printed when the app exits after a saved session: its id and how to resume it."""
    return f"session {session_id}  resume: {command_name()} --resume {session_id}"
