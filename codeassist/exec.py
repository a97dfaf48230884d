"""`codeassist exec "PROMPT"`: one turn in the current repository, no UI.

Prints the assistant's text on stdout as it streams, tool activity and a one-line stats
summary on stderr (or, with `--json`, one `AgentEvent` per line on stdout). Exit codes: 0 the
turn completed, 1 it failed or errored, 2 bad configuration, 3 the step limit, 130 cancelled.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from pathlib import Path
from typing import TextIO

from agent.config import ConfigError, Settings, load_settings, require_credentials
from agent.events import (
    AgentError,
    AgentEvent,
    ApprovalDecided,
    ApprovalRequested,
    Reconnecting,
    TextDelta,
    ToolCallReady,
    ToolFinished,
    TransportChanged,
    TurnEnded,
    TurnEndReason,
)
from agent.session import NON_INTERACTIVE_DENIAL, Session
from agent.session_log import SessionLogError
from codeassist.options import add_endpoint_arguments, settings_overrides

EXIT_CODES: dict[TurnEndReason, int] = {
    "completed": 0,
    "failed": 1,
    "incomplete": 1,
    "error": 1,
    "step_limit": 3,
    "cancelled": 130,
}


def add_exec_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("prompt", help="what to do")
    add_endpoint_arguments(
        parser, approval_help="approval policy; non-interactive 'ask' denies anything that would ask", steps=True
    )
    parser.add_argument("--json", action="store_true", help="print one JSON event per line instead of text")
    parser.add_argument("--no-log", action="store_true", help="do not save a session log")


def run_exec(args: argparse.Namespace) -> int:
    """Run `codeassist exec`; returns the exit code."""
    try:
        settings = load_settings(settings_overrides(args))
        require_credentials(settings)
    except ConfigError as exc:
        print(f"codeassist exec: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_exec(args, settings))
    except KeyboardInterrupt:
        return EXIT_CODES["cancelled"]


async def _exec(args: argparse.Namespace, settings: Settings) -> int:
    try:
        session = Session.open(settings, cwd=Path.cwd(), record=not args.no_log)
    except (SessionLogError, OSError) as exc:
        print(f"codeassist exec: cannot start the session log: {exc}", file=sys.stderr)
        return 1
    loop = asyncio.get_running_loop()
    # Ctrl+C cancels the turn cleanly (aborted outputs recorded) instead of killing the process.
    loop.add_signal_handler(signal.SIGINT, lambda: asyncio.ensure_future(session.cancel()))
    code = 1
    try:
        if settings.warmup:
            await session.warm_up()
        async for event in session.run_turn(args.prompt):
            if args.json:
                sys.stdout.write(event.model_dump_json() + "\n")
                sys.stdout.flush()
            else:
                render_event(event, sys.stdout, sys.stderr)
            if isinstance(event, ApprovalRequested):  # nobody to ask: what the policy left open is denied
                session.answer_approval(event.request.call_id, NON_INTERACTIVE_DENIAL)
            if isinstance(event, TurnEnded):
                code = EXIT_CODES[event.reason]
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        await session.close()
    if session.log_path is not None and not args.json:
        print(f"session saved: {session.log_path}", file=sys.stderr)
    return code


def render_event(event: AgentEvent, out: TextIO, err: TextIO) -> None:
    """The plain-text form of an event: assistant text on `out`, everything else on `err`."""
    match event:
        case TextDelta(text=text):
            out.write(text)
            out.flush()
        case ToolCallReady(name=name, arguments=arguments):
            shown = arguments if len(arguments) <= 200 else arguments[:200] + "…"
            err.write(f"\n→ {name} {shown}\n")
        case ApprovalDecided(decision=decision, rule=rule, reason=reason) if decision not in ("approve_once",):
            err.write(f"  approval: {decision} ({rule}){': ' + reason if reason else ''}\n")
        case ToolFinished(name=name, status=status, output=output, duration_s=duration):
            first = output.strip().splitlines()[0] if output.strip() else ""
            err.write(f"  {name}: {status} in {duration:.2f}s{' — ' + first[:120] if first else ''}\n")
        case Reconnecting(attempt=attempt, delay_s=delay, cause=cause):
            out.write("\n[… interrupted; the answer starts again below]\n")
            out.flush()
            err.write(f"\n[reconnecting: {cause}, attempt {attempt}, in {delay:.1f}s]\n")
        case TransportChanged(transport=transport, reason=reason):
            err.write(f"\n[switched to {transport}: {reason}]\n")
        case AgentError(message=message):
            err.write(f"\nerror: {message}\n")
        case TurnEnded(reason=reason, stats=stats, message=message):
            out.write("\n")
            out.flush()
            if message and reason != "error":
                err.write(f"{message}\n")
            err.write(f"[{reason}] {stats.summary_line()}\n")
    err.flush()
