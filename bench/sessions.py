"""Opening saved sessions at any size: resume, instant replay, export and listing (benchmark B9).

Sessions of 10, 50 and 200 turns are generated, each turn a realistic coding exchange: a
prompt, reasoning and text streamed in small deltas, a file read (about 125 KB), a search, an
approved edit with its diff, an approved test run with its verbose output, and a streamed
summary; the 200-turn session is about 70 MB. Each session is written twice: in the current
format (events and items, through the real `SessionRecorder`), and in version 1 (raw frames plus
hand-named records, as codeassist wrote them before: each request frame repeats the instructions
and tool specs) for the baseline arms.

Every measurement runs in a fresh interpreter, which prints the operation's wall time (its
modules imported first, timed apart as `imports_s`) and the process's peak RSS (`ru_maxrss`,
imports included). The readers:

- `resume`: what `--resume`/`--continue` does before the app draws: read the file, rebuild the
  conversation and the history to draw;
- `replay_instant`: `SessionReplay(path, instant=True)`, every event yielded;
- `export`: the Markdown transcript;
- `list`: `list_sessions` over a directory holding at least 100 MB of sessions (hard links).

And the real app, headless (`App.run_test`), until the transcript is drawn (`seconds` from
building the app, `from_launch_s` from spawning the process; `widgets` mounted at the end;
medians of `--app-runs` processes):

- `app_resume`: `CodeassistApp(..., resume=FILE)` on a copy of the file (a resume appends to it);
- `app_replay_instant`: `CodeassistApp(..., replay=FILE, replay_speed=None)`, as
  `codeassist replay FILE --instant`.

Arms: `v2` (the current format and code), `v1` (version-1 files read by the current code; the
app resumes them too) and, with `--baseline-ref REV`, `v1@REV` (version-1 files read by the code
of git revision REV, for example the commit before format 2; readers only). Goals: resume and
instant replay of the 200-turn session under 3 s and 300 MB (in the app: from launch); listing
100 MB of sessions under 0.5 s.

    python -m bench.sessions [--turns 10,50,200] [--app-turns N,..] [--app-ops OPS] [--app-runs 3]
                             [--baseline-ref REV] [--out FILE]

The JSON is printed and written to `--out` (default `bench/results/sessions-<date>.json`).
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
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
from bench.startup import make_repository

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


APP_OPERATIONS = ("app_resume", "app_replay_instant")
CLOSED_ENDPOINT = "http://127.0.0.1:9/v1"
"""The discard port: a resumed session's endpoint, never reached (no warm-up, no prompt)."""

