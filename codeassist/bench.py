"""`codeassist bench`: HTTP vs WebSocket on your own endpoint, with codeassist's own transports.

The same small coding task is run through each arm: HTTP with the whole context resent every
request (`store: false`), HTTP chained with `store: true` + `previous_response_id`, and one
persistent WebSocket sending only increments. The model's real answers drive the conversation;
tool calls are never executed: each gets a canned, realistic output (`codeassist.bench_task`), and
when the model answers without calling a tool it gets a scripted nudge, so every arm makes
`--turns` requests. The result is a side-by-side table and a JSON file (default
`$XDG_DATA_HOME/codeassist/bench/`).

A non-local endpoint costs money, so the command prints its token estimate first and refuses to
run without `--yes`; a local one (`codeassist serve`, anything on loopback) needs no flag.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent import __version__
from agent.config import Settings
from agent.conversation import Conversation, RequestSettings
from agent.model_client import FellBack, ModelClient, ModelError, ResponseResult
from agent.paths import bench_dir
from agent.session import reasoning_options
from agent.transport.factory import open_transports
from agent.wire import CustomToolCall, FunctionCall, FunctionCallOutput, user_message
from codeassist.bench_task import NUDGES, SYSTEM_PROMPT, TASK_PROMPT, TOOL_NAMES, canned_output, tool_specs
from codeassist.options import add_endpoint_arguments, endpoint_settings

ARMS = ("http_full", "http_chained", "websocket")
LABELS = {"http_full": "HTTP full resend", "http_chained": "HTTP chained", "websocket": "WebSocket"}


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `codeassist bench`."""
    add_endpoint_arguments(parser, transport=False, approval=False)
    parser.add_argument("--turns", type=int, default=6, metavar="N", help="model requests per arm (default 6)")
    parser.add_argument(
        "--reps", type=int, default=1, metavar="R", help="runs of each arm, in alternating order (default 1)"
    )
    parser.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated subset of {', '.join(ARMS)}")
    parser.add_argument(
        "--no-store",
        action="store_true",
        help="skip the HTTP chained arm (for endpoints or organisations without store)",
    )
    parser.add_argument(
        "--max-output-tokens",
        type=int,
        default=800,
        metavar="TOKENS",
        help="cap per response, reasoning included (default 800)",
    )
    parser.add_argument("--out", type=Path, metavar="FILE", help="where to save the JSON result")
    parser.add_argument("--yes", action="store_true", help="run against a non-local (possibly paid) endpoint")


def bench_root(environ: Mapping[str, str] | None = None) -> Path:
    """Where results are saved by default: `agent.paths.bench_dir()`."""
    return bench_dir(environ)


