"""Summaries for `bench.transport`: per-arm figures, ratios between arms, and the claims checked.

Everything here is pure arithmetic on `RolloutRecord`s, so it is tested without a server.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

from bench.arms import RolloutRecord


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (`q` in 0..100) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))]


def spread(values: list[float], scale: float = 1.0, digits: int = 2) -> dict[str, float | int]:
    """Median and p95 of `values` times `scale`, and how many there were."""
    if not values:
        return {"median": float("nan"), "p95": float("nan"), "n": 0}
    return {
        "median": round(statistics.median(values) * scale, digits),
        "p95": round(percentile(values, 95) * scale, digits),
        "n": len(values),
    }


def per_turn_median(rollouts: list[RolloutRecord], field: str, scale: float = 1.0) -> list[float]:
    """For each turn index, the median of `field` across rollouts."""
    length = min(len(r.turns) for r in rollouts)
    return [round(statistics.median(getattr(r.turns[i], field) for r in rollouts) * scale, 3) for i in range(length)]


def summarise_arm(rollouts: list[RolloutRecord]) -> dict[str, Any]:
    """The figures of one arm under one network condition."""
    turns = [t for r in rollouts for t in r.turns]
    later = [t for t in turns if t.turn > 0]
    return {
        "rollouts": len(rollouts),
        "turns_per_rollout": len(rollouts[0].turns),
        "end_to_end_s": spread([r.end_to_end_s for r in rollouts], digits=3),
        "model_s": spread([r.model_s for r in rollouts], digits=3),
        "tool_s": round(statistics.median(r.tool_s for r in rollouts), 3),
        "turn_ms": spread([t.turn_s for t in turns], 1000),
        "turn_ms_after_first": spread([t.turn_s for t in later], 1000),
        "ttfe_ms": spread([t.ttfe_s for t in turns], 1000),
        "ttft_ms": spread([t.ttft_s for t in turns if t.ttft_s is not None], 1000),
        "cpu_ms_per_turn": spread([t.cpu_s for t in turns], 1000, 3),
        "bytes_sent_per_rollout": round(statistics.median(sum(t.bytes_sent for t in r.turns) for r in rollouts)),
        "bytes_received_per_rollout": round(
            statistics.median(sum(t.bytes_received for t in r.turns) for r in rollouts)
        ),
        "wire_sent_per_rollout": round(statistics.median(sum(t.wire_sent for t in r.turns) for r in rollouts)),
        "wire_received_per_rollout": round(statistics.median(sum(t.wire_received for t in r.turns) for r in rollouts)),
        "connections_per_rollout": statistics.median(sum(t.connections for t in r.turns) for r in rollouts),
        "input_tokens_per_rollout": round(statistics.median(sum(t.input_tokens for t in r.turns) for r in rollouts)),
        "cached_tokens_per_rollout": round(statistics.median(sum(t.cached_tokens for t in r.turns) for r in rollouts)),
        "incremental_turns": sum(t.incremental for t in rollouts[0].turns),
        "per_turn": {
            "bytes_sent": per_turn_median(rollouts, "bytes_sent"),
            "turn_ms": per_turn_median(rollouts, "turn_s", 1000),
            "ttfe_ms": per_turn_median(rollouts, "ttfe_s", 1000),
            "connections": per_turn_median(rollouts, "connections"),
        },
    }


def growth(per_turn_bytes: list[float]) -> dict[str, Any]:
    """How bytes sent grow over a rollout, from the per-turn series.

    A per-turn size that does not depend on the turn makes the running total linear; one that
    grows by a fixed amount each turn makes it quadratic. The least-squares slope of the per-turn
    series tells which: `quadratic` when the last turn's fitted size is at least twice the first's.
    """
    n = len(per_turn_bytes)
    if n < 2:
        return {"slope_bytes_per_turn": 0.0, "total": sum(per_turn_bytes), "kind": "linear"}
    mean_x, mean_y = (n - 1) / 2, statistics.fmean(per_turn_bytes)
    slope = sum((i - mean_x) * (y - mean_y) for i, y in enumerate(per_turn_bytes)) / sum(
        (i - mean_x) ** 2 for i in range(n)
    )
    first = mean_y - slope * mean_x
    last = first + slope * (n - 1)
    return {
        "slope_bytes_per_turn": round(slope, 1),
        "first_turn_fit": round(first),
        "last_turn_fit": round(last),
        "total": round(sum(per_turn_bytes)),
        "kind": "quadratic" if last >= 2 * max(first, 1) else "linear",
    }


def round_trips_saved(slow: dict[str, Any], fast: dict[str, Any], rtt_ms: float) -> dict[str, Any] | None:
    """Per turn after the first: (median turn time of `slow` − of `fast`) / RTT."""
    if rtt_ms <= 0:
        return None
    saved = [
        (a - b) / rtt_ms for a, b in zip(slow["per_turn"]["turn_ms"][1:], fast["per_turn"]["turn_ms"][1:], strict=False)
    ]
    if not saved:
        return None
    return {
        "median": round(statistics.median(saved), 2),
        "min": round(min(saved), 2),
        "max": round(max(saved), 2),
        "turns_with_at_least_one": sum(s >= 1 for s in saved),
        "turns": len(saved),
    }


def compare(arms: dict[str, dict[str, Any]], rtt_ms: float) -> dict[str, Any]:
    """Ratios of the WebSocket arm against each HTTP arm (below 1: WebSocket is smaller or faster)."""
    ws = arms.get("websocket")
    result: dict[str, Any] = {}
    if ws is None:
        return result
    for other in ("http_full", "http_chained", "http_full_codeassist"):
        base = arms.get(other)
        if base is None:
            continue
        e2e = ws["end_to_end_s"]["median"] / base["end_to_end_s"]["median"]
        model = ws["model_s"]["median"] / base["model_s"]["median"]
        result[f"websocket_vs_{other}"] = {
            "end_to_end_ratio": round(e2e, 3),
            "end_to_end_faster_pct": round((1 - e2e) * 100, 1),
            "model_time_ratio": round(model, 3),
            "model_time_faster_pct": round((1 - model) * 100, 1),
            "turn_ms_after_first_ratio": round(
                ws["turn_ms_after_first"]["median"] / base["turn_ms_after_first"]["median"], 3
            ),
            "bytes_sent_ratio": round(ws["bytes_sent_per_rollout"] / base["bytes_sent_per_rollout"], 4),
            "wire_sent_ratio": round(ws["wire_sent_per_rollout"] / max(base["wire_sent_per_rollout"], 1), 4),
            "cpu_per_turn_ratio": round(ws["cpu_ms_per_turn"]["median"] / base["cpu_ms_per_turn"]["median"], 3),
            "round_trips_saved_per_turn": round_trips_saved(base, ws, rtt_ms),
        }
    return result


def summarise_reconnects(samples: list[dict[str, Any]], rtt_ms: float) -> dict[str, Any]:
    """B11 for one RTT: time from the drop to the next usable response, and the integrity checks."""
    if not samples:
        return {"rtt_ms": rtt_ms, "samples": 0}

    def pick(key: str) -> list[float]:
        return [s[key] for s in samples if s.get(key) is not None]

    return {
        "rtt_ms": rtt_ms,
        "samples": len(samples),
        "drop_to_first_event_ms": spread(pick("drop_to_first_event_ms")),
        "drop_to_completed_ms": spread(pick("drop_to_completed_ms")),
        "backoff_ms": spread(pick("backoff_ms")),
        "reconnect_ms": spread(pick("reconnect_ms")),
        "without_backoff_ms": spread(pick("without_backoff_ms")),
        "three_rtt_ms": 3 * rtt_ms,
        "normal_turn_ms": spread(pick("normal_turn_ms")),
        "resend_bytes": statistics.median(pick("resend_bytes")),
        "incremental_bytes": statistics.median(pick("incremental_bytes")),
        "no_event_lost_or_duplicated": all(s["integrity_ok"] for s in samples),
        "integrity": [s["integrity"] for s in samples],
    }


def claims(conditions: list[dict[str, Any]], target_rtt_ms: float = 80.0) -> dict[str, Any]:
    """The issue's three claims, as measured."""
    first = conditions[0]["arms"]
    growth_by_arm = {name: growth(arm["per_turn"]["bytes_sent"]) for name, arm in first.items()}
    saved = {}
    speedup = {}
    for condition in conditions:
        versus = condition["comparison"].get("websocket_vs_http_full") or {}
        key = f"{condition['rtt_ms']:g}ms"
        if versus:
            speedup[key] = {
                "end_to_end_pct": versus["end_to_end_faster_pct"],
                "model_time_pct": versus["model_time_faster_pct"],
            }
            if versus.get("round_trips_saved_per_turn"):
                saved[key] = versus["round_trips_saved_per_turn"]
    target = next((c for c in conditions if c["rtt_ms"] == target_rtt_ms and not c.get("bandwidth")), None)
    target_speedup = (target or {}).get("comparison", {}).get("websocket_vs_http_full", {}).get("end_to_end_faster_pct")
    target_saved = saved.get(f"{target_rtt_ms:g}ms")
    return {
        "bytes_sent_growth": growth_by_arm,
        "websocket_linear_full_resend_quadratic": growth_by_arm.get("websocket", {}).get("kind") == "linear"
        and growth_by_arm.get("http_full", {}).get("kind") == "quadratic",
        "round_trips_saved_vs_http_full": saved,
        "saves_one_round_trip_every_turn_after_first": bool(target_saved)
        and target_saved["turns_with_at_least_one"] == target_saved["turns"],
        "speedup_vs_http_full": speedup,
        f"end_to_end_at_least_15pct_faster_at_{target_rtt_ms:g}ms": target_speedup is not None and target_speedup >= 15,
    }


def markdown(result: dict[str, Any]) -> str:
    """The headline figures of a result as a Markdown table (for the README)."""
    lines = [
        "| RTT | arm | end to end, median (p95) | minus tool time | turn after the first, median (p95) "
        "| first event | client CPU / turn | sent / rollout | TCP connections |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for condition in result["conditions"]:
        for name, arm in condition["arms"].items():
            lines.append(
                f"| {condition['rtt_ms']:g} ms | {name} | {arm['end_to_end_s']['median']:.2f} s "
                f"({arm['end_to_end_s']['p95']:.2f}) | {arm['model_s']['median']:.2f} s "
                f"| {arm['turn_ms_after_first']['median']:.0f} ms ({arm['turn_ms_after_first']['p95']:.0f}) "
                f"| {arm['ttfe_ms']['median']:.0f} ms | {arm['cpu_ms_per_turn']['median']:.1f} ms "
                f"| {arm['bytes_sent_per_rollout'] / 1024:,.0f} KiB | {arm['connections_per_rollout']:g} |"
            )
    return "\n".join(lines)
