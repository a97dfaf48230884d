"""The live pane under a fast stream: one long Markdown answer painted at 100 to 5,000 tok/s.

`codeassist serve` (scripted engine, loopback, another process; one server per rate) streams the
same generated answer (about 115 KB of Markdown with code fences, lists and tables, about 20,500
deltas; `bench.render_data`) at each offered rate, `tokens_per_second` 0 being full speed. Four
arms read it, interleaved (ABBA), each measurement in a fresh process (`bench.render_arms`):

- `codeassist`: the real `CodeassistApp` with a live WebSocket session; the prompt is typed and
  sent with Pilot, the answer streams into the transcript, and keys are typed into the prompt at
  a steady rate during the stream;
- `widget`: codeassist's answer widget (`AssistantMessage`, `append_text` per delta, `finish()`)
  alone in a bare app, fed by codeassist's WebSocket transport;
- `markdown_stream`: Textual's `Markdown` fed through `Markdown.get_stream` (`MarkdownStream`);
- `log`: a bare Textual `Log`, one `write` per delta: the floor.

Plus `codeassist@N` and `log@N`: the same after the app already holds N turns (default 200:
about 1 MB of text and 500 tool cards, routed through the app's `EventRouter` as a live session
draws them; the `Log` gets the same text). Streams slower than 1,000 tok/s are cut to
`--max-stream-s` seconds of deltas (the whole answer at 1,000 tok/s, above, and at full speed). docs/performance.md says what each figure
means and how frames and paints are detected.

    python -m bench.render [--rates 100,500,1000,2000,5000,0] [--arms A,B] [--runs N]
                           [--prior-turns 200] [--prior-rates 1000,2000,0] [--quick] [--out FILE]

The JSON is printed; with `--out` it is also written there (`make bench` writes
bench/results/render-<date>.json).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.machine import describe
from bench.render_arms import ARMS, SIZE
from bench.render_data import DOCUMENT_CHARS, deltas, document, stream_prefix
from bench.render_stats import TARGETS, assess, combine, summarise
from bench.serve_process import listening_url

ROOT = Path(__file__).resolve().parent.parent
RATES = (100, 500, 1000, 2000, 5000, 0)
PRIOR_ARMS = ("codeassist", "log")
KEYS_PER_SECOND = 10.0
UNCAPPED_RATE = 1000
"""Streams offered at this rate or faster (and at full speed) carry the whole answer."""
QUICK_CHARS = 3_000


@contextmanager
def served(text: str, rate: float, folder: Path) -> Iterator[str]:
    """`codeassist serve` in another process, streaming `text` at `rate` deltas a second for any
    request; yields its base URL."""
    script = folder / f"render-{rate:g}.json"
    script.write_text(
        json.dumps(
            {
                "name": "render",
                "model": "bench-render",
                "tokens_per_second": rate,
                "turns": [{"output": [{"type": "message", "text": text}]}],
                "on_exhausted": "message",
                "exhausted_text": text,
            }
        )
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "codeassist", "serve", "--script", str(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        url = listening_url(process)
        if not url:
            raise RuntimeError(f"codeassist serve did not start: {process.stderr.read()}")  # type: ignore[union-attr]
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def child_env(scratch: Path) -> dict[str, str]:
    """Empty config and data folders, no key or endpoint from the caller's environment."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CODEASSIST_", "OPENAI_", "TEXTUAL_")) and key not in ("PYTHONSTARTUP",)
    }
    env.update(
        XDG_CONFIG_HOME=str(scratch / "config"),
        XDG_DATA_HOME=str(scratch / "data"),
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    )
    return env


def measure(spec: dict[str, Any], env: dict[str, str], timeout: float) -> dict[str, Any]:
    """One arm in a fresh process (`bench.render_arms`): its raw series, or `{"error": why}`."""
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.render_arms"],
            cwd=ROOT,
            env=env,
            input=json.dumps(spec),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"did not finish within {timeout:.0f} s"}
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        return {"error": lines[-1] if lines else f"exit status {done.returncode}", "stderr": done.stderr[-4000:]}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def plan(arms: list[str], prior_turns: int, prior_rates: list[float], rate: float) -> list[tuple[str, int]]:
    """The measurements at one rate: every arm, then the prior-turn arms where asked."""
    chosen = [(arm, 0) for arm in arms]
    if prior_turns and rate in prior_rates:
        chosen += [(arm, prior_turns) for arm in PRIOR_ARMS if arm in arms]
    return chosen


