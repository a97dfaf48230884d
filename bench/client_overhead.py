"""Client CPU per streamed turn, rendering excluded (benchmark B6).

A 500-event scripted response is served by `codeassist serve` in another process on loopback.
The client's CPU time (`time.process_time`) is measured per turn for six arms on the same
server in the same run, interleaved in ABBA order: a floor (a bare asyncio protocol on the same
WebSocket that only counts the bytes of the response and watches for its terminal event,
parsing no frame), the WebSocket and HTTP/SSE transports alone, a whole agent turn (events,
stats, conversation) over each, and the WebSocket agent turn with the session record (every
event and item, deltas coalesced). Goals: under 2 ms per 500-event turn over WebSocket; the
WebSocket transport within 1.25× of the floor.

    python -m bench.client_overhead [--turns N] [--events 500] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from agent.approvals import ApprovalGate, Policy
from agent.config import Settings
from agent.conversation import Conversation, RequestSettings
from agent.loop import Agent
from agent.model_client import ModelClient
from agent.recorder import SessionRecorder
from agent.redact import Redactor
from agent.session_log import SessionLog
from agent.tools import ToolContext, ToolRegistry
from agent.transport import ResponsesHTTP, ResponsesSocket, StreamMetrics
from agent.transport.factory import open_transports
from bench.machine import describe
from bench.serve_process import listening_url

GOAL_MS = 2.0
FLOOR_GOAL_RATIO = 1.25
"""The WebSocket transport's CPU per turn should stay within this factor of the floor's."""
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
            url = listening_url(process)
            if not url:
                raise RuntimeError(process.stderr.read())  # type: ignore[union-attr]
            yield url
        finally:
            process.terminate()
            process.wait(timeout=10)


Turn = Callable[[], Awaitable[int]]


async def sample(turn: Turn, turns: int, samples: list[float]) -> int:
    """Run `turn` `turns` times, appending the CPU milliseconds of each; return its event count."""
    events = 0
    for _ in range(turns):
        started = time.process_time()
        events = await turn()
        samples.append((time.process_time() - started) * 1000)
    return events


def summarise(samples: list[float], events: int) -> dict[str, float]:
    """CPU milliseconds per turn (median, p95) and microseconds per event."""
    samples = sorted(samples)
    median = statistics.median(samples)
    return {
        "cpu_ms_median": round(median, 3),
        "cpu_ms_p95": round(samples[min(len(samples) - 1, int(len(samples) * 0.95))], 3),
        "us_per_event": round(median * 1000 / max(events, 1), 3),
        "events": events,
    }


async def measure_interleaved(runners: dict[str, Turn], turns: int, warmup: int = 3) -> dict[str, dict[str, float]]:
    """Measure every arm in rounds of ABBA order (A B C, C B A, …) so drift affects each alike."""
    for turn in runners.values():
        for _ in range(warmup):
            await turn()
    samples: dict[str, list[float]] = {name: [] for name in runners}
    events: dict[str, int] = {}
    rounds = 4 if turns >= 4 else 1
    for index in range(rounds):
        names = list(runners) if index % 2 == 0 else list(reversed(runners))
        for name in names:
            share = turns // rounds + (1 if index < turns % rounds else 0)
            events[name] = await sample(runners[name], share, samples[name])
    return {name: summarise(samples[name], events[name]) for name in runners}


class _ByteCounter(asyncio.Protocol):
    """The floor: receives a response's bytes and counts them, parsing no frame.

    Only the terminal event is looked for, as a byte string (`TERMINAL_MARK`), so the turn can
    end; frame headers, JSON and UTF-8 are left alone.
    """

    TERMINAL_MARK = b'"type":"response.completed"'

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.handshake = bytearray()
        self.upgraded = asyncio.get_running_loop().create_future()
        self.turn_done: asyncio.Future[int] | None = None
        self.received = 0
        self.tail = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        if not self.upgraded.done():
            self.handshake += data
            if b"\r\n\r\n" in self.handshake:
                head, _, rest = bytes(self.handshake).partition(b"\r\n\r\n")
                if not head.startswith(b"HTTP/1.1 101"):
                    self.upgraded.set_exception(RuntimeError(head.decode(errors="replace")))
                    return
                self.upgraded.set_result(None)
                if rest:
                    self.data_received(rest)
            return
        self.received += len(data)
        across = self.tail + data[: len(self.TERMINAL_MARK)]  # a mark split between two reads
        done = self.turn_done
        if done is not None and not done.done() and (self.TERMINAL_MARK in data or self.TERMINAL_MARK in across):
            done.set_result(self.received)
        self.tail = data[-len(self.TERMINAL_MARK) :]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.turn_done is not None and not self.turn_done.done():
            self.turn_done.set_exception(ConnectionError("the server closed the connection"))


def _masked_text_frame(payload: bytes) -> bytes:
    """One client → server text frame (clients must mask, RFC 6455 §5.3)."""
    mask = os.urandom(4)
    length = len(payload)
    if length < 126:
        header = bytes([0x81, 0x80 | length])
    elif length < 1 << 16:
        header = bytes([0x81, 0x80 | 126]) + length.to_bytes(2, "big")
    else:
        header = bytes([0x81, 0x80 | 127]) + length.to_bytes(8, "big")
    key = int.from_bytes((mask * (length // 4 + 1))[:length], "big")
    masked = (int.from_bytes(payload, "big") ^ key).to_bytes(length, "big")
    return header + mask + masked


class FloorSocket:
    """A WebSocket reduced to what the floor arm needs: the upgrade, one sent frame, bytes counted."""

    def __init__(self, url: str, api_key: str) -> None:
        self.url = urlsplit(url)
        self.api_key = api_key
        self.protocol: _ByteCounter | None = None

    async def connect(self) -> _ByteCounter:
        if self.protocol is not None:
            return self.protocol
        loop = asyncio.get_running_loop()
        host, port = self.url.hostname or "127.0.0.1", self.url.port or 80
        _, protocol = await loop.create_connection(_ByteCounter, host, port)
        assert protocol.transport is not None
        key = base64.b64encode(os.urandom(16)).decode()
        protocol.transport.write(
            (
                f"GET {self.url.path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                f"Authorization: Bearer {self.api_key}\r\n\r\n"
            ).encode()
        )
        await protocol.upgraded
        self.protocol = protocol
        return protocol

    async def turn(self, body: dict[str, Any]) -> int:
        """Send one `response.create`; return the bytes received up to its terminal event."""
        protocol = await self.connect()
        assert protocol.transport is not None
        protocol.received = 0
        protocol.tail = b""
        protocol.turn_done = asyncio.get_running_loop().create_future()
        protocol.transport.write(_masked_text_frame(json.dumps({"type": "response.create", **body}).encode()))
        return await protocol.turn_done

    async def close(self) -> None:
        if self.protocol is not None and self.protocol.transport is not None:
            self.protocol.transport.close()
        self.protocol = None


BODY = {"model": "m", "input": [{"role": "user", "content": "go"}], "store": False}


async def floor_turn(floor: FloorSocket, events: int) -> int:
    """The floor's turn; it counts no events, so it reports the scripted number."""
    await floor.turn(BODY)
    return events


