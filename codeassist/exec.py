"""`codeassist exec "PROMPT"`: one turn in the current repository, no UI.

Prints the assistant's text on stdout as it streams, tool activity and a one-line stats
summary on stderr (or, with `--json`, a `session_started` line and then one `AgentEvent` per
line on stdout: the contract is in docs/exec-json.md). The prompt may come from stdin (`-`, or
no prompt with stdin not a terminal). `--continue` / `--resume ID` add the turn to a saved
session. Exit codes: 0 the turn completed, 1 it failed or errored, 2 bad input or
configuration, 3 the step limit, 4 a spending limit (`--max-cost`, `--max-turn-tokens`), 130
cancelled. A session log that cannot be created or written
(a full disk) is said once on stderr and changes no exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from agent import __version__
from agent.config import Settings
from agent.events import (
    AgentError,
    AgentEvent,
    ApprovalDecided,
    ApprovalRequested,
    CheckpointCreated,
    Committed,
    Compacted,
    MessageCompleted,
    Notice,
    OutputDiscarded,
    Reconnecting,
    ResponseStarted,
    TextDelta,
    ToolCallReady,
    ToolFinished,
    TransportChanged,
    TurnChanges,
    TurnEnded,
    TurnEndReason,
)
from agent.resume import SessionLookupError
from agent.session import Cost, ResponseStats, Session, non_interactive_denial
from agent.session_log import SessionLogError
from agent.terminal_text import SafeTextStream, safe_terminal_text, terminal_safe_json
from codeassist.options import add_endpoint_arguments, endpoint_settings

EXIT_CODES: dict[TurnEndReason, int] = {
    "completed": 0,
    "failed": 1,
    "incomplete": 1,
    "error": 1,
    "step_limit": 3,
    "limit_exceeded": 4,
    "cancelled": 130,
}

SCHEMA_VERSION = 1
"""Version of the `--json` stream (docs/exec-json.md); raised when a line changes incompatibly."""


class ExecInputError(Exception):
    """The prompt or the session to continue cannot be had; the message says why."""


def add_exec_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `codeassist exec`."""
    parser.add_argument(
        "prompt", nargs="?", help="what to do; '-' (or nothing, with stdin not a terminal) reads it from stdin"
    )
    add_endpoint_arguments(
        parser, approval_help="approval policy; non-interactive 'ask' denies anything that would ask", steps=True
    )
    parser.add_argument("--json", action="store_true", help="print one JSON event per line instead of text")
    parser.add_argument(
        "-o",
        "--output-last-message",
        type=Path,
        metavar="FILE",
        help="also write the last assistant message of the turn to FILE",
    )
    parser.add_argument("--no-log", action="store_true", help="do not save a session log")
    parser.add_argument(
        "--max-cost",
        type=_positive(float),
        metavar="USD",
        help="stop between steps once the turn has cost this many dollars (exit code 4; needs the model's prices)",
    )
    parser.add_argument(
        "--max-turn-tokens",
        type=_positive(int),
        metavar="N",
        help="stop between steps once the turn's responses used N input plus output tokens (exit code 4)",
    )
    parser.add_argument(
        "--compact-first",
        action="store_true",
        help="compact the conversation before the turn (with --continue / --resume: start from a summary)",
    )
    resume = parser.add_mutually_exclusive_group()
    resume.add_argument(
        "--continue",
        dest="continue_",
        action="store_true",
        help="add the turn to the latest session of this repository",
    )
    resume.add_argument("--resume", metavar="ID", help="add the turn to a saved session (id, unique prefix or file)")


