"""`codeassist` command line: one parser, one sub-command per job.

Startup: a command imports only what it runs. The modules behind the other commands (the agent
session, the server, the benchmark…) are imported inside the functions that use them, and the
parser adds the arguments of the command being run only (all of them for `--help`).
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent import __version__
from agent.config import ConfigError, config_path, load_settings, require_credentials
from agent.session_log import sessions_root

if TYPE_CHECKING:
    from server.demo import DemoEnvironment
    from tui.app import CodeassistApp

COMMAND_NAMES = ("serve", "exec", "demo", "replay", "sessions", "export", "bench")


def _deferred(target: str) -> Callable[..., Any]:
    """The function `module:name`, imported on its first call."""
    module, name = target.split(":")

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


add_serve_arguments = _deferred("codeassist.serve:add_serve_arguments")
run_serve = _deferred("codeassist.serve:run_serve")
add_exec_arguments = _deferred("codeassist.exec:add_exec_arguments")
run_exec = _deferred("codeassist.exec:run_exec")
add_sessions_arguments = _deferred("codeassist.sessions:add_sessions_arguments")
run_sessions = _deferred("codeassist.sessions:run_sessions")
add_export_arguments = _deferred("codeassist.export:add_export_arguments")
run_export = _deferred("codeassist.export:run_export")
add_bench_arguments = _deferred("codeassist.bench:add_bench_arguments")
run_bench = _deferred("codeassist.bench:run_bench")
find_session = _deferred("agent.session:find_session")
latest_session = _deferred("agent.session:latest_session")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command; with `command`, only that one gets its arguments (the others
    keep their name and help), so only its module is imported."""

    def wanted(name: str) -> bool:
        return command is None or command == name

    parser = argparse.ArgumentParser(
        prog="codeassist",
        description="A terminal coding assistant on one persistent Responses-API WebSocket.",
        epilog="Without a command, codeassist opens the app in the current repository: "
        "codeassist [PROMPT] [--model M] [--base-url URL] [--approval POLICY] [--transport T] "
        "[--continue | --resume [ID]].",
    )
    parser.add_argument("--version", action="version", version=f"codeassist {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="run a local Responses-API server (WebSocket + HTTP/SSE) with a scripted model",
        description="Serve the OpenAI Responses API on one port: WebSocket mode on GET /v1/responses, "
        "HTTP/SSE on POST /v1/responses. Responses come from a scenario file.",
    )
    if wanted("serve"):
        add_serve_arguments(serve)

    exec_parser = commands.add_parser(
        "exec",
        help="run one prompt headless in the current repository",
        description="Run one turn without the UI: assistant text on stdout, tool activity and a stats "
        "line on stderr (or --json events). Exit 0 when the turn completes.",
    )
    if wanted("exec"):
        add_exec_arguments(exec_parser)

    demo = commands.add_parser(
        "demo",
        help="run the app offline against the bundled scripted demo model",
        description="Copy a small sample project into a temporary git repository, start the embedded "
        "server with the bundled scenario, and open the app there: the scripted model reads the code, "
        "runs the tests, proposes a fix and runs the tests again — every tool really runs.",
    )
    demo.add_argument("--keep", action="store_true", help="keep the temporary project afterwards")

    replay = commands.add_parser(
        "replay",
        help="replay a saved session in the app (runs nothing)",
        description="Play a saved session through the app at its recorded timing. "
        "Space pauses, + and - change the speed. Nothing is executed and no "
        "connection is opened.",
    )
    replay.add_argument("session", nargs="?", help="session id (or prefix) or a .jsonl file; default: the latest")
    speed = replay.add_mutually_exclusive_group()
    speed.add_argument("--speed", type=float, default=1.0, help="playback speed factor (default 1)")
    speed.add_argument("--instant", action="store_true", help="no delays")

    sessions = commands.add_parser("sessions", help="list saved sessions")
    if wanted("sessions"):
        add_sessions_arguments(sessions)
    export = commands.add_parser("export", help="write a saved session as Markdown or JSON")
    if wanted("export"):
        add_export_arguments(export)
    bench = commands.add_parser("bench", help="compare HTTP and WebSocket on your endpoint")
    if wanted("bench"):
        add_bench_arguments(bench)
    return parser


