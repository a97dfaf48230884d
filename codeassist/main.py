"""`codeassist`: one parser, one sub-command per job, one module per command.

Startup: a command imports only what it runs. This module imports nothing but argparse and the
version; the module of a command (and so the agent session, the server, textual…) is imported
when that command is parsed, so `codeassist --version` and `codeassist --help` start at once.
Without a command, `codeassist [PROMPT] [flags]` opens the app (`codeassist.app`).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from typing import NamedTuple, cast

from agent import __version__


class Command(NamedTuple):
    """A sub-command: where its code lives and how `--help` describes it."""

    module: str
    add_arguments: str
    """Name of `module`'s function that adds the command's arguments to its sub-parser."""
    run: str
    """Name of `module`'s function that runs the parsed command and returns the exit code."""
    help: str
    description: str | None = None
    runs_tools: bool = False
    """Whether the command runs tools (so credentials are hidden from what they can read)."""


COMMANDS: dict[str, Command] = {
    "serve": Command(
        "codeassist.serve",
        "add_serve_arguments",
        "run_serve",
        "run a local Responses-API server (WebSocket + HTTP/SSE) with a scripted model",
        "Serve the OpenAI Responses API on one port: WebSocket mode on GET /v1/responses, "
        "HTTP/SSE on POST /v1/responses. Responses come from a scenario file.",
    ),
    "exec": Command(
        "codeassist.exec",
        "add_exec_arguments",
        "run_exec",
        "run one prompt headless in the current repository",
        "Run one turn without the UI: assistant text on stdout, tool activity and a stats "
        "line on stderr (or --json events). Exit 0 when the turn completes.",
        runs_tools=True,
    ),
    "demo": Command(
        "codeassist.demo",
        "add_demo_arguments",
        "run_demo",
        "run the app offline against the bundled scripted demo model",
        "Copy a small sample project into a temporary git repository, start the embedded "
        "server with the bundled scenario, and open the app there: the scripted model reads the code, "
        "runs the tests, proposes a fix and runs the tests again — every tool really runs.",
        runs_tools=True,
    ),
    "replay": Command(
        "codeassist.replay",
        "add_replay_arguments",
        "run_replay",
        "replay a saved session in the app (runs nothing)",
        "Play a saved session through the app at its recorded timing. "
        "Space pauses, + and - change the speed. Nothing is executed and no "
        "connection is opened.",
    ),
    "sessions": Command("codeassist.sessions", "add_sessions_arguments", "run_sessions", "list saved sessions"),
    "export": Command(
        "codeassist.export", "add_export_arguments", "run_export", "write a saved session as Markdown or JSON"
    ),
    "bench": Command(
        "codeassist.bench", "add_bench_arguments", "run_bench", "compare HTTP and WebSocket on your endpoint"
    ),
}
COMMAND_NAMES = tuple(COMMANDS)

Runner = Callable[[argparse.Namespace], int]


def _function(module: str, name: str) -> Callable[..., object]:
    return cast("Callable[..., object]", getattr(importlib.import_module(module), name))


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command; only `command` (if any) gets its arguments, so only its
    module is imported. The others keep their name and help, which is all `--help` shows."""
    parser = argparse.ArgumentParser(
        prog="codeassist",
        description="A terminal coding assistant on one persistent Responses-API WebSocket.",
        epilog="Without a command, codeassist opens the app in the current repository: "
        "codeassist [PROMPT] [--model M] [--base-url URL] [--approval POLICY] [--transport T] "
        "[--continue | --resume [ID]].",
    )
    parser.add_argument("--version", action="version", version=f"codeassist {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, spec in COMMANDS.items():
        sub = commands.add_parser(name, help=spec.help, description=spec.description or spec.help.capitalize() + ".")
        if name == command:
            _function(spec.module, spec.add_arguments)(sub)
    return parser


def build_app_parser() -> argparse.ArgumentParser:
    """The parser of `codeassist [PROMPT] [flags]` (no command: the app)."""
    parser = argparse.ArgumentParser(
        prog="codeassist", description="Open the app in this repository (see `codeassist --help` for commands)."
    )
    _function("codeassist.app", "add_app_arguments")(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `codeassist` console script."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in (*COMMAND_NAMES, "-h", "--help", "--version"):
        _hide_secrets_from_tools()
        run_app = cast(Runner, _function("codeassist.app", "run_app"))
        return run_app(build_app_parser().parse_args(argv))
    command = argv[0] if argv[0] in COMMANDS else None
    args = build_parser(command).parse_args(argv)
    spec = COMMANDS[args.command]
    if spec.runs_tools:
        _hide_secrets_from_tools()
    run = cast(Runner, _function(spec.module, spec.run))
    return run(args)


def _hide_secrets_from_tools() -> None:
    """Before any tool can run: the commands it starts cannot read the API key (or any other
    credential) from this process's environment (`agent.process_secrets`)."""
    from agent.process_secrets import hide_environment_secrets

    hide_environment_secrets()
