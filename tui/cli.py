"""`codeassist` command line: one parser, one sub-command per job."""

from __future__ import annotations

import argparse
import sys

from agent import __version__
from agent.headless import add_exec_arguments, run_exec
from server.cli import add_serve_arguments, run_serve


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codeassist",
        description="A terminal coding assistant on one persistent Responses-API WebSocket.",
    )
    parser.add_argument("--version", action="version", version=f"codeassist {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="run a local Responses-API server (WebSocket + HTTP/SSE) with a scripted model",
        description="Serve the OpenAI Responses API on one port: WebSocket mode on GET /v1/responses, "
        "HTTP/SSE on POST /v1/responses. Responses come from a scenario file.",
    )
    add_serve_arguments(serve)

    exec_parser = commands.add_parser(
        "exec",
        help="run one prompt headless in the current repository",
        description="Run one turn without the UI: assistant text on stdout, tool activity and a stats "
        "line on stderr (or --json events). Exit 0 when the turn completes.",
    )
    add_exec_arguments(exec_parser)

    demo = commands.add_parser(
        "demo",
        help="run offline against the bundled scripted demo model",
        description="Start the embedded server with the bundled demo scenario and print how to connect.",
    )
    demo.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one (default)")
    return parser


def run_demo(args: argparse.Namespace) -> int:
    """Serve the bundled demo scenario on loopback and explain how to talk to it."""
    serve_args = build_parser().parse_args(["serve", "--port", str(args.port)])
    print("codeassist demo: a scripted demo model, offline, on loopback.", flush=True)
    print(
        "  Point any OpenAI Responses client at the URL below (any API key works), e.g.\n"
        "    OPENAI_BASE_URL=<url> OPENAI_API_KEY=demo python -c \"from openai import OpenAI; "
        "print(OpenAI().responses.create(model='demo', input='Fix the failing test').output_text)\"\n"
        "  Press Ctrl+C to stop.",
        flush=True,
    )
    return run_serve(serve_args)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `codeassist` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "serve":
        return run_serve(args)
    if args.command == "exec":
        return run_exec(args)
    if args.command == "demo":
        return run_demo(args)
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
