"""`codeassist demo`: the app offline, on a temporary sample project, against the scripted model."""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from codeassist.options import command_name

if TYPE_CHECKING:
    from server.demo import DemoEnvironment
    from tui.app import CodeassistApp


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    """`--keep`."""
    parser.add_argument("--keep", action="store_true", help="keep the temporary project afterwards")


def demo_app(root: Path, **prepare: object) -> tuple[CodeassistApp, DemoEnvironment]:
    """The app opened on a fresh demo project under `root`, with the demo prompt queued.

    The session is saved with the user's other sessions, so `codeassist sessions`, `replay` and
    `export` find it after the temporary project is gone."""
    from server.demo import DEMO_BANNER, DEMO_PROMPT, prepare_demo
    from tui.app import CodeassistApp

    environment = prepare_demo(root, **prepare)  # type: ignore[arg-type]
    app = CodeassistApp(
        environment.settings,
        environment.workspace,
        banner=DEMO_BANNER,
        initial_prompt=DEMO_PROMPT,
    )
    return app, environment


def run_demo(args: argparse.Namespace) -> int:
    """The offline demo: the app on a temporary sample project against the scripted model."""
    root = Path(tempfile.mkdtemp(prefix="codeassist-demo-"))
    app, environment = demo_app(root)
    try:
        app.run()
    finally:
        environment.close()
        saved = demo_session(environment.workspace)
        if saved is not None:
            print(f"codeassist demo: the session is saved; replay it with: {command_name()} replay {saved.stem}")
        if args.keep:
            print(f"codeassist demo: the project is kept in {environment.workspace}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


def demo_session(workspace: Path) -> Path | None:
    """The newest saved session that ran in the demo's `workspace`, if any."""
    from agent.paths import sessions_dir
    from agent.resume import in_workspace, workspace_of
    from agent.session_log import list_sessions

    inside = workspace_of(workspace)
    return next((found.path for found in list_sessions(sessions_dir()) if in_workspace(found, inside)), None)
