"""Opening saved sessions at any size: resume, instant replay, export and listing (benchmark B9).

Sessions of 10, 50 and 200 turns are generated, each turn a realistic coding exchange: a
prompt, reasoning and text streamed in small deltas, a file read (tens of KB), a search, an
approved edit with its diff, an approved test run with its output, and a streamed summary. Each
session is written twice: in the current format (events and items, through the real
`SessionRecorder`), and in version 1 (raw frames plus hand-named records, as codeassist wrote
them before: each request frame repeats the instructions and tool specs) for the baseline arms.

Every measurement runs in a fresh interpreter, which prints the operation's wall time (its
modules imported first, timed apart as `imports_s`) and the process's peak RSS (`ru_maxrss`,
imports included):

- `resume`: what `--resume`/`--continue` does before the app draws: read the file, rebuild the
  conversation and the history to draw;
- `replay_instant`: `SessionReplay(path, instant=True)`, every event yielded;
- `export`: the Markdown transcript;
- `list`: `list_sessions` over a directory holding at least 100 MB of sessions (hard links).

Arms: `v2` (the current format and code), `v1` (version-1 files read by the current code) and,
with `--baseline-ref REV`, `v1@REV` (version-1 files read by the code of git revision REV, for
example the commit before format 2). Goals: resume and instant replay of the 200-turn session
under 3 s and 300 MB; listing 100 MB of sessions under 0.5 s.

    python -m bench.sessions [--turns 10,50,200] [--baseline-ref REV] [--out FILE]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import orjson

from agent.approvals import ApprovalRequest
from agent.events import (
    AgentEvent,
    ApprovalDecided,
    ApprovalRequested,
    ReasoningDelta,
    ResponseFinished,
    ResponseStarted,
    TextDelta,
    ToolCallReady,
    ToolCallStarted,
    ToolFinished,
    TurnEnded,
    TurnStarted,
)
from agent.recorder import SessionRecorder
from agent.redact import Redactor
from agent.session_log import SessionLog
from agent.stats import ResponseStats, TurnStats
from agent.wire import FunctionCall, FunctionCallOutput, Message, user_message
from bench.machine import describe

ROOT = Path(__file__).resolve().parent.parent
GOAL_OPEN_S = 3.0
GOAL_OPEN_MB = 300.0
GOAL_LIST_S = 0.5
LIST_BYTES = 100 * 1024 * 1024
OPERATIONS = ("resume", "replay_instant", "export")

_MEASURE = """
import asyncio, json, resource, sys, time
op, path = sys.argv[1], sys.argv[2]
begun = time.perf_counter()
from agent.session_log import list_sessions, load_session
from agent.replay import SessionReplay
from agent.export import export_markdown
from agent import resume
started = time.perf_counter()
if op == "list":
    count = len(list_sessions(path))
elif op == "resume":
    if hasattr(resume, "resume_record"):
        restored = resume.resume_record(path)
        count = sum(len(turn.items) for turn in restored.turns) + len(restored.history)
    else:  # code from before format 2
        count = sum(len(turn.items) for turn in resume.session_turns(load_session(path)))
elif op == "replay_instant":
    async def play():
        return sum([1 async for _ in SessionReplay(path, instant=True).events()])
    count = asyncio.run(play())
elif op == "export":
    try:
        count = len(export_markdown(path))
    except (AttributeError, TypeError):  # code from before format 2 takes a loaded session
        count = len(export_markdown(load_session(path)))
elapsed = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": round(elapsed, 3), "imports_s": round(started - begun, 3),
                  "peak_rss_mb": round(peak, 1), "count": count}))
