"""HTTP vs WebSocket, end to end, on one machine (benchmarks B8, B9 and B11).

One scripted coding rollout (30 tool calls by default, an ~8 KB system prompt, six tools, tool
outputs of a few KB, two tool runs longer than HTTP keep-alive's 5 s expiry) is played through
three arms against `codeassist serve` in another process, over TLS with a certificate made at
run time, behind a userspace delay proxy (`bench.delay_proxy`) at each RTT:

- `http_full`: the official `openai` SDK, `responses.create(stream=True)`, one keep-alive
  client, `store: false`: the whole context is resent every request;
- `http_chained`: the same SDK with `store: true` and `previous_response_id`;
- `websocket`: codeassist's `ModelClient` + `ResponsesSocket` + `Conversation` (incremental).

Arms alternate in ABBA order after a warm-up. Per request: bytes sent and received (as the client
counted them, and at the proxy), TCP connections opened, time to first event, turn time, client
CPU; per rollout: end-to-end time. Every request's size is checked against what the server
received, and every rollout's transcript against the others. Then a forced server close in the
middle of a WebSocket session measures the time to the next usable response (B11).

    python -m bench.transport [--rtts 0,20,80] [--reps 3] [--tool-calls 30] [--long-tool-s 5.5]
                              [--bandwidth BYTES_PER_S] [--out FILE] [--no-plot]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from agent.conversation import RequestSettings
from bench.arms import ARMS, EXTRA_ARMS, RolloutRecord, make_arm, play
from bench.delay_proxy import ProxyProcess
from bench.machine import describe
from bench.rollout import Rollout, canonical
from bench.serve_process import listening_url
from bench.tls import SelfSigned, make_self_signed
from bench.transport_stats import claims, compare, summarise_arm, summarise_reconnects
from codeassist.bench_task import SYSTEM_PROMPT, tool_specs

RESULTS = Path(__file__).parent / "results"
DROP_TURN = 3
DROP_AFTER_EVENTS = 5


def request_settings() -> RequestSettings:
    """The request fields every arm sends (the HTTP chained arm switches `store` on)."""
    return RequestSettings.build(
        model="bench-model",
        instructions=SYSTEM_PROMPT,
        tools=tool_specs(),
        reasoning={"effort": "medium", "summary": "auto"},
        store=False,
        prompt_cache_key="bench-transport",
    )


@dataclass
class Server:
    """A running `codeassist serve` (HTTPS) and a direct control client (not via the proxy)."""

    port: int
    control: httpx.Client

    def received(self) -> list[dict[str, Any]]:
        """What the server received since the last `clear`, in order."""
        return self.control.get("/_codeassist/received").json()

    def clear(self) -> None:
        self.control.delete("/_codeassist/received").raise_for_status()

    def arm_fault(self, fault: dict[str, Any]) -> None:
        self.control.post("/_codeassist/faults", json=fault).raise_for_status()


SERVE = (
    "import argparse, sys\n"
    "from codeassist.serve import add_serve_arguments, run_serve\n"
    "parser = argparse.ArgumentParser(prog='codeassist serve')\n"
    "add_serve_arguments(parser)\n"
    "sys.exit(run_serve(parser.parse_args()))\n"
)
"""`codeassist serve`, started without importing the rest of the command line."""


@contextmanager
def served(script: Path, tls: SelfSigned) -> Iterator[Server]:
    """`codeassist serve --tls-cert --tls-key` in a subprocess on a free loopback port."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-c",
            SERVE,
            "--host",
            "127.0.0.1",
            "--script",
            str(script),
            "--tls-cert",
            str(tls.cert),
            "--tls-key",
            str(tls.key),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = listening_url(process)
        if not url:
            raise RuntimeError(f"codeassist serve did not start: {process.stderr.read()}")  # type: ignore[union-attr]
        port = int(url.rsplit(":", 1)[1].split("/", 1)[0])
        with httpx.Client(base_url=f"https://127.0.0.1:{port}", verify=tls.client_context(), timeout=30) as control:
            yield Server(port, control)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def check_accounting(record: RolloutRecord, received: list[dict[str, Any]]) -> dict[str, Any]:
    """Compare the client's request sizes with the server's, and (WebSocket) what each request held."""
    sizes = [entry["size"] for entry in received]
    result: dict[str, Any] = {
        "arm": record.arm,
        "requests": len(sizes),
        "client_bytes": sum(record.requests),
        "server_bytes": sum(sizes),
        "match": sizes == record.requests,
    }
    if record.arm == "websocket":
        bodies = [entry["body"] or {} for entry in received]
        result["increments_only"] = all(
            body.get("previous_response_id") and len(body.get("input") or []) == 1 for body in bodies[1:]
        )
        result["first_is_full"] = bool(bodies) and not bodies[0].get("previous_response_id")
    return result