_APP_MEASURE = """
import time
code_start = time.perf_counter()
import asyncio, json, resource, sys
from pathlib import Path
op, path, cwd, endpoint = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
from agent.config import Settings
from tui.app import CodeassistApp
from tui.widgets.transcript import NoticeLine
imported = time.perf_counter()
last_notice = {"app_resume": "resumed session", "app_replay_instant": "replay finished"}[op]
mounted = asyncio.Event()
original_init = NoticeLine.__init__

def init(self, message, **options):
    original_init(self, message, **options)
    if message.startswith(last_notice):  # mounted right after the whole transcript
        mounted.set()

NoticeLine.__init__ = init

async def main():
    if op == "app_resume":
        app = CodeassistApp(Settings(base_url=endpoint, warmup=False), cwd, resume=path)
    else:
        app = CodeassistApp(Settings(), cwd, replay=path, replay_speed=None)
    async with app.run_test(size=(150, 45)) as pilot:  # the size the app tests use
        await mounted.wait()
        await pilot.pause()  # the notice's mount is processed
        drawn = asyncio.get_running_loop().create_future()
        app.call_after_refresh(lambda: drawn.set_result(time.perf_counter()))
        at = await drawn
        widgets = len(app.query("*"))
    return at, widgets

drawn, widgets = asyncio.run(main())
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"code_start": code_start, "imported": imported, "drawn": drawn,
                  "peak_rss_mb": round(peak, 1), "widgets": widgets}))
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


def synthetic_response_stats(step: int, turn: int, output_tokens: int) -> ResponseStats:
    """Plausible figures of one response of a synthetic session (shared by the benchmarks)."""
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


def _test_output(turn: int, tests: int) -> str:
    """A verbose pytest run: one line per test, then the summary."""
    lines = "".join(
        f"tests/test_mod_{turn}.py::test_case_{number}_handles_value_{number % 13} PASSED{' ' * 8}[{number % 100:3}%]\n"
        for number in range(tests)
    )
    return f"exit code 0\n{lines}{'=' * 30} {tests} passed in 4.21s {'=' * 30}\n"


def session_script(turns: int, read_lines: int = 2000) -> Iterator[tuple[int, str, list[Step]]]:
    """Each turn's number, prompt and steps (one model response and its tool calls each).

    Sizes follow a long real session: a whole module read (about 125 KB), a search with a page
    of hits, a diff of 40 changed lines, a verbose test run (about 30 KB) and answers of a few
    hundred words; a 200-turn session is about 70 MB in the current format."""
    for turn in range(1, turns + 1):
        text = _file_text(read_lines, turn)
        diff = "".join(f"-    old_{turn}_{n} = 1\n+    new_{turn}_{n} = 2\n" for n in range(40))
        steps: list[Step] = [
            {
                "reasoning": _words(80, turn),
                "text": _words(120, turn + 1),
                "calls": [
                    ("read_file", {"path": f"src/mod_{turn}.py"}, text, None),
                    ("grep", {"pattern": f"value_{turn}"}, text[:12000], None),
                ],
            },
            {
                "reasoning": _words(40, turn + 2),
                "text": [],
                "calls": [
                    ("edit_file", {"path": f"src/mod_{turn}.py", "old": "a", "new": "b"}, "Edited.\n" + diff, diff),
                    ("shell", {"command": "pytest -q"}, _test_output(turn, 300), "command"),
                ],
            },
            {"reasoning": [], "text": _words(400, turn + 3), "calls": []},
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
            stats = synthetic_response_stats(number, turn, 8 * len(step["text"]) + 50)
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
                stats = synthetic_response_stats(number, turn, 8 * len(step["text"]) + 50)
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


def app_env(scratch: Path) -> dict[str, str]:
    """Empty config and data folders (a resumed session records there), no key or endpoint."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CODEASSIST_", "OPENAI_")) and key not in ("PYTHONPROFILEIMPORTTIME", "PYTHONSTARTUP")
    }
    env.update(
        XDG_CONFIG_HOME=str(scratch / "config"),
        XDG_DATA_HOME=str(scratch / "data"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    return env


def measure_app(operation: str, path: Path, scratch: Path) -> dict[str, Any]:
    """The real app, headless (`App.run_test`), in a fresh interpreter: resume or replay `path`
    instantly until the transcript is drawn.

    `seconds` runs from building the app to the refresh after its last notice is mounted (the
    notice follows the whole transcript); `from_launch_s` adds the interpreter and the imports,
    measured from just before the process is spawned (`perf_counter` is the system-wide monotonic
    clock on Linux). A resume appends to the file it continues, so it resumes a copy."""
    workdir = make_repository(scratch / "repo") if not (scratch / "repo").exists() else scratch / "repo"
    if operation == "app_resume":
        copy = scratch / "resumed" / path.name
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, copy)
        path = copy
    spawned = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-c", _APP_MEASURE, operation, str(path), str(workdir), CLOSED_ENDPOINT],
        cwd=workdir,
        env=app_env(scratch),
        capture_output=True,
        text=True,
        timeout=1800,
        stdin=subprocess.DEVNULL,
    )
    if operation == "app_resume":
        path.unlink()
        shutil.rmtree(scratch / "data", ignore_errors=True)  # a version-1 session continues in a copy
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "failed"}
    marks = json.loads(result.stdout.strip().splitlines()[-1])
    return {
        "seconds": round(marks["drawn"] - marks["imported"], 3),
        "from_launch_s": round(marks["drawn"] - spawned, 3),
        "imports_s": round(marks["imported"] - marks["code_start"], 3),
        "peak_rss_mb": marks["peak_rss_mb"],
        "widgets": marks["widgets"],
    }


def measure_app_runs(operation: str, path: Path, scratch: Path, runs: int) -> dict[str, Any]:
    """`measure_app` `runs` times, one process each: the medians, and every run's time from launch."""
    samples = [measure_app(operation, path, scratch) for _ in range(runs)]
    failed = [sample for sample in samples if "error" in sample]
    if failed:
        return failed[0]
    figures: dict[str, Any] = {
        key: round(statistics.median(sample[key] for sample in samples), 3)
        for key in ("seconds", "from_launch_s", "imports_s", "peak_rss_mb")
    }
    figures["widgets"] = samples[-1]["widgets"]
    figures["from_launch_s_runs"] = [sample["from_launch_s"] for sample in samples]
    return figures