"""


# ---- a generated session ------------------------------------------------------------------------


def _words(count: int, seed: int) -> list[str]:
    vocabulary = ("the", "parser", "returns", "a", "token", "when", "input", "ends", "fix", "test", "value")
    return [f" {vocabulary[(seed + index * 7) % len(vocabulary)]}" for index in range(count)]


def _file_text(lines: int, seed: int) -> str:
    return "".join(
        f"{number:6}\t    value_{seed}_{number} = compute(value_{number}, limit={number % 97})  # step\n"
        for number in range(1, lines + 1)
    )


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        self.now += 0.02
        return self.now


def _stats(step: int, turn: int, output_tokens: int) -> ResponseStats:
    return ResponseStats(
        response_id=f"resp_{turn}_{step}",
        status="completed",
        transport="websocket",
        connection="ws-1",
        incremental=step > 1 or turn > 1,
        reason="incremental",
        items_sent=2,
        bytes_sent=4000,
        bytes_received=30000,
        events=400,
        connect_s=None,
        created_s=0.05,
        first_token_s=0.2,
        total_s=1.5,
        stream_s=1.3,
        input_tokens=20000 + 900 * turn,
        cached_tokens=18000 + 900 * turn,
        output_tokens=output_tokens,
    )


Step = dict[str, Any]


def session_script(turns: int, read_lines: int = 800) -> Iterator[tuple[int, str, list[Step]]]:
    """Each turn's number, prompt and steps (one model response and its tool calls each)."""
    for turn in range(1, turns + 1):
        text = _file_text(read_lines, turn)
        diff = "".join(f"-    old_{turn}_{n} = 1\n+    new_{turn}_{n} = 2\n" for n in range(20))
        steps: list[Step] = [
            {
                "reasoning": _words(40, turn),
                "text": _words(60, turn + 1),
                "calls": [
                    ("read_file", {"path": f"src/mod_{turn}.py"}, text, None),
                    ("grep", {"pattern": f"value_{turn}"}, text[:5000], None),
                ],
            },
            {
                "reasoning": _words(20, turn + 2),
                "text": [],
                "calls": [
                    ("edit_file", {"path": f"src/mod_{turn}.py", "old": "a", "new": "b"}, "Edited.\n" + diff, diff),
                    ("shell", {"command": "pytest -q"}, "exit code 0\n" + "." * 8000 + "\n", "command"),
                ],
            },
            {"reasoning": [], "text": _words(200, turn + 3), "calls": []},
        ]
        yield turn, f"Turn {turn}: please fix the failing test in src/mod_{turn}.py and explain why.", steps


def write_v2(root: Path, turns: int) -> Path:
    """The session in the current format, written through the real recorder."""
    redactor = Redactor(environ={})
    log = SessionLog.create(root=root, header={"model": "bench", "cwd": "/bench"}, redactor=redactor)
    recorder = SessionRecorder(log, redactor, clock=_Clock())

    def emit(event: AgentEvent) -> None:
        recorder.event(event)

    for turn, prompt, steps in session_script(turns):
        recorder.items([user_message(prompt)])
        emit(TurnStarted(turn=turn, prompt=prompt))
        responses = []
        for number, step in enumerate(steps, start=1):
            emit(
                ResponseStarted(
                    step=number, transport="websocket", incremental=True, reason="incremental", items_sent=2
                )
            )
            for word in step["reasoning"]:
                emit(ReasoningDelta(text=word))
            for word in step["text"]:
                emit(TextDelta(text=word))
            output: list[Any] = []
            if step["text"]:
                output.append(
                    Message(role="assistant", content=[{"type": "output_text", "text": "".join(step["text"])}])
                )
            for index, (name, arguments, _, _) in enumerate(step["calls"]):
                call_id = f"call_{turn}_{number}_{index}"
                emit(ToolCallStarted(call_id=call_id, name=name))
                emit(ToolCallReady(call_id=call_id, name=name, arguments=json.dumps(arguments)))
                output.append(FunctionCall(call_id=call_id, name=name, arguments=json.dumps(arguments)))
            recorder.items(output)
            stats = _stats(number, turn, 8 * len(step["text"]) + 50)
            responses.append(stats)
            emit(ResponseFinished(stats=stats))
            for index, (name, _, result, ask) in enumerate(step["calls"]):
                call_id = f"call_{turn}_{number}_{index}"
                if ask is not None:
                    request = ApprovalRequest(
                        call_id=call_id,
                        tool=name,
                        kind="edit" if ask != "command" else "command",
                        summary=f"{name} {turn}",
                        diff=ask if ask != "command" else None,
                        command="pytest -q" if ask == "command" else None,
                    )
                    emit(ApprovalRequested(request=request))
                    emit(
                        ApprovalDecided(
                            call_id=call_id, decision="approve_once", rule="user", reason=None, waited_s=1.2
                        )
                    )
                recorder.items([FunctionCallOutput(call_id=call_id, output=result)])
                emit(ToolFinished(call_id=call_id, name=name, status="ok", output=result, duration_s=0.05))
        total = TurnStats(turn=turn, responses=responses, total_s=6.0, tool_s=0.2, tool_calls=4)
        emit(TurnEnded(reason="completed", stats=total))
    recorder.close()
    return log.path