class Bench:
    """One run: the server, the settings, and every record collected."""

    def __init__(self, server: Server, tls: SelfSigned, rollout: Rollout) -> None:
        self.server = server
        self.tls = tls
        self.ssl_context = tls.client_context()
        self.rollout = rollout
        self.settings = request_settings()
        self.accounting: list[dict[str, Any]] = []

    async def one(
        self, arm_name: str, base_url: str, proxy: ProxyProcess | None, turns: int | None = None, fault: bool = False
    ) -> RolloutRecord:
        """One rollout through a fresh client, checked against what the server received."""
        self.server.clear()
        arm = make_arm(arm_name, base_url, self.ssl_context, self.settings)
        try:
            record = await play(arm, self.rollout, proxy=proxy, turns=turns)
        finally:
            await arm.close()
        self.accounting.append({**check_accounting(record, self.server.received()), "fault": fault})
        self.server.clear()
        return record

    async def condition(
        self, proxy: ProxyProcess, arms: list[str], reps: int, warmup_turns: int, log: Any
    ) -> dict[str, Any]:
        """Every arm at one RTT: a short warm-up each, then `reps` rollouts each in ABBA order."""
        base_url = f"https://127.0.0.1:{proxy.port}/v1"
        for name in arms:
            if warmup_turns:
                await self.one(name, base_url, proxy, turns=warmup_turns)
        records: dict[str, list[RolloutRecord]] = {name: [] for name in arms}
        for rep in range(reps):
            for name in arms if rep % 2 == 0 else list(reversed(arms)):
                record = await self.one(name, base_url, proxy)
                records[name].append(record)
                log(
                    f"  rtt {proxy.rtt_ms:g} ms rep {rep + 1}/{reps} {name}: {record.end_to_end_s:.2f} s end to end, "
                    f"{sum(t.bytes_sent for t in record.turns) / 1024:.0f} KiB sent"
                )
        transcripts = [canonical(r.transcript) for rs in records.values() for r in rs]
        arms = {name: summarise_arm(rs) for name, rs in records.items()}
        return {
            "rtt_ms": proxy.rtt_ms,
            "bandwidth": proxy.bandwidth,
            "arms": arms,
            "comparison": compare(arms, proxy.rtt_ms),
            "transcripts_equal": all(t == transcripts[0] for t in transcripts),
            "transcript_items": len(transcripts[0]) if transcripts else 0,
            "sequence_ok": all(t.sequence_ok for rs in records.values() for r in rs for t in r.turns),
        }

    async def reconnects(self, proxy: ProxyProcess, reps: int, turns: int) -> dict[str, Any]:
        """Force a server close mid-response on turn `DROP_TURN` and time the recovery."""
        base_url = f"https://127.0.0.1:{proxy.port}/v1"
        reference = await self.one("websocket", base_url, proxy, turns=turns)
        expected = canonical(reference.transcript)
        samples = []
        for _ in range(reps):
            self.server.arm_fault(
                {
                    "kind": "close",
                    "turn": DROP_TURN,
                    "transport": "websocket",
                    "after_events": DROP_AFTER_EVENTS,
                    "close_code": 1011,
                }
            )
            record = await self.one("websocket", base_url, proxy, turns=turns, fault=True)
            samples.append(self._reconnect_sample(record, reference, expected))
        return summarise_reconnects(samples, proxy.rtt_ms)

    def _reconnect_sample(
        self, record: RolloutRecord, reference: RolloutRecord, expected: list[dict[str, Any]]
    ) -> dict[str, Any]:
        reply = record.replies[DROP_TURN]
        accounting = self.accounting[-1]
        transcript = canonical(record.transcript)
        calls = Counter(item.get("call_id") for item in transcript if item["type"] == "function_call")
        outputs = Counter(item.get("call_id") for item in transcript if item["type"] == "function_call_output")
        integrity = {
            "one_retry": len(reply.retries) == 1,
            "partial_discarded": bool(reply.retries) and reply.retries[0]["events_discarded"] == DROP_AFTER_EVENTS,
            "events_complete_in_order": all(t.sequence_ok for t in record.turns),
            "transcript_as_without_fault": transcript == expected,
            # A rollout cut short leaves its last call unanswered; every other call has one output.
            "each_call_once": set(calls.values()) == {1}
            and set(outputs.values()) <= {1}
            and set(outputs) <= set(calls)
            and len(calls) - len(outputs) <= 1,
            "bytes_match_server": accounting["match"],
            "incremental_again_after": all(t.incremental for t in record.turns[DROP_TURN + 1 :]),
        }
        sample: dict[str, Any] = {"integrity": integrity, "integrity_ok": all(integrity.values())}
        if reply.retries:
            dropped = reply.retries[0]["dropped_at"]
            backoff_ms = reply.retries[0]["delay_s"] * 1000
            sample.update(
                drop_to_first_event_ms=(reply.first_event_at - dropped) * 1000,
                drop_to_completed_ms=(reply.finished_at - dropped) * 1000,
                backoff_ms=backoff_ms,
                without_backoff_ms=(reply.first_event_at - dropped) * 1000 - backoff_ms,
                reconnect_ms=(reply.connect_s or 0) * 1000,
                normal_turn_ms=reference.turns[DROP_TURN].turn_s * 1000,
                resend_bytes=reply.bytes_sent[-1],
                incremental_bytes=reference.turns[DROP_TURN].bytes_sent,
            )
        return sample


