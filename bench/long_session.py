"""Long sessions: bytes sent per request and time per turn over a 300-turn session, with and
without compaction.

A scripted session of `--turns` user turns runs against `codeassist serve` (its own process, on
loopback): each turn asks, the model calls `read_file` on a file of `--output-bytes` bytes in a
real temporary git repository, the tool runs, and the model answers. Every `--reconnect-every`
turns the server closes the connection in the middle of a response (a `close` fault), so the
client reconnects and resends the conversation in full: that is where compaction pays on the
WebSocket, whose other requests are incremental anyway; over HTTP/SSE without `store` every
request is a full resend.

Arms, per transport (`--transports`):

- `compaction`: the server has a context window of `--context-window` tokens and compacts when
  a request asks it to; the client asks at `--threshold` of the window (`compact_threshold`) and
  resends only the window since the latest compaction item;
- `baseline`: compaction off (`compact_threshold = 0`) on a server without a window, so the
  context grows for the whole session.

Per arm: bytes sent per request (median, p95, max, total; full resends apart), time per turn
(median, p95; the first and the last 50 turns apart, to show growth), the largest `input_tokens`
the server reported, compactions, turns that did not complete, and the per-turn series.

    python -m bench.long_session [--turns 300] [--output-bytes 1200] [--context-window 8000]
                                 [--threshold 0.8] [--reconnect-every 50]
                                 [--transports websocket,http] [--out FILE]

The JSON is printed and written to `--out` (default `bench/results/long-session-<date>.json`).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import statistics
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agent.config import Settings
from agent.events import ApprovalRequested, ResponseFinished, TurnEnded
from agent.session import Decision, Session
from bench.machine import describe
from bench.serve_process import launch, listening_url, stop

MODEL = "scripted-long"
API_KEY = "sk-bench-abcdefghijklmnopqrstuvwxyz012345"
NOTES = 10
"""Files the model reads in turn (`notes/0.txt` …)."""


def long_scenario(turns: int, *, context_window: int | None = None) -> dict[str, Any]:
    """A scripted model for `turns` user turns: each a `read_file` call, then a short answer.

    Every response fits either place in a turn (a user message asks for the call, a tool output
    for the answer), so the script stays on track whatever the server counts as earlier turns;
    call ids are unique per response. `context_window` (tokens) is set only when given.
    """
    entries: list[dict[str, Any]] = []
    for index in range(2 * turns):
        call = {
            "type": "function_call",
            "name": "read_file",
            "call_id": f"call_{index}",
            "arguments": {"path": f"notes/{(index // 2) % NOTES}.txt"},
        }
        answer = {"type": "message", "text": f"Read it ({index // 2}): nothing to change."}
        asks = {"expect": [{"type": "message", "role": "user"}], "output": [call]}
        answers = {"expect": [{"type": "function_call_output"}], "output": [answer]}
        first, other = (asks, answers) if index % 2 == 0 else (answers, asks)
        entries.append({**first, "alternatives": [other]})
    scenario: dict[str, Any] = {"name": "long-session", "model": MODEL, "turns": entries}
    if context_window is not None:
        scenario["context_window"] = context_window
    return scenario


def make_workspace(root: Path, output_bytes: int) -> Path:
    """A git repository holding the notes the model reads (`output_bytes` each, deterministic)."""
    notes = root / "notes"
    notes.mkdir(parents=True)
    for number in range(NOTES):
        line = f"note {number}: the quick brown fox jumps over the lazy dog, line "
        text = "".join(f"{line}{row}\n" for row in range(output_bytes // (len(line) + 4) + 1))
        (notes / f"{number}.txt").write_text(text[:output_bytes])
    run = {"cwd": root, "check": True, "capture_output": True}
    subprocess.run(["git", "init", "-q", "-b", "main"], **run)
    subprocess.run(["git", "add", "-A"], **run)
    subprocess.run(["git", "-c", "user.name=b", "-c", "user.email=b@example.invalid", "commit", "-qm", "notes"], **run)
    return root


@contextmanager
def serving(script: Path) -> Iterator[str]:
    """`codeassist serve --script SCRIPT` on a free loopback port; its `/v1` base URL."""
    process = launch("serve", "--port", "0", "--script", str(script))
    try:
        url = listening_url(process)
        if not url:
            raise RuntimeError("codeassist serve did not start")
        yield url
    finally:
        stop(process, raise_if_killed=False)


def arm_fault(base_url: str, fault: dict[str, Any]) -> None:
    """Arm one fault on the running server (`POST /_codeassist/faults`)."""
    root = base_url.rsplit("/v1", 1)[0]
    request = urllib.request.Request(
        f"{root}/_codeassist/faults",
        data=json.dumps(fault).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {API_KEY}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        answer.read()


def settings_for(base_url: str, transport: str, threshold: int | None) -> Settings:
    """The session's settings: `threshold` tokens for compaction, 0 to turn it off, None when the
    client has no such setting."""
    values: dict[str, Any] = {
        "base_url": base_url,
        "model": MODEL,
        "api_key": API_KEY,
        "transport": transport,
        "warmup": False,
        "reasoning_effort": None,
        "idle_timeout_s": 30.0,
    }
    if threshold is not None and "compact_threshold" in Settings.model_fields:
        values["compact_threshold"] = threshold
    return Settings(**values)


async def run_session(
    base_url: str, workspace: Path, *, turns: int, settings: Settings, reconnect_every: int
) -> dict[str, Any]:
    """Play `turns` turns; every request's and turn's figures."""
    session = Session.open(settings, cwd=workspace, record=False)
    requests: list[dict[str, Any]] = []
    turn_s: list[float] = []
    endings: dict[str, int] = {}
    compactions = 0
    try:
        for turn in range(turns):
            if reconnect_every and turn and turn % reconnect_every == 0:
                arm_fault(base_url, {"kind": "close", "after_events": 3, "transport": settings.transport})
            started = time.perf_counter()
            async for event in session.run_turn(f"Turn {turn}: read the next note and tell me what changes."):
                if isinstance(event, ApprovalRequested):
                    session.answer_approval(event.request.call_id, Decision(kind="approve_once"))
                elif isinstance(event, ResponseFinished):
                    stats = event.stats
                    requests.append(
                        {
                            "turn": turn,
                            "bytes_sent": stats.bytes_sent,
                            "incremental": stats.incremental,
                            "reason": stats.reason,
                            "input_tokens": stats.input_tokens,
                            "status": stats.status,
                        }
                    )
                elif getattr(event, "type", "") == "compacted":
                    compactions += 1
                elif isinstance(event, TurnEnded):
                    endings[event.reason] = endings.get(event.reason, 0) + 1
            turn_s.append(time.perf_counter() - started)
    finally:
        await session.close()
    return {"requests": requests, "turn_s": turn_s, "endings": endings, "compactions": compactions}


def _quantile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summarise(run: dict[str, Any]) -> dict[str, Any]:
    """Medians, p95s and totals of one arm's run (the per-turn series kept for plots)."""
    requests = run["requests"]
    sent = [r["bytes_sent"] for r in requests]
    resent = [r["bytes_sent"] for r in requests if not r["incremental"]]
    turn_s = run["turn_s"]
    per_turn_bytes: dict[int, int] = {}
    for r in requests:
        per_turn_bytes[r["turn"]] = per_turn_bytes.get(r["turn"], 0) + r["bytes_sent"]
    return {
        "turns": len(turn_s),
        "requests": len(requests),
        "endings": run["endings"],
        "compactions": run["compactions"],
        "bytes_sent": {
            "median": statistics.median(sent) if sent else 0,
            "p95": _quantile(sent, 0.95),
            "max": max(sent, default=0),
            "total": sum(sent),
        },
        "full_resends": {
            "count": len(resent),
            "median_bytes": statistics.median(resent) if resent else 0,
            "max_bytes": max(resent, default=0),
        },
        "max_input_tokens": max((r["input_tokens"] for r in requests), default=0),
        "turn_s": {
            "median": statistics.median(turn_s) if turn_s else 0.0,
            "p95": _quantile(turn_s, 0.95),
            "first_50_median": statistics.median(turn_s[:50]) if turn_s else 0.0,
            "last_50_median": statistics.median(turn_s[-50:]) if turn_s else 0.0,
            "total": sum(turn_s),
        },
        "series": {
            "bytes_sent_per_turn": [per_turn_bytes.get(turn, 0) for turn in range(len(turn_s))],
            "turn_ms": [round(seconds * 1000, 2) for seconds in turn_s],
        },
    }


