"""The `codeassist serve` command line."""

from __future__ import annotations

import argparse
import asyncio
import sys

from pydantic import ValidationError

from agent.terminal_text import safe_terminal_text
from server.accept import new_event_loop
from server.engines.scripted import ScriptedEngine
from server.faults import Fault
from server.guard import binds_loopback_only
from server.logs import install_server_logging
from server.runner import ServerAddress, build_state, serve
from server.scenario import ScenarioError
from server.state import ServerConfig

ENGINES = ("scripted",)


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `codeassist serve` (shared with `codeassist demo`)."""
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port to listen on; 0 picks a free one (default)")
    parser.add_argument("--engine", choices=ENGINES, default="scripted", help="where responses come from")
    parser.add_argument("--script", metavar="FILE", help="scenario file (.json or .toml); default: the bundled demo")
    parser.add_argument("--api-key", metavar="KEY", help="require 'Authorization: Bearer KEY' on every request")
    parser.add_argument(
        "--max-connection-minutes",
        type=float,
        default=60.0,
        metavar="MIN",
        help="WebSocket connection lifetime before websocket_connection_limit_reached (default 60)",
    )
    parser.add_argument(
        "--max-frame-mb", type=float, default=16.0, metavar="MB", help="largest client frame or body (default 16)"
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="JSON",
        help='arm a fault, e.g. \'{"kind":"reject_upgrade","status":426}\' (repeatable; see README)',
    )
    parser.add_argument(
        "--max-received-mb",
        type=float,
        default=16.0,
        metavar="MB",
        help="requests /_codeassist/received keeps, newest first; older ones are dropped (default 16)",
    )
    parser.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="also answer browser pages from ORIGIN, e.g. http://devbox:3000 (repeatable; default: loopback only)",
    )
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests addressed to host NAME (repeatable; default: loopback names and --host)",
    )
    parser.add_argument("--tls-cert", metavar="PEM", help="serve HTTPS/WSS with this certificate")
    parser.add_argument("--tls-key", metavar="PEM", help="private key for --tls-cert")


def exposed_warning(host: str) -> str:
    """The start-up warning for a server reachable from other machines with no `--api-key`."""
    shown = safe_terminal_text(host)
    return (
        f"codeassist serve: WARNING: listening on {shown} without --api-key. Anyone who can reach this port "
        "from the network can use the server, arm faults (POST /_codeassist/faults) and read every request "
        "it received, prompts and code included (GET /_codeassist/received).\n"
        "  Listen on 127.0.0.1 (the default) or add --api-key KEY."
    )


def run_serve(args: argparse.Namespace) -> int:
    """Start the server in the foreground; returns the process exit code."""
    try:
        faults = [Fault.model_validate_json(spec) for spec in args.fault]
    except ValidationError as exc:
        print(f"codeassist serve: invalid --fault: {safe_terminal_text(str(exc))}", file=sys.stderr)
        return 2
    config = ServerConfig(
        api_key=args.api_key,
        max_connection_minutes=args.max_connection_minutes,
        max_frame_bytes=int(args.max_frame_mb * 1024 * 1024),
        received_max_bytes=int(args.max_received_mb * 1024 * 1024),
        allowed_origins=tuple(args.allow_origin),
        allowed_hosts=tuple(args.allow_host),
    )
    try:
        state = build_state(script=args.script, config=config, faults=faults)
    except ScenarioError as exc:
        print(f"codeassist serve: {safe_terminal_text(str(exc))}", file=sys.stderr)
        return 2

    def announce(address: ServerAddress) -> None:
        print(f"codeassist serve: listening on {address.base_url}", flush=True)
        print(f"  WebSocket mode: {address.websocket_url}", flush=True)
        if isinstance(state.engine, ScriptedEngine):
            scenario = state.engine.scenario
            print(f"  scenario: {scenario.name} ({len(scenario.turns)} turns)", flush=True)

    if not args.api_key and not binds_loopback_only(args.host):
        print(exposed_warning(args.host), file=sys.stderr, flush=True)
    install_server_logging()
    try:
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            runner.run(
                serve(
                    state, args.host, args.port, on_ready=announce, ssl_certfile=args.tls_cert, ssl_keyfile=args.tls_key
                )
            )
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"codeassist serve: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    return 0