def run(
    rates: list[float],
    arms: list[str],
    runs: int = 1,
    prior_turns: int = 200,
    prior_rates: list[float] | None = None,
    chars: int = DOCUMENT_CHARS,
    max_stream_s: float = 10.0,
    grace_s: float = 45.0,
    keys_per_second: float = KEYS_PER_SECOND,
    log: Any = None,
) -> dict[str, Any]:
    """Every arm at every rate, `runs` times, interleaved; figures, medians, targets."""
    prior_rates = [1000.0, 2000.0, 0.0] if prior_rates is None else prior_rates
    full = document(chars)
    raw_runs: dict[str, dict[str, list[dict[str, Any]]]] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="codeassist-render-") as folder:
        scratch = Path(folder)
        env = child_env(scratch)
        for rate in rates:
            capped = 0 < rate < UNCAPPED_RATE
            text = stream_prefix(full, int(rate * max_stream_s) if capped else None)
            pieces = deltas(text)
            with served(text, rate, scratch) as base_url:
                order = plan(arms, prior_turns, prior_rates, rate)
                for repetition in range(runs):
                    for arm, turns in order if repetition % 2 == 0 else list(reversed(order)):
                        spec = {
                            "arm": arm,
                            "rate": rate,
                            "base_url": base_url,
                            "prior_turns": turns,
                            "expected_chars": len(text),
                            "expected_text": text,
                            "keys_per_second": keys_per_second if arm == "codeassist" else 0,
                            "grace_s": grace_s,
                        }
                        stream_s = len(pieces) / rate if rate > 0 else 30.0
                        raw = measure(spec, env, timeout=stream_s + grace_s + 60 + turns * 1.0)
                        figures = (
                            {"error": raw["error"]} if "error" in raw else summarise(raw, rate, len(pieces), len(text))
                        )
                        name = f"{arm}@{turns}" if turns else arm
                        raw_runs.setdefault(name, {}).setdefault(f"{rate:g}", []).append(figures)
                        if log is not None:
                            log(
                                f"{name} at {rate:g} tok/s: painted {figures.get('painted_rate')} tok/s, "
                                f"lag p99 {figures.get('lag_p99_ms')} ms, {figures.get('frames_per_s')} frames/s"
                            )
    results = {arm: {rate: combine(samples) for rate, samples in by_rate.items()} for arm, by_rate in raw_runs.items()}
    return {
        "benchmark": "render",
        "offered_rates": [rate for rate in rates],
        "rates_note": "tok/s = deltas a second as codeassist serve paces them; 0 = full speed",
        "arms": arms,
        "runs": runs,
        "prior_turns": prior_turns,
        "prior_rates": prior_rates,
        "document": {"chars": len(full), "deltas": len(deltas(full)), "max_stream_s": max_stream_s},
        "terminal_size": list(SIZE),
        "keys_per_second": keys_per_second,
        "results": results,
        "runs_detail": raw_runs,
        "targets": TARGETS,
        "met": assess(results),
        "wall_s": round(time.perf_counter() - started, 1),
        "machine": describe("textual", "rich", "markdown-it-py", "websockets"),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.render", description=__doc__.splitlines()[0])
    parser.add_argument("--rates", help="comma-separated offered tok/s, 0 = full speed (default 100,...,5000,0)")
    parser.add_argument("--arms", default=",".join(ARMS), help=f"comma-separated subset of {','.join(ARMS)}")
    parser.add_argument("--runs", type=int, default=1, help="measurements per arm and rate (default 1; medians)")
    parser.add_argument("--prior-turns", type=int, help="turns the app holds before the prior-turn arms (200)")
    parser.add_argument("--prior-rates", help="rates of the prior-turn arms (default 1000,2000,0)")
    parser.add_argument("--chars", type=int, help=f"answer size in characters (default {DOCUMENT_CHARS})")
    parser.add_argument(
        "--max-stream-s", type=float, default=10.0, help="cut streams slower than 1,000 tok/s to this (default 10)"
    )
    parser.add_argument("--quick", action="store_true", help="a few seconds: a small answer, one rate, 3 prior turns")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)
    arms = [arm.strip() for arm in args.arms.split(",") if arm.strip()]
    unknown = sorted(set(arms) - set(ARMS))
    if unknown or not arms:
        parser.error(f"unknown arms {unknown}; choose from {', '.join(ARMS)}")

    def floats(text: str | None, default: list[float]) -> list[float]:
        return default if text is None else [float(value) for value in text.split(",") if value.strip()]

    quick = args.quick
    rates = floats(args.rates, [2000.0] if quick else [float(rate) for rate in RATES])
    result = run(
        rates,
        arms,
        runs=max(1, args.runs),
        prior_turns=args.prior_turns if args.prior_turns is not None else (3 if quick else 200),
        prior_rates=floats(args.prior_rates, rates if quick else [1000.0, 2000.0, 0.0]),
        chars=args.chars or (QUICK_CHARS if quick else DOCUMENT_CHARS),
        max_stream_s=args.max_stream_s,
        grace_s=20.0 if quick else 45.0,
        log=lambda line: print(line, file=sys.stderr, flush=True),
    )
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