def add_interactive_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("prompt", nargs="?", help="send this prompt as soon as the app is ready")
    parser.add_argument("--model", help="model name (default from config)")
    parser.add_argument("--base-url", help="Responses API base URL, e.g. http://127.0.0.1:8000/v1")
    parser.add_argument("--approval", choices=["read-only", "ask", "auto-edit", "full-auto"], help="approval policy")
    parser.add_argument("--transport", choices=["websocket", "http"], help="transport (default websocket)")
    resume = parser.add_mutually_exclusive_group()
    resume.add_argument(
        "--continue", dest="continue_", action="store_true", help="continue the latest session of this repository"
    )
    resume.add_argument("--resume", nargs="?", const="", metavar="ID", help="continue a saved session")


def run_app(args: argparse.Namespace) -> int:
    """`codeassist` in a repository: the interactive app (or the welcome screen)."""
    flags = {"model": args.model, "base_url": args.base_url, "approval": args.approval, "transport": args.transport}
    try:
        settings = load_settings(flags)
    except ConfigError as exc:
        print(f"codeassist: {exc}", file=sys.stderr)
        return 2
    try:
        require_credentials(settings)
    except ConfigError:
        from tui.welcome import WelcomeApp

        if WelcomeApp(str(config_path())).run() == "demo":
            return run_demo(argparse.Namespace(keep=False))
        return 0
    resume = None
    cwd = Path.cwd()
    try:
        if args.continue_:
            resume = latest_session(sessions_root(), cwd)
        elif args.resume is not None:
            resume = find_session(sessions_root(), args.resume) if args.resume else latest_session(sessions_root(), cwd)
    except (ValueError, OSError) as exc:
        print(f"codeassist: {exc}", file=sys.stderr)
        return 2
    if (args.continue_ or args.resume is not None) and resume is None:
        print("codeassist: no saved session to resume here.", file=sys.stderr)
        return 2
    from tui.app import CodeassistApp  # textual is loaded only by the commands that open the app

    CodeassistApp(settings, cwd, resume=resume, initial_prompt=args.prompt).run()
    return 0


def demo_app(root: Path, **prepare: object) -> tuple[CodeassistApp, DemoEnvironment]:
    """The app opened on a fresh demo project under `root`, with the demo prompt queued."""
    from server.demo import DEMO_BANNER, DEMO_PROMPT, prepare_demo
    from tui.app import CodeassistApp

    environment = prepare_demo(root, **prepare)  # type: ignore[arg-type]
    app = CodeassistApp(
        environment.settings,
        environment.workspace,
        banner=DEMO_BANNER,
        initial_prompt=DEMO_PROMPT,
        session_options={"log_root": root / "sessions"},
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
        if args.keep:
            print(f"codeassist demo: the project is kept in {environment.workspace}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


def run_replay(args: argparse.Namespace) -> int:
    """Replay a saved session in the app."""
    path: Path | None
    try:
        if args.session and Path(args.session).is_file():
            path = Path(args.session)
        elif args.session:
            path = find_session(sessions_root(), args.session)
        else:
            path = latest_session(sessions_root(), None)
    except (ValueError, OSError) as exc:
        print(f"codeassist replay: {exc}", file=sys.stderr)
        return 2
    if path is None:
        print("codeassist replay: no saved session.", file=sys.stderr)
        return 2
    try:
        settings = load_settings({})
    except ConfigError as exc:
        print(f"codeassist replay: {exc}", file=sys.stderr)
        return 2
    from tui.app import CodeassistApp

    CodeassistApp(settings, Path.cwd(), replay=path, replay_speed=None if args.instant else args.speed).run()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `codeassist` console script."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in (*COMMAND_NAMES, "-h", "--help", "--version"):
        interactive = argparse.ArgumentParser(
            prog="codeassist", description="Open the app in this repository (see `codeassist --help` for commands)."
        )
        add_interactive_arguments(interactive)
        code: int = run_app(interactive.parse_args(argv))
        return code
    args = build_parser(argv[0] if argv[0] in COMMAND_NAMES else None).parse_args(argv)
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "serve": run_serve,
        "exec": run_exec,
        "demo": run_demo,
        "replay": run_replay,
        "sessions": run_sessions,
        "export": run_export,
        "bench": run_bench,
    }
    return handlers[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
