"""Figures of `bench.render` from one measurement's raw series, medians over runs, and the targets.

Raw series (from `bench.render_arms`, all on `perf_counter`): each delta's arrival time and the
answer's length once it arrived (`cumulative`), every frame's time with the painted length and
the prompt's length at that frame, every typed key's time and the prompt length it makes.
"""

from __future__ import annotations

import itertools
import math
import statistics
from typing import Any

TARGET_RATES = (1000, 2000)
TARGETS: dict[str, Any] = {
    "rates": list(TARGET_RATES),
    "painted_rate_min_share_of_offered": 0.97,
    "lag_p99_max_ratio_to_log": 1.5,
    "lag_p99_max_ms": 150.0,
    "frames_per_s_min": 30.0,
    "keystroke_p99_max_ms": 50.0,
    "full_speed_max_frame_gap_ms": 150.0,
    "prior_turns_flat_within": 1.3,
    "rss_after_prior_turns_max_mb": 200.0,
}
"""The issue's targets (2-core machine, same run). "Painted rate = offered" is read as at least
97% of the offered rate: the stream's last frame comes one lag after its last delta, so even a
floor that keeps up paints a 10-second stream at slightly less than the offered rate."""


def percentile(values: list[float], share: float) -> float | None:
    """The nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(share * len(ordered)) - 1))]


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


def first_frames(marks: list[tuple[float, int]], frames: list[tuple[float, int]]) -> list[float | None]:
    """For each (time, length) mark: how long until the first frame at or after it whose length
    reaches it (None when no frame does). Both lists are in time order and lengths never shrink."""
    waits: list[float | None] = []
    index = 0
    for at, length in marks:
        while index < len(frames) and (frames[index][0] < at or frames[index][1] < length):
            index += 1
        waits.append(frames[index][0] - at if index < len(frames) else None)
    return waits


def summarise(raw: dict[str, Any], rate: float, expected_deltas: int, expected_chars: int) -> dict[str, Any]:
    """One measurement's figures (see docs/performance.md for what each means)."""
    arrivals: list[float] = raw["arrivals"]
    frames = raw["frames"]
    painted_series = [(frame[0], frame[1]) for frame in frames]
    final_painted = max((frame[1] for frame in frames), default=0)
    figures: dict[str, Any] = {
        "deltas": len(arrivals),
        "deltas_expected": expected_deltas,
        "chars_expected": expected_chars,
        "painted_chars": final_painted,
        "all_painted": bool(arrivals) and final_painted >= expected_chars and len(arrivals) == expected_deltas,
        "text_matches": raw.get("text_matches"),
    }
    if not arrivals:
        return figures
    first = arrivals[0]
    end = raw["last_paint"]  # when the whole answer was painted, or as much of it as ever was
    lags = first_frames(list(zip(arrivals, raw["cumulative"], strict=True)), painted_series)
    shown = [lag for lag in lags if lag is not None]
    figures["deltas_unpainted"] = len(lags) - len(shown)
    figures["lag_p50_ms"] = _ms(percentile(shown, 0.5))
    figures["lag_p99_ms"] = _ms(percentile(shown, 0.99))
    figures["lag_max_ms"] = _ms(max(shown, default=None))
    if rate > 0:
        anchor = min(at - index / rate for index, at in enumerate(arrivals))
        sent = [(anchor + index / rate, length) for index, length in enumerate(raw["cumulative"])]
        from_send = [lag for lag in first_frames(sent, painted_series) if lag is not None]
        figures["lag_from_send_p50_ms"] = _ms(percentile(from_send, 0.5))
        figures["lag_from_send_p99_ms"] = _ms(percentile(from_send, 0.99))
    stream_s = arrivals[-1] - first
    figures["stream_s"] = round(stream_s, 3)
    figures["arrival_rate"] = round((len(arrivals) - 1) / stream_s, 1) if stream_s > 0 else None
    if end is not None and end > first:
        window = end - first
        in_window = [frame[0] for frame in frames if first <= frame[0] <= end]
        times = [first, *in_window]
        figures["painted_s"] = round(window, 3)
        figures["painted_rate"] = round(len(shown) / window, 1)
        figures["painted_chars_per_s"] = round(final_painted / window, 1)
        figures["frames"] = len(in_window)
        figures["frames_per_s"] = round(len(in_window) / window, 1)
        figures["max_frame_gap_ms"] = _ms(max(b - a for a, b in itertools.pairwise(times)))
        if raw.get("cpu_s") is not None:
            figures["cpu_us_per_delta"] = round(raw["cpu_s"] / len(arrivals) * 1e6, 1)
            figures["cpu_percent"] = round(raw["cpu_s"] / window * 100, 1)
        figures["frame_kb_per_s"] = round(raw["frame_bytes"] / 1024 / window, 1)
    if raw["keys"]:
        echoes = first_frames([(at, length) for at, length in raw["keys"]], [(f[0], f[2]) for f in frames])
        echoed = [wait for wait in echoes if wait is not None]
        figures["keys_typed"] = len(echoes)
        figures["keys_unechoed"] = len(echoes) - len(echoed)
        figures["keystroke_p50_ms"] = _ms(percentile(echoed, 0.5))
        figures["keystroke_p99_ms"] = _ms(percentile(echoed, 0.99))
    for key in (
        "rss_before_mb",
        "rss_end_mb",
        "peak_rss_mb",
        "populate_s",
        "dom_nodes_before",
        "dom_nodes",
        "shutdown_error",
    ):
        if key in raw:
            figures[key] = raw[key]
    return figures