def _tokens(text: str) -> int:
    return max(1, len(text.encode()) // 4)


def estimate_tokens(turns: int, runs: int, max_output_tokens: int) -> dict[str, int]:
    """Upper-bound token estimate for `runs` arm runs of `turns` requests each.

    Every request is billed for its whole context (instructions, tools and history), whether it
    was resent or chained; chained and WebSocket requests may get part of it at the cached rate.
    One token is counted per four bytes, and every response is assumed to use its whole cap.
    """
    prefix = _tokens(SYSTEM_PROMPT) + _tokens(json.dumps(tool_specs())) + _tokens(TASK_PROMPT)
    tool_output = statistics.fmean(_tokens(canned_output(name, i)) for name in TOOL_NAMES for i in range(3))
    added = round(tool_output) + max_output_tokens
    per_run = sum(prefix + k * added for k in range(turns))
    return {
        "requests": turns * runs,
        "input_tokens": per_run * runs,
        "output_tokens_max": turns * max_output_tokens * runs,
    }


def _transports(settings: Settings, arm: str) -> ModelClient:
    socket, http = open_transports(settings, websocket=arm == "websocket")
    return ModelClient(websocket=socket, http=http, max_retries=settings.max_retries)


async def run_arm(arm: str, settings: Settings, *, turns: int, max_output_tokens: int, run_id: str) -> dict[str, Any]:
    """One arm: `turns` requests with canned tool outputs; per-request figures, or the error."""
    conversation = Conversation(
        RequestSettings.build(
            model=settings.model,
            instructions=SYSTEM_PROMPT,
            tools=tool_specs(),
            reasoning=reasoning_options(settings),
            store=arm == "http_chained",
            prompt_cache_key=f"codeassist-bench-{run_id}-{arm}",
            max_output_tokens=max_output_tokens,
        )
    )
    conversation.add(user_message(TASK_PROMPT))
    client = _transports(settings, arm)
    records: list[dict[str, Any]] = []
    result: dict[str, Any] = {"arm": arm, "requests": records, "error": None, "fell_back": None}
    calls_answered = nudges = 0
    started = time.monotonic()
    try:
        for turn in range(turns):
            record, calls = await _one_request(client, conversation, turn, result)
            records.append(record)
            if turn == turns - 1:
                break
            for call in calls:
                conversation.add(
                    FunctionCallOutput(call_id=call.call_id, output=canned_output(call.name, calls_answered))
                )
                calls_answered += 1
            if not calls:
                conversation.add(user_message(NUDGES[nudges % len(NUDGES)]))
                nudges += 1
    except ModelError as exc:
        result["error"] = str(exc)
    finally:
        await client.close()
    result.update(total_s=time.monotonic() - started, tool_calls=calls_answered, nudges=nudges)
    return result


async def _one_request(
    client: ModelClient, conversation: Conversation, turn: int, result: dict[str, Any]
) -> tuple[dict[str, Any], list[FunctionCall | CustomToolCall]]:
    """One response; its figures come from the client's `ResponseResult` (as the app's do)."""
    outcome: ResponseResult | None = None
    async for item in client.respond(conversation, turn_start=turn == 0):
        if isinstance(item, FellBack):
            result["fell_back"] = item.reason
        elif isinstance(item, ResponseResult):
            outcome = item
    assert outcome is not None
    if outcome.status not in ("completed", "incomplete") or not outcome.response_id:
        raise ModelError(f"the response {outcome.status}: {outcome.error_detail}")
    stats = outcome.stats
    connect_s = stats.connect_s or 0.0
    usage = outcome.usage
    return {
        "turn": turn,
        "status": outcome.status,
        "incremental": stats.incremental,
        "reason": stats.reason,
        # From the start of the attempt that counted: connection setup (if any) + send → terminal.
        "turn_s": connect_s + (stats.total_s or 0.0),
        "ttfe_s": connect_s + stats.created_s if stats.created_s is not None else None,
        "ttft_s": connect_s + stats.first_token_s if stats.first_token_s is not None else None,
        "connect_s": stats.connect_s,
        "bytes_sent": stats.bytes_sent,
        "bytes_received": stats.bytes_received,
        "input_tokens": usage.input_tokens if usage else 0,
        "cached_tokens": usage.cached_tokens if usage else 0,
        "output_tokens": usage.output_tokens if usage else 0,
        "retries": outcome.retries,
    }, outcome.calls


def _spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "p95": None}
    ordered = sorted(values)
    return {"median": statistics.median(ordered), "p95": ordered[max(0, -(-len(ordered) * 95 // 100) - 1)]}


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Median/p95 turn time and time to first token, totals of bytes and tokens, per arm."""
    requests = [r for run in runs for r in run["requests"]]
    input_tokens = sum(r["input_tokens"] for r in requests)
    cached = sum(r["cached_tokens"] for r in requests)
    return {
        "runs": len(runs),
        "requests": len(requests),
        "turn_s": _spread([r["turn_s"] for r in requests]),
        "ttft_s": _spread([r["ttft_s"] for r in requests if r["ttft_s"] is not None]),
        "bytes_sent": sum(r["bytes_sent"] for r in requests),
        "bytes_received": sum(r["bytes_received"] for r in requests),
        "input_tokens": input_tokens,
        "cached_tokens": cached,
        "cached_ratio": cached / input_tokens if input_tokens else 0.0,
        "output_tokens": sum(r["output_tokens"] for r in requests),
        "incremental_requests": sum(r["incremental"] for r in requests),
        "errors": [run["error"] for run in runs if run["error"]],
        "fell_back": next((run["fell_back"] for run in runs if run["fell_back"]), None),
    }


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:,.0f}"


def render_table(result: dict[str, Any]) -> str:
    """The side-by-side comparison as plain text."""
    arms = [name for name in ARMS if name in result["arms"]]
    summaries = {name: result["arms"][name]["summary"] for name in arms}
    base = summaries.get("http_full", {}).get("turn_s", {}).get("median")
    rows: list[tuple[str, list[str]]] = [
        ("requests (incremental)", [f"{s['requests']} ({s['incremental_requests']})" for s in summaries.values()]),
        (
            "turn time median / p95 ms",
            [f"{_ms(s['turn_s']['median'])} / {_ms(s['turn_s']['p95'])}" for s in summaries.values()],
        ),
        (
            "first token median / p95 ms",
            [f"{_ms(s['ttft_s']['median'])} / {_ms(s['ttft_s']['p95'])}" for s in summaries.values()],
        ),
        ("bytes sent", [f"{s['bytes_sent'] / 1024:,.1f} KiB" for s in summaries.values()]),
        ("cached tokens", [f"{s['cached_tokens']:,} ({s['cached_ratio']:.0%})" for s in summaries.values()]),
        ("output tokens", [f"{s['output_tokens']:,}" for s in summaries.values()]),
    ]
    if base:
        rows.append(
            (
                "turn time vs full resend",
                [f"{s['turn_s']['median'] / base:.2f}x" if s["turn_s"]["median"] else "-" for s in summaries.values()],
            )
        )
    headers = [LABELS[name] for name in arms]
    width = max(len(label) for label, _ in rows)
    columns = [max(len(h), *(len(values[i]) for _, values in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join([" " * width, *(h.rjust(c) for h, c in zip(headers, columns, strict=True))])]
    lines += [
        "  ".join([label.ljust(width), *(v.rjust(c) for v, c in zip(values, columns, strict=True))])
        for label, values in rows
    ]
    for name, summary in summaries.items():
        for error in summary["errors"]:
            lines.append(f"{LABELS[name]}: {error}")
        if summary["fell_back"]:
            lines.append(f"{LABELS[name]}: fell back to HTTP ({summary['fell_back']})")
        if name == "http_chained" and summary["requests"] > 1 and not summary["incremental_requests"]:
            lines.append("HTTP chained: the endpoint did not keep responses (store); every request was a full resend")
    return "\n".join(lines)


async def run_comparison(
    settings: Settings, arms: list[str], *, turns: int, reps: int, max_output_tokens: int
) -> dict[str, Any]:
    """Run every arm `reps` times (ABBA order) and return the JSON-able result."""
    run_id = datetime.now().strftime("%Y%m%d-%H%M%S")
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in arms}
    for rep in range(reps):
        for name in arms if rep % 2 == 0 else list(reversed(arms)):
            runs[name].append(
                await run_arm(name, settings, turns=turns, max_output_tokens=max_output_tokens, run_id=run_id)
            )
    return {
        "benchmark": "codeassist-bench",
        "version": __version__,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "endpoint": settings.base_url,
        "local": settings.is_local_endpoint,
        "model": settings.model,
        "turns": turns,
        "reps": reps,
        "max_output_tokens": max_output_tokens,
        "arms": {name: {"summary": summarise(arm_runs), "runs": arm_runs} for name, arm_runs in runs.items()},
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cores": os.cpu_count()},
    }


def run_bench(args: argparse.Namespace) -> int:
    """Run `codeassist bench`; returns the exit code (0 done, 1 an arm failed, 2 refused or bad input)."""
    arms = [name.strip() for name in args.arms.split(",") if name.strip()]
    if args.no_store:
        arms = [name for name in arms if name != "http_chained"]
    unknown = [name for name in arms if name not in ARMS]
    if unknown or not arms or args.turns < 1 or args.reps < 1 or args.max_output_tokens < 1:
        print(
            f"codeassist bench: choose arms from {', '.join(ARMS)}, and positive --turns, --reps and "
            "--max-output-tokens",
            file=sys.stderr,
        )
        return 2
    settings = endpoint_settings(args, "bench")
    if settings is None:
        return 2
    estimate = estimate_tokens(args.turns, len(arms) * args.reps, args.max_output_tokens)
    print(
        f"codeassist bench: {len(arms)} arms x {args.turns} requests x {args.reps} run(s) against "
        f"{settings.base_url} (model {settings.model}): about {estimate['input_tokens']:,} input tokens and at "
        f"most {estimate['output_tokens_max']:,} output tokens (reasoning included).",
        flush=True,
    )
    if not settings.is_local_endpoint and not args.yes:
        print(
            "codeassist bench: this endpoint is not local and may bill you for those tokens; "
            "re-run with --yes to go ahead.",
            file=sys.stderr,
        )
        return 2
    arms = [name for name in ARMS if name in arms]
    result = asyncio.run(
        run_comparison(settings, arms, turns=args.turns, reps=args.reps, max_output_tokens=args.max_output_tokens)
    )
    result["estimate"] = estimate
    print(render_table(result))
    out = args.out or bench_root() / f"bench-{datetime.now():%Y%m%d-%H%M%S}.json"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=1) + "\n")
    except OSError as exc:
        print(f"codeassist bench: cannot save {out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    print(f"saved: {out}")
    return 1 if any(arm["summary"]["errors"] for arm in result["arms"].values()) else 0