def compaction_supported() -> dict[str, bool]:
    """Whether the client has `compact_threshold` and the server's scenarios a context window."""
    from server.scenario import Scenario

    return {
        "client": "compact_threshold" in Settings.model_fields,
        "server": "context_window" in Scenario.model_fields,
    }


async def run_arms(args: argparse.Namespace, root: Path) -> dict[str, Any]:
    workspace = make_workspace(root / "repo", args.output_bytes)
    supported = compaction_supported()
    threshold = int(args.context_window * args.threshold)
    arms: dict[str, Any] = {}
    for transport in args.transports:
        for arm in ("baseline", "compaction"):
            name = f"{transport}/{arm}"
            if arm == "compaction" and not all(supported.values()):
                arms[name] = {"skipped": f"compaction is not available here ({supported})"}
                continue
            window = args.context_window if arm == "compaction" else None
            script = root / f"{transport}-{arm}.json"
            script.write_text(json.dumps(long_scenario(args.turns, context_window=window)))
            with serving(script) as url:
                settings = settings_for(url, transport, threshold if arm == "compaction" else 0)
                run = await run_session(
                    url, workspace, turns=args.turns, settings=settings, reconnect_every=args.reconnect_every
                )
            arms[name] = summarise(run)
    return arms


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--output-bytes", type=int, default=1200, help="size of each tool output")
    parser.add_argument("--context-window", type=int, default=8000, help="the server's window (tokens)")
    parser.add_argument("--threshold", type=float, default=0.8, help="compaction threshold, share of the window")
    parser.add_argument("--reconnect-every", type=int, default=50, help="turns between forced reconnects (0: none)")
    parser.add_argument("--transports", type=lambda text: text.split(","), default=["websocket", "http"])
    parser.add_argument("--out", type=Path, help="write the JSON here (default bench/results/long-session-<date>.json)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="codeassist-long-") as tmp:
        arms = asyncio.run(run_arms(args, Path(tmp)))
    result = {
        "benchmark": "long_session",
        "turns": args.turns,
        "output_bytes": args.output_bytes,
        "context_window": args.context_window,
        "threshold": args.threshold,
        "reconnect_every": args.reconnect_every,
        "transports": args.transports,
        "arms": arms,
        "machine": describe("websockets", "httpx", "uvicorn"),
    }
    text = json.dumps(result, indent=2)
    print(text)
    out = args.out or Path("bench/results") / f"long-session-{datetime.date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