def combine(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of every number over the runs; flags hold only if they hold in every run."""
    failed = [run["error"] for run in runs if "error" in run]
    runs = [run for run in runs if "error" not in run]
    if not runs:
        return {"runs": 0, "errors": failed}
    combined: dict[str, Any] = {"runs": len(runs), **({"errors": failed} if failed else {})}
    for key in runs[0]:
        if key == "runs":
            continue
        values = [run.get(key) for run in runs]
        if all(isinstance(value, bool) for value in values):
            combined[key] = all(values)
        elif all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in values):
            combined[key] = round(statistics.median(values), 1)
        else:
            combined[key] = values[0] if len(set(map(repr, values))) == 1 else values
    return combined


def _get(results: dict[str, Any], arm: str, rate: str, key: str) -> float | None:
    value = results.get(arm, {}).get(rate, {}).get(key)
    return value if isinstance(value, (int, float)) else None


def assess(results: dict[str, Any]) -> dict[str, bool | None]:
    """Each target, met or not (None where the run did not measure it). `results[arm][rate]`,
    rates as strings ("0" is full speed); prior-turn arms are named `<arm>@<turns>`."""
    met: dict[str, bool | None] = {}
    t = TARGETS

    def check(name: str, value: float | None, ok: Any) -> None:
        met[name] = None if value is None else bool(ok(value))

    for rate in map(str, TARGET_RATES):
        if rate not in results.get("codeassist", {}):
            continue
        floor = _get(results, "log", rate, "lag_p99_ms")
        lag = _get(results, "codeassist", rate, "lag_p99_ms")
        check(
            f"{rate}:painted_rate",
            _get(results, "codeassist", rate, "painted_rate"),
            lambda v, r=rate: v >= t["painted_rate_min_share_of_offered"] * int(r),
        )
        met[f"{rate}:lag_p99_vs_log"] = (
            None if lag is None or floor is None else lag <= t["lag_p99_max_ratio_to_log"] * floor
        )
        check(f"{rate}:lag_p99_under_max", lag, lambda v: v < t["lag_p99_max_ms"])
        check(f"{rate}:frames_per_s", _get(results, "codeassist", rate, "frames_per_s"), lambda v: v >= 30)
        check(
            f"{rate}:keystroke_p99",
            _get(results, "codeassist", rate, "keystroke_p99_ms"),
            lambda v: v < t["keystroke_p99_max_ms"],
        )
    if "0" in results.get("codeassist", {}):
        check(
            "full_speed:max_frame_gap",
            _get(results, "codeassist", "0", "max_frame_gap_ms"),
            lambda v: v <= t["full_speed_max_frame_gap_ms"],
        )
    prior_arms = [arm for arm in results if arm.startswith("codeassist@")]
    for arm in prior_arms:
        within = t["prior_turns_flat_within"]
        for rate in results[arm]:
            for key, higher_is_worse in (
                ("lag_p99_ms", True),
                ("keystroke_p99_ms", True),
                ("max_frame_gap_ms", True),
                ("frames_per_s", False),
                ("painted_rate", False),
            ):
                before, after = _get(results, "codeassist", rate, key), _get(results, arm, rate, key)
                if before is None or after is None:
                    continue
                ratio = after / before if higher_is_worse else before / after if after else float("inf")
                met[f"{arm}:{rate}:{key}_flat"] = ratio <= within
        rss = [_get(results, arm, rate, "rss_before_mb") for rate in results[arm]]
        measured = [value for value in rss if value is not None]
        check(
            f"{arm}:rss_after_prior_turns", max(measured, default=None), lambda v: v < t["rss_after_prior_turns_max_mb"]
        )
    return met