def _positive(kind: type[int] | type[float]) -> Any:
    """An argparse type: a number of `kind` above zero."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be above zero: {text!r}")
        return value

    return parse


def run_exec(args: argparse.Namespace) -> int:
    """Run `codeassist exec`; returns the exit code."""
    settings = endpoint_settings(args, "exec")
    if settings is None:
        return 2
    try:
        prompt = read_prompt(args.prompt, sys.stdin)
        resume = session_to_resume(args, Path.cwd())
    except ExecInputError as exc:
        print(f"codeassist exec: {safe_terminal_text(str(exc))}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_exec(args, settings, prompt, resume))
    except KeyboardInterrupt:
        return EXIT_CODES["cancelled"]


def read_prompt(argument: str | None, stdin: TextIO) -> str:
    """The prompt: the argument, or all of stdin for `-` (or no argument when stdin is piped)."""
    if argument is not None and argument != "-":
        text = argument
    elif argument == "-" or not stdin.isatty():
        text = stdin.read()
    else:
        raise ExecInputError("no prompt: give one as an argument, or '-' to read it from stdin")
    if not text.strip():
        raise ExecInputError("the prompt is empty")
    return text


def session_to_resume(args: argparse.Namespace, cwd: Path) -> Path | None:
    """The session file `--continue` / `--resume ID` name, or None for a new session."""
    if not args.continue_ and args.resume is None:
        return None
    try:
        path = Session.find_saved(args.resume) if args.resume else Session.latest_saved(cwd)
    except (SessionLookupError, OSError) as exc:
        raise ExecInputError(str(exc)) from exc
    if path is None:
        raise ExecInputError("no saved session to continue here")
    return path


def session_started(session: Session, resumed: Path | None) -> dict[str, Any]:
    """The first line of `--json`: which session this is and where it is saved."""
    return {
        "type": "session_started",
        "schema_version": SCHEMA_VERSION,
        "session_id": session.id,
        "log_path": str(session.log_path) if session.log_path is not None else None,
        "resumed": resumed is not None,
        "workspace": str(session.workspace),
        "model": session.settings.model,
        "transport": session.settings.transport,
        "approval": session.settings.approval,
        "sandbox": session.sandbox.policy.mode.value,
        "version": __version__,
    }


async def _exec(args: argparse.Namespace, settings: Settings, prompt: str, resume: Path | None) -> int:
    try:
        session = Session.open(settings, cwd=Path.cwd(), record=not args.no_log, resume=resume)
    except (SessionLogError, OSError) as exc:
        print(f"codeassist exec: cannot start the session log: {safe_terminal_text(str(exc))}", file=sys.stderr)
        return 1
    try:
        session.set_limits(max_cost=args.max_cost, max_turn_tokens=args.max_turn_tokens)
    except ValueError as exc:
        print(f"codeassist exec: --max-cost: {safe_terminal_text(str(exc))}", file=sys.stderr)
        await session.close()
        return 2
    _print_log_notices(session.take_log_notices())
    _print_log_notices(session.model_notices())
    if session.sandbox.missing:
        print(
            f"codeassist exec: {session.sandbox.describe()}; shell commands need approval, so they are denied "
            "(pass --sandbox off to run them unsandboxed)",
            file=sys.stderr,
        )
    loop = asyncio.get_running_loop()
    # Ctrl+C cancels the turn cleanly (aborted outputs recorded) instead of killing the process.
    loop.add_signal_handler(signal.SIGINT, lambda: asyncio.ensure_future(session.cancel()))
    code = 1
    last_message: str | None = None
    renderer = PlainRenderer(sys.stdout, sys.stderr, price=session.cost_of)
    turn_responses: list[ResponseStats] | None = None
    try:
        if args.json:
            _write_line(json.dumps(session_started(session, resume), ensure_ascii=False))
            if session.checkpoints.recorded_baseline is not None:
                _write_line(session.checkpoints.recorded_baseline.model_dump_json())
        elif not session.checkpoints_available:
            _print_log_notices([f"no checkpoints in this run: {session.checkpoints.reason}"])
        if settings.warmup:
            await session.warm_up()
        if args.compact_first:  # a compaction that fails is said, and the turn goes on
            async for event in session.compact():
                if args.json:
                    _write_line(event.model_dump_json())
                else:
                    renderer.render(event)
        prepared = await asyncio.to_thread(session.prepare_prompt, prompt)
        _print_log_notices(prepared.notices)
        async for event in session.run_turn(prepared.text, prepared.images):
            if args.json:
                _write_line(event.model_dump_json())
            else:
                renderer.render(event)
            if isinstance(event, Notice):  # the session log cannot be written (or is again): the turn goes on
                _print_log_notices([event.message])
            elif isinstance(event, ApprovalRequested):  # nobody to ask: what the policy left open is denied
                session.answer_approval(event.request.call_id, non_interactive_denial(event.request))
            elif isinstance(event, MessageCompleted):
                last_message = event.text
            elif isinstance(event, TurnEnded):
                code = EXIT_CODES[event.reason]
                turn_responses = event.stats.responses
        if args.json and turn_responses is not None:
            _write_line(json.dumps(cost_line(session, turn_responses), ensure_ascii=False))
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        await session.close()
    if args.output_last_message is not None:
        try:
            text = last_message or ""
            ends_a_line = not text or text.endswith("\n")
            args.output_last_message.write_text(text if ends_a_line else text + "\n", encoding="utf-8")
        except OSError as exc:
            print(f"codeassist exec: cannot write {args.output_last_message}: {exc.strerror or exc}", file=sys.stderr)
            code = code or 1
    _print_log_notices(session.take_log_notices())
    if session.log_path is not None and not args.json:
        given_up = session.log_given_up
        incomplete = f" (incomplete: the last {given_up:,} bytes of records could not be written)" if given_up else ""
        print(f"session saved: {session.log_path}{incomplete}", file=sys.stderr)
    return code


def cost_line(session: Session, responses: list[ResponseStats]) -> dict[str, Any]:
    """The last line of `--json`: what each response, the turn and the session cost, and the
    prices used."""
    info, provenance = session.model_info, session.catalogue.provenance
    return {
        "type": "cost",
        "model": info.name,
        "priced": info.priced,
        "responses": [session.cost_of([response]).as_json() for response in responses],
        "turn": session.cost_of(responses).as_json(),
        "session": session.session_cost().as_json(),
        "prices_per_mtok": {
            "input": info.input_per_mtok,
            "cached_input": info.cached_input_per_mtok,
            "output": info.output_per_mtok,
        },
        "prices_source": provenance.source,
        "prices_checked": provenance.checked,
    }


def _print_log_notices(notices: list[str]) -> None:
    for notice in notices:
        print(f"codeassist exec: {safe_terminal_text(notice)}", file=sys.stderr)


def _write_line(line: str) -> None:
    """One `--json` line; C1 controls escaped, so the line is safe on a terminal too."""
    sys.stdout.write(terminal_safe_json(line) + "\n")
    sys.stdout.flush()


class PlainRenderer:
    """The plain-text form of a turn's events: assistant text on `out`, everything else on `err`.

    Each response's text starts on a line of its own, and an attempt abandoned after it had shown
    text is marked where the answer starts again.
    """

    def __init__(self, out: TextIO, err: TextIO, price: Callable[[list[ResponseStats]], Cost] | None = None) -> None:
        self.out = out
        self.err = err
        self.price = price
        """Prices a turn's responses for the stats line (None: no cost shown)."""
        self._line_open = False
        """The last text written on `out` does not end with a newline."""
        self._response_has_text = False
        """The response in flight has written text on `out`."""
        self._stream = SafeTextStream()
        """The answer's text made safe for a terminal (a sequence split across deltas held back)."""

    def _write_text(self, text: str) -> None:
        if not text:
            return
        if not self._response_has_text and self._line_open:
            self.out.write("\n")  # the previous response's text ended mid-line
        self._response_has_text = True
        self.out.write(text)
        self.out.flush()
        self._line_open = not text.endswith("\n")

    def render(self, event: AgentEvent) -> None:
        """Write one event; text from outside (answers, arguments, outputs, errors) is made safe
        for a terminal first (`agent.terminal_text`)."""
        out, err = self.out, _SafeWriter(self.err)
        match event:
            case ResponseStarted():
                self._write_text(self._stream.flush())
                self._response_has_text = False
            case TextDelta(text=text):
                self._write_text(self._stream.feed(text))
            case ToolCallReady(name=name, arguments=arguments, final=True):  # exactly what is decided and run
                shown = arguments if len(arguments) <= 200 else arguments[:200] + "…"
                err.write(f"\n→ {name} {shown}\n")
            case ApprovalDecided(decision=decision, rule=rule, reason=reason) if decision not in ("approve_once",):
                err.write(f"  approval: {decision} ({rule}){': ' + reason if reason else ''}\n")
            case ToolFinished(name=name, status=status, output=output, duration_s=duration):
                first = output.strip().splitlines()[0] if output.strip() else ""
                err.write(f"  {name}: {status} in {duration:.2f}s{' — ' + first[:120] if first else ''}\n")
            case OutputDiscarded():
                self._stream = SafeTextStream()
                if self._response_has_text:
                    out.write(("\n" if self._line_open else "") + "[… interrupted; the answer starts again below]\n")
                    out.flush()
                    self._line_open = False
                    self._response_has_text = False
            case Reconnecting(attempt=attempt, delay_s=delay, cause=cause):
                err.write(f"\n[reconnecting: {cause}, attempt {attempt}, in {delay:.1f}s]\n")
            case TransportChanged(transport=transport, reason=reason):
                err.write(f"\n[switched to {transport}: {reason}]\n")
            case Compacted(mode=mode, tokens_before=before, tokens_after=after, items_before=items, items_after=kept):
                sizes = [f"{count:,}" if count is not None else "?" for count in (before, after)]
                err.write(f"\n[compacted ({mode}): {sizes[0]} → {sizes[1]} tokens, {items} → {kept} items]\n")
            case AgentError(message=message):
                err.write(f"\nerror: {message}\n")
            case CheckpointCreated(turn=turn, commit=commit, skipped=skipped):
                left_out = f"; left out: {', '.join(skipped)}" if skipped else ""
                err.write(f"  checkpoint before turn {turn}: {commit[:12]}{left_out}\n")
            case TurnChanges(files=files) if files:
                added, removed = sum(f.added for f in files), sum(f.removed for f in files)
                names = ", ".join(f.path for f in files[:10]) + (
                    f" and {len(files) - 10} more" if len(files) > 10 else ""
                )
                err.write(f"[{len(files)} file{'s' if len(files) != 1 else ''} changed +{added} −{removed}: {names}]\n")
            case Committed(commit=commit, branch=branch, message=message):
                subject = message.strip().splitlines()[0] if message.strip() else ""
                err.write(f"[committed {commit[:12]} on {branch or 'a detached HEAD'}: {subject}]\n")
            case TurnEnded(reason=reason, stats=stats, message=message):
                self._write_text(self._stream.flush())
                out.write("\n")
                out.flush()
                self._line_open = False
                if message and reason != "error":
                    err.write(f"{message}\n")
                cost = f" · {self.price(stats.responses).summary()}" if self.price is not None else ""
                err.write(f"[{reason}] {stats.summary_line()}{cost}\n")
        self.err.flush()


class _SafeWriter:
    """Writes to a stream with every control sequence made safe (`safe_terminal_text`)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> None:
        self.stream.write(safe_terminal_text(text))