def checkout(revision: str, into: Path) -> Path:
    """The `agent/` package of a git revision, extracted under `into`."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", revision, "agent"], capture_output=True, check=True
    ).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def run(
    turn_counts: list[int],
    baseline_ref: str | None,
    work: Path,
    app_turns: list[int] | None = None,
    app_operations: tuple[str, ...] = APP_OPERATIONS,
    app_runs: int = 1,
) -> dict[str, Any]:
    """Every arm and operation; the app arms at `app_turns` (default: every session length),
    `app_runs` times each (medians).

    The app runs the current code only: it resumes both formats (a version-1 session is first
    copied into a new version-2 file) and replays the version-2 file."""
    app_turns = turn_counts if app_turns is None else app_turns
    trees: dict[str, tuple[str, Path]] = {"v2": ("v2", ROOT), "v1": ("v1", ROOT)}
    if baseline_ref:
        trees[f"v1@{baseline_ref}"] = ("v1", checkout(baseline_ref, work / "baseline"))
    app_arms = {"v2": app_operations, "v1": tuple(op for op in app_operations if op == "app_resume")}
    files: dict[str, dict[int, Path]] = {"v2": {}, "v1": {}}
    sizes: dict[str, dict[str, float]] = {"v2": {}, "v1": {}}
    for turns in sorted(set(turn_counts) | set(app_turns)):
        files["v2"][turns] = write_v2(work / "v2", turns)
        files["v1"][turns] = write_v1(work / "v1", turns)
        for fmt in ("v2", "v1"):
            sizes[fmt][str(turns)] = round(files[fmt][turns].stat().st_size / 1e6, 2)
    arms: dict[str, Any] = {}
    for arm, (fmt, tree) in trees.items():
        figures: dict[str, Any] = {}
        for turns in turn_counts:
            figures[str(turns)] = {op: measure(op, files[fmt][turns], tree) for op in OPERATIONS}
        for turns in app_turns:
            for op in app_arms.get(arm, ()):
                app = measure_app_runs(op, files[fmt][turns], work / "app", app_runs)
                figures.setdefault(str(turns), {})[op] = app
        listing, total = listing_root(work / fmt / arm.replace("@", "-"), list(files[fmt].values()))
        figures["list"] = {**measure("list", listing, tree), "mb_of_logs": round(total / 1e6, 1)}
        arms[arm] = figures
    largest = str(max(turn_counts))
    current = arms["v2"]

    def within(figures: dict[str, Any], seconds_key: str = "seconds") -> bool | None:
        if not figures or not isinstance(figures.get(seconds_key), (int, float)):
            return None
        return bool(figures[seconds_key] < GOAL_OPEN_S and figures["peak_rss_mb"] < GOAL_OPEN_MB)

    app_largest = str(max(app_turns)) if app_turns else None
    goals_met: dict[str, bool | None] = {
        "readers_resume": within(current[largest]["resume"]),
        "readers_replay_instant": within(current[largest]["replay_instant"]),
        "list": bool(current["list"].get("seconds", GOAL_LIST_S) < GOAL_LIST_S),
    }
    if app_largest is not None:  # from launch: what the user waits
        for op in app_operations:
            goals_met[op] = within(current[app_largest].get(op, {}), "from_launch_s")
    return {
        "benchmark": "sessions",
        "turns": turn_counts,
        "app_turns": app_turns,
        "app_runs": app_runs,
        "file_mb": sizes,
        "arms": arms,
        "goals": {
            "open_s": GOAL_OPEN_S,
            "open_peak_rss_mb": GOAL_OPEN_MB,
            "list_s": GOAL_LIST_S,
            "list_mb": 100,
            "app_arms_at_turns": app_largest,
        },
        "goals_met": goals_met,
        "within_goals": all(met is True for met in goals_met.values()),
        "machine": describe(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--turns", default="10,50,200", help="comma-separated session lengths (default 10,50,200)")
    parser.add_argument("--baseline-ref", metavar="REV", help="also read the v1 files with the code of this revision")
    parser.add_argument("--app-turns", help="session lengths for the app arms (default: --turns; empty: none)")
    parser.add_argument(
        "--app-ops", default=",".join(APP_OPERATIONS), help=f"app operations (default {','.join(APP_OPERATIONS)})"
    )
    parser.add_argument("--app-runs", type=int, default=3, help="processes per app measurement (default 3)")
    parser.add_argument("--out", type=Path, help="write the JSON here (default bench/results/sessions-<date>.json)")
    args = parser.parse_args(argv)
    turn_counts = [int(value) for value in args.turns.split(",") if value]
    app_turns = None if args.app_turns is None else [int(value) for value in args.app_turns.split(",") if value]
    app_operations = tuple(op for op in args.app_ops.split(",") if op)
    unknown = set(app_operations) - set(APP_OPERATIONS)
    if unknown:
        parser.error(f"unknown app operations: {', '.join(sorted(unknown))}")
    with tempfile.TemporaryDirectory(prefix="codeassist-bench-sessions-") as work:
        result = run(turn_counts, args.baseline_ref, Path(work), app_turns, app_operations, args.app_runs)
    text = json.dumps(result, indent=2)
    print(text)
    out = args.out or ROOT / "bench" / "results" / f"sessions-{datetime.date.today().isoformat()}.json"
    out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
