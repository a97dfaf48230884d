"""Per-token decode cost: the hot path against full pydantic validation (benchmark B7).

The hot path is what the client does for every delta: decode the frame with orjson, read
`type`, take `delta`. The comparison arms decode the same frames with the stdlib `json`, and
validate them fully into a pydantic model of the event (as a client that models every event
does). Budget: at most 5 µs per delta event on the hot path.

    python -m bench.wire_decode [--events N] [--repeats R] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from agent.wire import DELTA_EVENT_TYPES, decode_frame
from agent.wire._base import ServerEventBase
from bench.machine import describe

BUDGET_US = 5.0


class OutputTextDelta(ServerEventBase):
    """`response.output_text.delta` as a wire model, for the full-validation arm only."""

    type: Literal["response.output_text.delta"] = "response.output_text.delta"
    item_id: str
    output_index: int
    content_index: int
    delta: str
    logprobs: list[Any] | None = None
    obfuscation: str | None = None


def sample_frames(count: int) -> list[bytes]:
    """Realistic `response.output_text.delta` frames (as received: bytes of compact JSON)."""
    words = ["def", " count", "_words", "(text", ":", " str", ")", " ->", " int", ":\n   ", " return", " len"]
    return [
        json.dumps(
            {
                "type": "response.output_text.delta",
                "sequence_number": index + 4,
                "item_id": "msg_67c9fdcecf488190bdd9a0409de3a1ec",
                "output_index": 0,
                "content_index": 0,
                "delta": words[index % len(words)],
                "logprobs": [],
                "obfuscation": "a1b2c3d4",
            },
            separators=(",", ":"),
        ).encode()
        for index in range(count)
    ]


def hot_path(frames: list[bytes]) -> int:
    """Decode, dispatch on `type`, take the delta: what the client runs per token."""
    total = 0
    for frame in frames:
        event = decode_frame(frame)
        if event["type"] in DELTA_EVENT_TYPES:
            total += len(event["delta"])
    return total


def stdlib_path(frames: list[bytes]) -> int:
    total = 0
    for frame in frames:
        event = json.loads(frame)
        if event["type"] in DELTA_EVENT_TYPES:
            total += len(event["delta"])
    return total


def full_validation(frames: list[bytes]) -> int:
    total = 0
    for frame in frames:
        event = OutputTextDelta.model_validate_json(frame)
        total += len(event.delta)
    return total


def per_event_us(arm: Callable[[list[bytes]], int], frames: list[bytes], repeats: int) -> float:
    """Best-of-`repeats` time per frame in microseconds."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter_ns()
        arm(frames)
        best = min(best, time.perf_counter_ns() - started)
    return best / len(frames) / 1000


def run(events: int = 20_000, repeats: int = 5) -> dict[str, Any]:
    """Measure every arm on the same frames; ratios are against the hot path."""
    frames = sample_frames(events)
    assert hot_path(frames) == stdlib_path(frames) == full_validation(frames)
    hot = per_event_us(hot_path, frames, repeats)
    stdlib = per_event_us(stdlib_path, frames, repeats)
    full = per_event_us(full_validation, frames, repeats)
    return {
        "benchmark": "wire_decode",
        "events": events,
        "repeats": repeats,
        "us_per_event": {
            "hot_path_orjson": round(hot, 3),
            "stdlib_json": round(stdlib, 3),
            "full_validation": round(full, 3),
        },
        "ratio_to_hot_path": {"stdlib_json": round(stdlib / hot, 2), "full_validation": round(full / hot, 2)},
        "budget_us": BUDGET_US,
        "within_budget": hot <= BUDGET_US,
        "machine": describe("orjson", "pydantic", "pydantic-core"),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.wire_decode", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, help="also write the JSON result to this file")
    args = parser.parse_args(argv)
    result = json.dumps(run(args.events, args.repeats), indent=2)
    print(result)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(result + "\n")


if __name__ == "__main__":
    main()