async def _run(server: Server, tls: SelfSigned, rollout: Rollout, args: argparse.Namespace, log: Any) -> dict[str, Any]:
    bench = Bench(server, tls, rollout)
    conditions, reconnects = [], []
    for rtt in args.rtts:
        with ProxyProcess(server.port, rtt_ms=rtt, bandwidth=args.bandwidth) as proxy:
            log(f"RTT {rtt:g} ms" + (f", {args.bandwidth:g} B/s" if args.bandwidth else ""))
            conditions.append(await bench.condition(proxy, args.arms, args.reps, args.warmup_turns, log))
            if args.reconnect_reps:
                reconnects.append(await bench.reconnects(proxy, args.reconnect_reps, args.reconnect_turns))
    accounting_ok = all(entry["match"] for entry in bench.accounting)
    ws_entries = [e for e in bench.accounting if e["arm"] == "websocket" and not e["fault"]]
    return {
        "conditions": conditions,
        "reconnect": reconnects,
        "checks": {
            "bytes_match_server": accounting_ok,
            "requests_checked": sum(entry["requests"] for entry in bench.accounting),
            "mismatches": [entry for entry in bench.accounting if not entry["match"]],
            "transcripts_equal": all(c["transcripts_equal"] for c in conditions),
            "websocket_first_request_full": all(e.get("first_is_full") for e in ws_entries),
            "websocket_increments_only_after_first": all(e.get("increments_only") for e in ws_entries),
            "events_complete_in_order": all(c["sequence_ok"] for c in conditions),
        },
    }