async def transport_turn(transport: ResponsesSocket | ResponsesHTTP) -> int:
    metrics = StreamMetrics()
    async for _ in transport.stream(BODY, metrics):
        pass
    return metrics.events


def agent_for(client: ModelClient, workspace: Path, log: SessionRecorder | None) -> Agent:
    conversation = Conversation(RequestSettings.build(model="m", instructions="Be brief.", tools=[]))
    return Agent(
        client=client,
        conversation=conversation,
        tools=ToolRegistry([]),
        tool_context=ToolContext(workspace=workspace),
        approvals=ApprovalGate(Policy.ASK),
        recorder=log,
    )


async def agent_turn(client: ModelClient, workspace: Path, log: SessionRecorder | None = None) -> int:
    agent = agent_for(client, workspace, log)
    events = 0
    async for _ in agent.run_turn("go"):
        events += 1
    return agent.turns[-1].responses[-1].events


async def run_arms(base_url: str, turns: int, events: int) -> dict[str, Any]:
    settings = Settings(base_url=base_url, api_key="bench")
    ws_url = settings.websocket_url

    def bare_socket() -> ResponsesSocket:
        # Built by hand on purpose: keepalive pings are off so that no ping frame lands inside a
        # measured turn, and the settings cannot turn pings off. Every other parameter is the
        # settings' default, as `open_transports` would pass it.
        return ResponsesSocket(ws_url, settings.api_key_value(), ping_interval=None)

    def http_transport() -> ResponsesHTTP:
        return open_transports(settings, websocket=False)[1]

    floor = FloorSocket(ws_url, "bench")
    socket = bare_socket()
    http = http_transport()
    ws_client = ModelClient(websocket=bare_socket(), http=http_transport())
    http_client = ModelClient(websocket=None, http=http_transport())
    workspace = Path(tempfile.gettempdir())
    logs = tempfile.TemporaryDirectory()
    redactor = Redactor(known_secrets=["bench"])
    log = SessionRecorder(SessionLog.create(root=Path(logs.name), header={"model": "m"}, redactor=redactor), redactor)
    logged_client = ModelClient(websocket=bare_socket(), http=http_transport())
    try:
        runners: dict[str, Turn] = {
            "floor": lambda: floor_turn(floor, events),
            "websocket_transport": lambda: transport_turn(socket),
            "http_transport": lambda: transport_turn(http),
            "http_agent_turn": lambda: agent_turn(http_client, workspace),
            "websocket_agent_turn": lambda: agent_turn(ws_client, workspace),
            "websocket_agent_turn_logged": lambda: agent_turn(logged_client, workspace, log),
        }
        arms = await measure_interleaved(runners, turns)
    finally:
        await floor.close()
        for closable in (socket, http, ws_client, http_client, logged_client):
            await closable.close()
        log.close()
        logs.cleanup()
    return arms


def run(turns: int = 30, events: int = 500) -> dict[str, Any]:
    with served(events) as base_url:
        arms = asyncio.run(run_arms(base_url, turns, events))
    ws = arms["websocket_transport"]["cpu_ms_median"]
    floor = arms["floor"]["cpu_ms_median"]
    return {
        "benchmark": "client_overhead",
        "events_per_turn": events,
        "turns": turns,
        "arms": arms,
        "ratio_to_websocket_transport": {name: round(arm["cpu_ms_median"] / ws, 2) for name, arm in arms.items()},
        "ratio_to_floor": {name: round(arm["cpu_ms_median"] / floor, 2) for name, arm in arms.items()},
        "goal_ms": GOAL_MS,
        "websocket_within_goal": ws <= GOAL_MS,
        "floor_goal_ratio": FLOOR_GOAL_RATIO,
        "websocket_within_floor_goal": ws <= floor * FLOOR_GOAL_RATIO,
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