@functools.cache
def _request_fields() -> dict[str, Any]:
    """What every version-1 request frame repeated: the instructions and the tool specs."""
    from agent.tools import ToolRegistry, default_tools

    instructions = "You are codeassist, a coding assistant working in the user's repository. " * 40
    return {"instructions": instructions, "tools": ToolRegistry(default_tools()).specs(), "store": False}


def write_v1(root: Path, turns: int) -> Path:
    """The same session in the version-1 format (raw frames plus hand-named records)."""
    day = root / "2026-01-01"
    day.mkdir(parents=True, exist_ok=True)
    path = day / f"v1-{turns}.jsonl"
    seq = 0
    clock = _Clock()

    with open(path, "wb") as file:

        def line(record_type: str, /, **fields: Any) -> None:
            nonlocal seq
            file.write(orjson.dumps({"v": 1, "seq": seq, "t": clock(), "type": record_type, **fields}) + b"\n")
            seq += 1

        file.write(
            orjson.dumps({"type": "session_meta", "v": 1, "seq": 0, "t": clock(), "id": path.stem, "cwd": "/bench"})
            + b"\n"
        )
        seq = 1
        for turn, prompt, steps in session_script(turns):
            line("user_message", turn=turn, text=prompt)
            pending: list[dict[str, Any]] = [user_message(prompt).model_dump(mode="json")]
            for number, step in enumerate(steps, start=1):
                request = {"type": "response.create", "model": "bench", **_request_fields(), "input": pending}
                line("frame", dir="sent", data=request)
                response_id = f"resp_{turn}_{number}"
                line("frame", dir="received", data={"type": "response.created", "response": {"id": response_id}})
                output: list[dict[str, Any]] = []
                for kind, words in (
                    ("response.reasoning_summary_text.delta", step["reasoning"]),
                    ("response.output_text.delta", step["text"]),
                ):
                    for word in words:
                        delta = {"type": kind, "item_id": "i", "output_index": 0, "content_index": 0, "delta": word}
                        line("frame", dir="received", data={**delta, "logprobs": []})
                if step["text"]:
                    text = "".join(step["text"])
                    output.append(
                        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}
                    )
                for index, (name, arguments, _, _) in enumerate(step["calls"]):
                    call = {
                        "type": "function_call",
                        "call_id": f"call_{turn}_{number}_{index}",
                        "name": name,
                        "arguments": json.dumps(arguments),
                    }
                    output.append(call)
                    line("frame", dir="received", data={"type": "response.output_item.done", "item": call})
                line(
                    "frame",
                    dir="received",
                    data={"type": "response.completed", "response": {"id": response_id, "output": output}},
                )
                stats = _stats(number, turn, 8 * len(step["text"]) + 50)
                line("response_stats", **stats.model_dump(mode="json"))
                pending = []
                for index, (name, arguments, result, ask) in enumerate(step["calls"]):
                    call_id = f"call_{turn}_{number}_{index}"
                    line("tool_intent", call_id=call_id, name=name, arguments=json.dumps(arguments))
                    if ask is not None:
                        line("approval_request", call_id=call_id, tool=name, kind="edit", summary=name, diff=ask)
                        line(
                            "approval", call_id=call_id, decision="approve_once", rule="user", reason=None, waited_s=1.2
                        )
                    line("tool_result", call_id=call_id, name=name, status="ok", output=result, duration_s=0.05)
                    pending.append({"type": "function_call_output", "call_id": call_id, "output": result})
            ended = TurnStats(turn=turn, total_s=6.0).model_dump(mode="json")
            line("turn_ended", turn=turn, reason="completed", message=None, stats=ended)
    return path