def run(args: argparse.Namespace, log: Any = None) -> dict[str, Any]:
    """Run the benchmark described by the parsed command line; returns the JSON-able result."""
    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    rollout = Rollout(
        tool_calls=args.tool_calls,
        long_tool_s=args.long_tool_s,
        short_tool_s=args.short_tool_s,
        long_calls=tuple(i for i in (9, 21) if i < args.tool_calls),
    )
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="codeassist-bench-") as folder:
        tls = make_self_signed(Path(folder) / "tls")
        script = Path(folder) / "rollout.json"
        script.write_text(json.dumps(rollout.scenario()))
        with served(script, tls) as server:
            measured = asyncio.run(_run(server, tls, rollout, args, log))
    conditions = measured["conditions"]
    return {
        "benchmark": "transport",
        "config": {
            "arms": args.arms,
            "rtts_ms": args.rtts,
            "bandwidth_bytes_per_s": args.bandwidth,
            "reps": args.reps,
            "warmup_turns": args.warmup_turns,
            "order": "ABC CBA … (alternating)",
            "tool_calls": rollout.tool_calls,
            "turns": rollout.turns,
            "long_tool_s": rollout.long_tool_s,
            "long_calls": list(rollout.long_calls),
            "short_tool_s": rollout.short_tool_s,
            "tool_s_per_rollout": round(rollout.tool_time(), 3),
            "system_prompt_bytes": len(SYSTEM_PROMPT.encode()),
            "tools": len(tool_specs()),
            "tools_bytes": len(json.dumps(tool_specs())),
            "tls": "TLS 1.3 (self-signed P-256, made at run time)",
            "http_keepalive_expiry_s": 5.0,
            "reconnect": {
                "reps": args.reconnect_reps,
                "turns": args.reconnect_turns,
                "drop_turn": DROP_TURN,
                "drop_after_events": DROP_AFTER_EVENTS,
            },
        },
        **measured,
        "claims": claims(conditions) if conditions else {},
        "machine": {
            **describe("openai", "httpx2", "httpx", "websockets", "uvicorn", "orjson", "pydantic"),
            # Other work on the machine skews the figures; these say how busy it was.
            "load_average_before": [round(v, 2) for v in load_before],
            "load_average_after": [round(v, 2) for v in os.getloadavg()],
        },
    }


def _arms(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = set(names) - set(ARMS + EXTRA_ARMS)
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown arm(s): {', '.join(sorted(unknown)) or '(none given)'}")
    return names


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.transport", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--rtts",
        type=lambda text: [float(v) for v in text.split(",")],
        default=[0.0, 20.0, 80.0],
        help="round-trip times in ms, comma-separated (default 0,20,80)",
    )
    parser.add_argument(
        "--arms",
        type=_arms,
        default=list(ARMS),
        help=f"comma-separated, from {', '.join(ARMS + EXTRA_ARMS)} (default: the first three)",
    )
    parser.add_argument("--reps", type=int, default=3, help="measured rollouts per arm and RTT (default 3)")
    parser.add_argument("--warmup-turns", type=int, default=3, help="turns of the warm-up rollout per arm (default 3)")
    parser.add_argument("--tool-calls", type=int, default=30, help="tool calls per rollout (default 30)")
    parser.add_argument(
        "--long-tool-s",
        type=float,
        default=5.5,
        help="duration of calls 10 and 22, past the 5 s keep-alive expiry (default 5.5)",
    )
    parser.add_argument("--short-tool-s", type=float, default=0.02, help="duration of the other calls (default 0.02)")
    parser.add_argument(
        "--bandwidth",
        type=float,
        default=None,
        metavar="BYTES_PER_S",
        help="cap each direction of the proxy (default: unlimited)",
    )
    parser.add_argument("--reconnect-reps", type=int, default=3, help="forced drops per RTT (default 3; 0 skips)")
    parser.add_argument("--reconnect-turns", type=int, default=6, help="turns of a reconnect rollout (default 6)")
    parser.add_argument("--out", type=Path, help="JSON file (default bench/results/transport-<date>.json)")
    parser.add_argument("--no-plot", action="store_true", help="do not write the PNG next to the JSON")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    result = run(args)
    text = json.dumps(result, indent=1)
    print(text)
    out = args.out or RESULTS / f"transport-{date.today():%Y-%m-%d}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    if not args.no_plot:
        from bench.transport_plot import plot

        written = plot(result, out.with_suffix(".png"))
        if written is None:
            print("matplotlib is not installed (pip install -e '.[bench]'); no plot written", file=sys.stderr)


if __name__ == "__main__":
    main()
