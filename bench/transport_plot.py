"""The plot of a `bench.transport` result (matplotlib, from the `bench` extra; optional)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

COLOURS = {"http_full": "#d62728", "http_chained": "#ff7f0e", "websocket": "#1f77b4", "http_full_codeassist": "#9467bd"}
LABELS = {
    "http_full": "HTTP full resend (SDK)",
    "http_chained": "HTTP chained (SDK)",
    "websocket": "WebSocket (codeassist)",
    "http_full_codeassist": "HTTP full resend (codeassist)",
}


def plot(result: dict[str, Any], path: Path) -> Path | None:
    """Write a three-panel PNG; returns None when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    conditions = [c for c in result["conditions"] if not c.get("bandwidth")] or result["conditions"]
    slowest = max(conditions, key=lambda c: c["rtt_ms"])
    figure, (bytes_axis, turn_axis, e2e_axis) = plt.subplots(1, 3, figsize=(13, 3.8))

    for name, arm in slowest["arms"].items():
        sent = arm["per_turn"]["bytes_sent"]
        running = [sum(sent[: i + 1]) / 1024 for i in range(len(sent))]
        bytes_axis.plot(range(1, len(running) + 1), running, color=COLOURS[name], label=LABELS[name])
    bytes_axis.set(title="Bytes sent, cumulative", xlabel="turn", ylabel="KiB")
    bytes_axis.legend(fontsize=8)

    for name, arm in slowest["arms"].items():
        times = arm["per_turn"]["turn_ms"]
        turn_axis.plot(range(1, len(times) + 1), times, color=COLOURS[name], marker=".", linewidth=1)
    turn_axis.set(title=f"Turn time at {slowest['rtt_ms']:g} ms RTT (median)", xlabel="turn", ylabel="ms")

    names = list(conditions[0]["arms"])
    width = 0.8 / len(names)
    for offset, name in enumerate(names):
        xs = [i + (offset - (len(names) - 1) / 2) * width for i in range(len(conditions))]
        ys = [c["arms"][name]["model_s"]["median"] for c in conditions]
        e2e_axis.bar(xs, ys, width, color=COLOURS[name], label=LABELS[name])
    e2e_axis.set_xticks(range(len(conditions)), [f"{c['rtt_ms']:g} ms" for c in conditions])
    e2e_axis.set(title="Rollout time minus tool time (median)", xlabel="RTT", ylabel="s")

    date = result["machine"]["date"][:10]
    figure.suptitle(
        f"codeassist transport benchmark, {date}: {result['config']['tool_calls']} tool calls, "
        f"{result['machine']['cores']} cores",
        fontsize=10,
    )
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=72)
    plt.close(figure)
    return path