def listing_root(root: Path, sessions: list[Path]) -> tuple[Path, int]:
    """A sessions directory of hard links to `sessions` (largest first) reaching `LIST_BYTES`."""
    listing = root / "listing"
    total = 0
    copy = 0
    ordered = sorted(sessions, key=lambda path: path.stat().st_size, reverse=True)
    while total < LIST_BYTES and ordered:
        for path in ordered:
            day = listing / f"2026-01-{1 + copy % 28:02d}"
            day.mkdir(parents=True, exist_ok=True)
            os.link(path, day / f"{path.stem}-{copy}.jsonl")
            total += path.stat().st_size
            copy += 1
            if total >= LIST_BYTES:
                break
    return listing, total


# ---- measuring --------------------------------------------------------------------------------


def measure(operation: str, path: Path, tree: Path = ROOT) -> dict[str, Any]:
    """One operation in a fresh interpreter running the code of `tree`."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    result = subprocess.run(
        [sys.executable, "-c", _MEASURE, operation, str(path)],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed"}
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def checkout(revision: str, into: Path) -> Path:
    """The `agent/` package of a git revision, extracted under `into`."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", revision, "agent"], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def run(turn_counts: list[int], baseline_ref: str | None, work: Path) -> dict[str, Any]:
    trees: dict[str, tuple[str, Path]] = {"v2": ("v2", ROOT), "v1": ("v1", ROOT)}
    if baseline_ref:
        trees[f"v1@{baseline_ref}"] = ("v1", checkout(baseline_ref, work / "baseline"))
    files: dict[str, dict[int, Path]] = {"v2": {}, "v1": {}}
    sizes: dict[str, dict[str, float]] = {"v2": {}, "v1": {}}
    for turns in turn_counts:
        files["v2"][turns] = write_v2(work / "v2", turns)
        files["v1"][turns] = write_v1(work / "v1", turns)
        for fmt in ("v2", "v1"):
            sizes[fmt][str(turns)] = round(files[fmt][turns].stat().st_size / 1e6, 2)
    arms: dict[str, Any] = {}
    for arm, (fmt, tree) in trees.items():
        figures: dict[str, Any] = {}
        for turns in turn_counts:
            figures[str(turns)] = {op: measure(op, files[fmt][turns], tree) for op in OPERATIONS}
        listing, total = listing_root(work / fmt / arm.replace("@", "-"), list(files[fmt].values()))
        figures["list"] = {**measure("list", listing, tree), "mb_of_logs": round(total / 1e6, 1)}
        arms[arm] = figures
    largest = str(max(turn_counts))
    current = arms["v2"]
    within = (
        all(
            isinstance(current[largest][op].get("seconds"), float)
            and current[largest][op]["seconds"] < GOAL_OPEN_S
            and current[largest][op]["peak_rss_mb"] < GOAL_OPEN_MB
            for op in ("resume", "replay_instant")
        )
        and current["list"].get("seconds", GOAL_LIST_S) < GOAL_LIST_S
    )
    return {
        "benchmark": "sessions",
        "turns": turn_counts,
        "file_mb": sizes,
        "arms": arms,
        "goals": {"open_s": GOAL_OPEN_S, "open_peak_rss_mb": GOAL_OPEN_MB, "list_s": GOAL_LIST_S, "list_mb": 100},
        "within_goals": within,
        "machine": describe(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--turns", default="10,50,200", help="comma-separated session lengths (default 10,50,200)")
    parser.add_argument("--baseline-ref", metavar="REV", help="also read the v1 files with the code of this revision")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)
    turn_counts = [int(value) for value in args.turns.split(",") if value]
    with tempfile.TemporaryDirectory(prefix="codeassist-bench-sessions-") as work:
        result = run(turn_counts, args.baseline_ref, Path(work))
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
