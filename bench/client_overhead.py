"""Client CPU per streamed turn, rendering excluded (benchmark B6).

A 500-event scripted response is served by `codeassist serve` in another process on loopback.
The client's CPU time (`time.process_time`) is measured per turn for five arms on the same
server in the same run: the WebSocket and HTTP/SSE transports alone, a whole agent turn
(events, stats, conversation) over each, and the WebSocket agent turn with the session log
recording every frame. Goal: under 2 ms per 500-event turn over WebSocket.

    python -m bench.client_overhead [--turns N] [--events 500] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agent.approvals import ApprovalGate, Policy
from agent.conversation import Conversation, RequestSettings
from agent.loop import Agent
from agent.model_client import ModelClient
from agent.redact import Redactor
from agent.session_log import SessionLog
from agent.tools import ToolContext, ToolRegistry
from agent.transport import ResponsesHTTP, ResponsesSocket, StreamMetrics
from bench.machine import describe

GOAL_MS = 2.0
FIXED_EVENTS = 8
"""Events of a one-message response besides its deltas (created, in_progress, item and part
added/done, text done, completed)."""


def scenario(events: int) -> dict[str, Any]:
    words = " ".join(f"w{i}" for i in range(events - FIXED_EVENTS))
    return {"name": "overhead", "turns": [{"output": [{"type": "message", "text": words}]}], "on_exhausted": "fail"}


@contextmanager
def served(events: int) -> Iterator[str]:
    """`codeassist serve` in a subprocess playing the benchmark scenario; yields its base URL."""
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "overhead.json"
        script.write_text(json.dumps(scenario(events)))
        process = subprocess.Popen(
            [sys.executable, "-m", "codeassist", "serve", "--script", str(script)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            for line in process.stdout:  # type: ignore[union-attr]
                if "listening on" in line:
                    yield line.split("listening on", 1)[1].strip()
                    break
            else:
                raise RuntimeError(process.stderr.read())  # type: ignore[union-attr]
        finally:
            process.terminate()
            process.wait(timeout=10)


async def measure(turn: Callable[[], Awaitable[int]], turns: int, warmup: int = 3) -> dict[str, float]:
    """CPU milliseconds per turn (median, p95) and microseconds per event."""
    for _ in range(warmup):
        await turn()
    samples = []
    events = 0
    for _ in range(turns):
        started = time.process_time()
        events = await turn()
        samples.append((time.process_time() - started) * 1000)
    samples.sort()
    median = statistics.median(samples)
    return {
        "cpu_ms_median": round(median, 3),
        "cpu_ms_p95": round(samples[min(len(samples) - 1, int(len(samples) * 0.95))], 3),
        "us_per_event": round(median * 1000 / max(events, 1), 3),
        "events": events,
    }


BODY = {"model": "m", "input": [{"role": "user", "content": "go"}], "store": False}


async def transport_turn(transport: ResponsesSocket | ResponsesHTTP) -> int:
    metrics = StreamMetrics()
    async for _ in transport.stream(BODY, metrics):
        pass
    return metrics.events


def agent_for(client: ModelClient, workspace: Path, log: SessionLog | None) -> Agent:
    conversation = Conversation(RequestSettings.build(model="m", instructions="Be brief.", tools=[]))
    return Agent(
        client=client,
        conversation=conversation,
        tools=ToolRegistry([]),
        tool_context=ToolContext(workspace=workspace),
        approvals=ApprovalGate(Policy.ASK),
        log=log,
    )


async def agent_turn(client: ModelClient, workspace: Path, log: SessionLog | None = None) -> int:
    agent = agent_for(client, workspace, log)
    events = 0
    async for _ in agent.run_turn("go"):
        events += 1
    return agent.turns[-1].responses[-1].events


async def run_arms(base_url: str, turns: int) -> dict[str, Any]:
    ws_url = base_url.replace("http://", "ws://") + "/responses"
    socket = ResponsesSocket(ws_url, "bench", ping_interval=None)
    http = ResponsesHTTP(base_url + "/responses", "bench")
    ws_client = ModelClient(
        websocket=ResponsesSocket(ws_url, "bench", ping_interval=None),
        http=ResponsesHTTP(base_url + "/responses", "bench"),
    )
    http_client = ModelClient(websocket=None, http=ResponsesHTTP(base_url + "/responses", "bench"))
    workspace = Path(tempfile.gettempdir())
    logs = tempfile.TemporaryDirectory()
    log = SessionLog.create(root=Path(logs.name), header={"model": "m"}, redactor=Redactor(known_secrets=["bench"]))
    logged_socket = ResponsesSocket(
        ws_url, "bench", ping_interval=None, on_frame=lambda d, raw, t: log.append_raw_frame(d, raw, t)
    )
    logged_client = ModelClient(websocket=logged_socket, http=ResponsesHTTP(base_url + "/responses", "bench"))
    arms = {}
    try:
        # Alternate the arms in ABBA order so drift affects each side alike.
        order = [
            "websocket_transport",
            "http_transport",
            "http_agent_turn",
            "websocket_agent_turn",
            "websocket_agent_turn_logged",
        ]
        runners = {
            "websocket_transport": lambda: transport_turn(socket),
            "http_transport": lambda: transport_turn(http),
            "websocket_agent_turn": lambda: agent_turn(ws_client, workspace),
            "http_agent_turn": lambda: agent_turn(http_client, workspace),
            "websocket_agent_turn_logged": lambda: agent_turn(logged_client, workspace, log),
        }
        for name in order:
            arms[name] = await measure(runners[name], turns)
    finally:
        for closable in (socket, http, ws_client, http_client, logged_client):
            await closable.close()
        log.close()
        logs.cleanup()
    return arms


def run(turns: int = 30, events: int = 500) -> dict[str, Any]:
    with served(events) as base_url:
        arms = asyncio.run(run_arms(base_url, turns))
    ws = arms["websocket_transport"]["cpu_ms_median"]
    return {
        "benchmark": "client_overhead",
        "events_per_turn": events,
        "turns": turns,
        "arms": arms,
        "ratio_to_websocket_transport": {name: round(arm["cpu_ms_median"] / ws, 2) for name, arm in arms.items()},
        "goal_ms": GOAL_MS,
        "websocket_within_goal": ws <= GOAL_MS,
        "machine": describe("websockets", "httpx", "orjson", "pydantic"),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.client_overhead", description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=30)
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    result = json.dumps(run(args.turns, args.events), indent=2)
    print(result)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(result + "\n")


if __name__ == "__main__":
    main()
