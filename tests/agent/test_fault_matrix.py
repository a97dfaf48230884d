"""The fault matrix: every model-connection row of the reliability table, end to end.

Each case runs a real `Session` (the agent loop, the model client, the real transports, the
session log) in a real temporary git repository against a real server on a loopback port:
`codeassist serve` started as a process with faults armed over its control routes, or the raw
WebSocket server of `tests/agent/raw_server.py` for streams `codeassist serve` never sends. The
model asks for one shell command that appends a line to `ran.log`; every case then checks
the same two promises:

- nothing lost: the session log holds the prompt, every function call has exactly one output,
  and each turn ended with exactly one `turn_ended`;
- nothing run twice: `ran.log` holds at most one line (exactly one when the turn completed).

Backoff delays go to a recording `sleep` (the delay asked for is asserted, never a wall clock).
The rows are numbered as in docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.exceptions import ConnectionClosed

from agent.approvals import ApprovalRequest, Decision
from agent.config import Settings
from agent.events import (
    AgentError,
    AgentEvent,
    Reconnecting,
    ToolFinished,
    TransportChanged,
    TurnEnded,
)
from agent.model_client import backoff_delay
from agent.session import Session
from agent.session_log import LoadedSession, load_session
from agent.transport.scripted import function_call, message, response_events
from tests.agent.conftest import answered_turn, make_repo
from tests.agent.raw_server import Frame, RawServer, raw_server

CODEASSIST = str(Path(sys.executable).with_name("codeassist"))

COMMAND = "echo ran >> ran.log"
PROMPT = "run the check"

SCENARIO = {
    "name": "fault-matrix",
    "turns": [
        {
            "output": [
                {"type": "message", "text": "Running it."},
                {"type": "function_call", "call_id": "c_run", "name": "shell", "arguments": {"command": COMMAND}},
            ]
        },
        {
            "expect": [{"type": "function_call_output", "call_id": "c_run"}],
            "output": [{"type": "message", "text": "Done."}],
        },
        {"output": [{"type": "message", "text": "Nothing else."}]},
    ],
}
"""Turn 0 streams (event index: what it is) 0 created, 1 in_progress, 2-8 the message (4 and 5
its text deltas), 9 the call added, 10-14 its argument deltas, 15 arguments done, 16 the call's
`output_item.done`, 17 `response.completed`. A fault's `after_events` counts from 0."""

AFTER_FIRST_DELTA = 5
MID_ARGUMENTS = 12
BEFORE_CALL_DONE = 16
BEFORE_COMPLETED = 17

CONNECTION_LIMIT = {
    "status": 400,
    "error": {
        "type": "invalid_request_error",
        "code": "websocket_connection_limit_reached",
        "message": "Responses websocket connection limit reached (60 minutes). Create a new connection.",
    },
}


# ---- codeassist serve as a process ---------------------------------------------------------------


@dataclass
class ServeAddress:
    base_url: str


@dataclass
class ServeProcess:
    """A running `codeassist serve` and its control routes (`/_codeassist/*`)."""

    process: subprocess.Popen[str]
    base_url: str
    api_key: str | None = None

    @property
    def address(self) -> ServeAddress:
        return ServeAddress(self.base_url)

    @property
    def _root(self) -> str:
        return self.base_url.removesuffix("/v1")

    def _control(self, method: str, route: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        response = httpx.request(method, f"{self._root}/_codeassist/{route}", json=body, headers=headers, timeout=10)
        response.raise_for_status()
        return response.json()

    def arm(self, **fault: Any) -> None:
        """Arm one fault (the fields of `server.faults.Fault`)."""
        self._control("POST", "faults", fault)

    def reset(self) -> None:
        """Disarm every fault and forget the requests received so far."""
        self._control("DELETE", "faults")
        self._control("DELETE", "received")

    def requests(self) -> list[dict[str, Any]]:
        """Every request received since the last reset, as received (body, transport, connection)."""
        return [entry for entry in self._control("GET", "received") if entry["body"] is not None]

    def connections(self) -> int:
        """WebSocket connections accepted since the server started."""
        return int(self._control("GET", "health")["connections"])


def start_serve(directory: Path, *args: str, scenario: dict[str, Any] = SCENARIO) -> ServeProcess:
    """Start `codeassist serve` playing `scenario` on a free loopback port."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "scenario.json"
    script.write_text(json.dumps(scenario))
    stderr = open(directory / "serve.stderr", "w")  # noqa: SIM115 (closed with the process)
    process = subprocess.Popen(
        [CODEASSIST, "serve", "--port", "0", "--script", str(script), *args],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    stderr.close()
    url = ""
    for line in process.stdout:  # type: ignore[union-attr]
        if "listening on" in line:
            url = line.split("listening on", 1)[1].strip()
            break
    if not url:
        process.kill()
        raise RuntimeError((directory / "serve.stderr").read_text())
    api_key = args[args.index("--api-key") + 1] if "--api-key" in args else None
    return ServeProcess(process, url, api_key)


def stop_serve(serve: ServeProcess) -> None:
    serve.process.send_signal(signal.SIGINT)
    try:
        serve.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        serve.process.kill()
        serve.process.wait()


@pytest.fixture(scope="module")
def serve_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    running = start_serve(tmp_path_factory.mktemp("serve"))
    yield running
    stop_serve(running)


@pytest.fixture
def serve(serve_process: ServeProcess) -> ServeProcess:
    """The module's `codeassist serve`, with no fault armed and nothing received yet."""
    serve_process.reset()
    return serve_process


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"README.md": "A project.\n"})


# ---- one session, and the two promises -----------------------------------------------------------


@dataclass
class Run:
    """What one session did: its live events, its log, the backoff delays it asked for."""

    events: list[AgentEvent]
    log: LoadedSession
    delays: list[float]
    workspace: Path
    prompts: tuple[str, ...]

    @property
    def ended(self) -> list[TurnEnded]:
        return [event for event in self.events if isinstance(event, TurnEnded)]

    @property
    def reconnects(self) -> list[Reconnecting]:
        return [event for event in self.events if isinstance(event, Reconnecting)]

    @property
    def runs(self) -> int:
        """How many times the command ran (lines in `ran.log`)."""
        path = self.workspace / "ran.log"
        return len(path.read_text().splitlines()) if path.exists() else 0

    def records(self, kind: str) -> list[dict[str, Any]]:
        return [record for record in self.log.records if record.get("type") == kind]

    def items(self, kind: str) -> list[dict[str, Any]]:
        return [item for record in self.records("items") for item in record["items"] if item.get("type") == kind]

    def text(self) -> str:
        """Every streamed text delta the session showed (and recorded)."""
        return "".join(record["text"] for record in self.records("text_delta"))


def approve(request: ApprovalRequest) -> Decision:
    return Decision(kind="approve_once")


def settings(base_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "base_url": base_url,
        "model": "scripted-test",
        "api_key": "sk-test-abcdefghijklmnopqrstuvwxyz012345",
        "warmup": False,
        "idle_timeout_s": 5.0,
        "open_timeout_s": 5.0,
        "reasoning_effort": None,
        "sandbox": "off",
        "max_retries": 3,
    }
    values.update(overrides)
    return Settings(**values)


async def run_session(base_url: str, workspace: Path, *prompts: str, **overrides: Any) -> Run:
    """Open a recorded session against `base_url`, run `prompts` (every approval approved), close it."""
    prompts = prompts or (PROMPT,)
    delays: list[float] = []

    async def sleep(delay: float) -> None:
        delays.append(delay)

    session = Session.open(
        settings(base_url, **overrides), cwd=workspace, log_root=workspace.parent / "sessions", sleep=sleep
    )
    events: list[AgentEvent] = []
    try:
        for prompt in prompts:
            events += await answered_turn(session, prompt, approve)
    finally:
        await session.close()
    assert session.log_path is not None
    return Run(events, load_session(session.log_path), delays, workspace, prompts)


def assert_log_whole(run: Run) -> None:
    """The log holds every prompt, every call in it has exactly one output, every turn ended once."""
    assert run.log.warnings == []
    assert [record["prompt"] for record in run.records("turn_started")] == list(run.prompts)
    sent = [part["text"] for item in run.items("message") if item.get("role") == "user" for part in item["content"]]
    assert sent == list(run.prompts)
    turns = [record["type"] for record in run.log.records if record.get("type") in ("turn_started", "turn_ended")]
    assert turns == ["turn_started", "turn_ended"] * len(run.prompts), "each turn ends exactly once"
    calls = Counter(item["call_id"] for item in run.items("function_call"))
    outputs = Counter(item["call_id"] for item in run.items("function_call_output"))
    assert set(outputs) == set(calls) and set(outputs.values()) <= {1}, "every call has exactly one output"


def assert_nothing_lost(run: Run) -> None:
    """`assert_log_whole`, and the live events say the same: one `TurnEnded` per turn, last, and
    one `ToolFinished` per output."""
    assert_log_whole(run)
    assert len(run.ended) == len(run.prompts) and isinstance(run.events[-1], TurnEnded)
    outputs = Counter(item["call_id"] for item in run.items("function_call_output"))
    finished = Counter(event.call_id for event in run.events if isinstance(event, ToolFinished))
    assert finished == outputs


def assert_ran_once(run: Run) -> None:
    """The turn completed and the command ran exactly once, after the response completed."""
    assert_nothing_lost(run)
    assert [event.reason for event in run.ended] == ["completed"] * len(run.prompts)
    assert run.runs == 1
    assert "Done." in run.text()


def assert_failed_cleanly(run: Run, *, message: str) -> None:
    """The turn ended with a clear error, nothing ran, nothing is left unanswered."""
    assert_nothing_lost(run)
    [ended] = run.ended
    assert ended.reason == "error" and message in (ended.message or "")
    assert [event for event in run.events if isinstance(event, AgentError)], "the error is shown"
    assert run.runs == 0


def http_url(server: RawServer) -> str:
    """The base URL a session is given for a raw server (it derives the WebSocket URL from it)."""
    return server.url.replace("ws://", "http://", 1).removesuffix("/responses")


def full_resend(body: dict[str, Any]) -> bool:
    """Whether a request resends the whole conversation (no chaining on the server's cache)."""
    return "previous_response_id" not in body and body["input"][0]["role"] == "user"


# ---- row 1: the socket drops mid-response ---------------------------------------------------------


@pytest.mark.parametrize("after_events", [AFTER_FIRST_DELTA, MID_ARGUMENTS, BEFORE_CALL_DONE, BEFORE_COMPLETED])
async def test_row1_a_drop_mid_response_runs_nothing_from_it_and_resends_everything(serve, workspace, after_events):
    serve.arm(kind="close", turn=0, after_events=after_events)
    run = await run_session(serve.base_url, workspace)
    assert_ran_once(run)
    [reconnect] = run.reconnects
    assert reconnect.cause == "closed_1011" and run.delays == [reconnect.delay_s]
    kinds = [type(event).__name__ for event in run.events]
    assert kinds.index("Reconnecting") < kinds.index("ApprovalRequested"), "no tool runs from the dropped attempt"
    assert "OutputDiscarded" in kinds[: kinds.index("Reconnecting")], "the partial text is marked discarded"
    dropped, resent, follow_up = (entry["body"] for entry in serve.requests())
    assert full_resend(resent) and resent["input"] == dropped["input"]
    assert follow_up["previous_response_id"], "the next request chains again on the new socket"


async def test_row1_retries_are_bounded_then_the_turn_fails_cleanly(serve, workspace):
    serve.arm(kind="close", turn=0, after_events=BEFORE_COMPLETED, times=0)
    run = await run_session(serve.base_url, workspace, max_retries=2)
    assert_failed_cleanly(run, message="Gave up after 2 retries")
    sent = serve.requests()
    assert [entry["transport"] for entry in sent] == ["websocket"] * 3 + ["http"] * 3
    assert all(full_resend(entry["body"]) for entry in sent)
    assert [type(event).__name__ for event in run.events].count("TransportChanged") == 1
    assert len(run.delays) == 4 and all(delay <= backoff_delay(2) for delay in run.delays)


# ---- row 2: websocket_connection_limit_reached, and rotation by age ----------------------------------


async def test_row2_the_connection_limit_rotates_once_and_resends_everything(serve, workspace):
    serve.arm(kind="error", turn=1, error=CONNECTION_LIMIT)
    run = await run_session(serve.base_url, workspace)
    assert_ran_once(run)
    [reconnect] = run.reconnects
    assert (reconnect.cause, reconnect.attempt, reconnect.delay_s) == ("websocket_connection_limit_reached", 0, 0.0)
    assert run.delays == [], "a rotation waits for nothing and costs no retry"
    first, refused, resent = serve.requests()
    assert refused["body"]["previous_response_id"] and full_resend(resent["body"])
    assert first["connection"] == refused["connection"] != resent["connection"]
    assert [item["type"] for item in resent["body"]["input"]] == [
        "message",
        "message",
        "function_call",
        "function_call_output",
    ]


async def test_row2_an_old_socket_is_replaced_at_a_turn_start_never_mid_turn(serve, workspace):
    run = await run_session(serve.base_url, workspace, PROMPT, "anything else?", max_connection_age_s=0.001)
    assert_nothing_lost(run)
    assert [event.reason for event in run.ended] == ["completed", "completed"] and run.runs == 1
    first, second, third = (entry["connection"] for entry in serve.requests())
    assert first == second != third, "the tool round trip stays on its socket; the next turn gets a new one"


# ---- row 3: previous_response_not_found -------------------------------------------------------------


async def test_row3_a_forgotten_response_is_resent_once_at_once_on_the_same_socket(serve, workspace):
    serve.arm(kind="forget")
    run = await run_session(serve.base_url, workspace)
    assert_ran_once(run)
    [reconnect] = run.reconnects
    assert (reconnect.cause, reconnect.delay_s) == ("previous_response_not_found", 0.0) and run.delays == []
    first, refused, resent = serve.requests()
    assert refused["body"]["previous_response_id"] and full_resend(resent["body"])
    assert first["connection"] == refused["connection"] == resent["connection"]


# ---- row 4: a server that stalls while answering pings, and a half-open connection --------------------


@pytest.mark.parametrize("after_events", [AFTER_FIRST_DELTA, BEFORE_COMPLETED])
async def test_row4_a_stalled_response_trips_the_idle_watchdog_and_is_resent(serve, workspace, after_events):
    serve.arm(kind="stall", turn=0, after_events=after_events)
    run = await run_session(serve.base_url, workspace, idle_timeout_s=0.3)
    assert_ran_once(run)
    assert [event.cause for event in run.reconnects] == ["stalled"]
    assert full_resend(serve.requests()[1]["body"])


class BlackHoleProxy:
    """A TCP proxy to `upstream` whose first connection goes silent both ways (a half-open path:
    no events, no pongs) once the server has sent `trigger`; later connections pass through."""

    def __init__(self, upstream_port: int, trigger: bytes) -> None:
        self.upstream_port = upstream_port
        self.trigger = trigger
        self.connections = 0
        self.port = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    async def __aenter__(self) -> BlackHoleProxy:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        silent = asyncio.Event() if self.connections == 1 else None
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        self._writers += [client_writer, server_writer]
        for source, sink, watch in ((client_reader, server_writer, False), (server_reader, client_writer, True)):
            task = asyncio.ensure_future(self._pump(source, sink, silent, watch))
            self._tasks.add(task)

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, silent: asyncio.Event | None, watch: bool
    ) -> None:
        seen = b""
        while data := await source.read(65536):
            if silent is not None and silent.is_set():
                continue  # swallowed: neither side hears from the other again
            sink.write(data)
            await sink.drain()
            if silent is not None and watch:
                seen = (seen + data)[-len(self.trigger) - 65536 :]
                if self.trigger in seen:
                    silent.set()
        sink.transport.abort()


async def test_row4_a_half_open_connection_is_detected_by_pings_and_resent(serve, workspace):
    port = int(serve.base_url.rsplit(":", 1)[1].split("/")[0])
    async with BlackHoleProxy(port, trigger=b'"response.output_text.done"') as proxy:
        run = await run_session(
            f"http://127.0.0.1:{proxy.port}/v1",
            workspace,
            ping_interval_s=0.1,
            ping_timeout_s=0.2,
            idle_timeout_s=60.0,
        )
    assert_ran_once(run)
    assert [event.cause for event in run.reconnects] == ["closed_1011"], "keepalive ping timeout, not the watchdog"
    assert proxy.connections == 2
    assert full_resend(serve.requests()[1]["body"])


# ---- row 5: the upgrade refused with 429 Retry-After, and with 401 -----------------------------------


async def test_row5_a_429_upgrade_waits_at_least_retry_after_then_connects(serve, workspace):
    serve.arm(kind="reject_upgrade", status=429, retry_after=3)
    run = await run_session(serve.base_url, workspace)
    assert_ran_once(run)
    assert len(run.delays) == 1 and 3 <= run.delays[0] <= 3.25
    assert [event.cause for event in run.reconnects] == ["rate_limited"]


async def test_row5_a_429_upgrade_that_persists_is_no_tight_loop(serve, workspace):
    serve.arm(kind="reject_upgrade", status=429, retry_after=2, times=0)
    run = await run_session(serve.base_url, workspace, max_retries=2)
    assert_ran_once(run)
    assert len(run.delays) == 2 and all(delay >= 2 for delay in run.delays), "every attempt waited"
    changed = [event for event in run.events if isinstance(event, TransportChanged)]
    assert [event.transport for event in changed] == ["http"]
    assert [entry["transport"] for entry in serve.requests()] == ["http", "http"]


async def test_row5_a_401_fails_fast_with_a_clear_message(tmp_path, workspace):
    guarded = start_serve(tmp_path / "guarded", "--api-key", "sk-the-right-key")
    try:
        run = await run_session(guarded.base_url, workspace)
        assert_failed_cleanly(run, message="refused the API key")
        assert run.delays == [] and run.reconnects == []
        assert guarded.connections() == 0 and guarded.requests() == []
    finally:
        stop_serve(guarded)


# ---- row 6: error events (429 rate limit, insufficient quota, 5xx) and response.failed ---------------


def error_event(status: int, code: str, message: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"status": status, "error": {"type": kind, "code": code, "message": message}}


@pytest.mark.parametrize(
    ("error", "cause", "least_delay"),
    [
        (error_event(429, "rate_limit_exceeded", "Rate limit reached. Please try again in 1.5s."), None, 1.5),
        (error_event(500, "server_error", "The server had an error.", "server_error"), "server_error", 0.0),
        (error_event(503, "server_is_overloaded", "Overloaded.", "server_error"), "server_is_overloaded", 0.0),
    ],
    ids=["rate_limit_exceeded", "500", "503"],
)
async def test_row6_transient_error_events_are_retried_with_a_full_resend(serve, workspace, error, cause, least_delay):
    serve.arm(kind="error", turn=0, after_events=BEFORE_COMPLETED, error=error)
    run = await run_session(serve.base_url, workspace)
    assert_ran_once(run)
    [reconnect] = run.reconnects
    assert reconnect.cause == (cause or error["error"]["code"])
    [delay] = run.delays
    assert least_delay <= delay <= max(least_delay + 0.25, backoff_delay(1))
    assert full_resend(serve.requests()[1]["body"])


async def test_row6_insufficient_quota_stops_at_once(serve, workspace):
    quota = error_event(429, "insufficient_quota", "You exceeded your current quota.", "insufficient_quota")
    serve.arm(kind="error", turn=0, after_events=BEFORE_COMPLETED, error=quota)
    run = await run_session(serve.base_url, workspace)
    assert_failed_cleanly(run, message="exceeded your current quota")
    assert run.delays == [] and run.reconnects == [] and len(serve.requests()) == 1


RUN = function_call("shell", "c_run", {"command": COMMAND})
DONE = message("Done.")


@pytest.mark.xfail(strict=True, reason="a response.failed with a retryable server error is not retried yet")
async def test_row6_a_failed_response_with_a_server_error_is_retried_like_a_drop(workspace):
    failed = response_events(status="failed", error={"code": "server_error", "message": "The model crashed."})
    async with model_like_server(failed) as server:
        run = await run_session(server.url, workspace)
    assert_ran_once(run)
    assert [event.cause for event in run.reconnects] == ["server_error"] and len(run.delays) == 1
    assert full_resend(server.requests[1])


async def test_row6_a_failed_response_with_a_request_error_is_not_retried(workspace):
    failed = response_events(status="failed", error={"code": "invalid_prompt", "message": "The prompt was refused."})
    async with raw_server(failed) as server:
        run = await run_session(http_url(server), workspace)
    assert_nothing_lost(run)
    [ended] = run.ended
    assert ended.reason == "failed" and "The prompt was refused." in (ended.message or "")
    assert run.reconnects == [] and run.runs == 0 and len(server.requests) == 1


# ---- row 7: frames over 1 MiB -----------------------------------------------------------------------


async def test_row7_a_frame_over_one_mebibyte_is_accepted(serve, workspace):
    serve.arm(kind="oversize", turn=0, after_events=BEFORE_COMPLETED, size_bytes=2 * 1024 * 1024)
    run = await run_session(serve.base_url, workspace)
    assert_ran_once(run)
    assert run.reconnects == []


async def test_row7_a_frame_over_the_limit_is_a_clean_error_and_no_reconnect_storm(serve, workspace):
    before = serve.connections()
    limit = 16 * 1024 * 1024
    serve.arm(kind="oversize", turn=0, after_events=BEFORE_COMPLETED, size_bytes=limit + 1024 * 1024, times=0)
    run = await run_session(serve.base_url, workspace, max_frame_bytes=limit)
    assert_failed_cleanly(run, message=f"{limit}-byte limit")
    assert run.reconnects == [] and run.delays == []
    assert serve.connections() == before + 1 and len(serve.requests()) == 1


# ---- row 8: malformed and unknown events, frames that are not UTF-8 --------------------------------------


async def test_row8_a_frame_that_is_not_json_is_a_transport_error_and_is_resent(serve, workspace):
    serve.arm(kind="malformed", turn=0, after_events=BEFORE_COMPLETED)
    run = await run_session(serve.base_url, workspace)
    assert_ran_once(run)
    assert [event.cause for event in run.reconnects] == ["protocol_violation"]
    assert full_resend(serve.requests()[1]["body"])


async def test_row8_unknown_events_are_skipped(serve, workspace):
    serve.arm(kind="oversize", turn=0, after_events=MID_ARGUMENTS, size_bytes=200)
    run = await run_session(serve.base_url, workspace)
    assert_ran_once(run)
    assert run.reconnects == [] and len(serve.requests()) == 2


class TextBytes(bytes):
    """Bytes sent as a text frame, unchecked (a text frame that is not UTF-8)."""


@dataclass
class ModelLikeServer:
    """A raw WebSocket server that sends scripted frames to the first requests, then answers as
    the model would: `RUN` to a request whose input has no output for it, `DONE` once it has.

    Unlike `tests.agent.raw_server`, what a request gets does not depend on how many came
    before it, so a case reads the same whether the client retries a broken response or
    tolerates it.
    """

    first: list[list[Frame]]
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)

    def answer(self, request: dict[str, Any]) -> list[Frame]:
        if self.first:
            return self.first.pop(0)
        answered = any(item.get("type") == "function_call_output" for item in request.get("input", []))
        return list(response_events(DONE if answered else RUN))

    async def handle(self, connection: ServerConnection) -> None:
        try:
            async for frame in connection:
                request = json.loads(frame)
                self.requests.append(request)
                for reply in self.answer(request):
                    if isinstance(reply, TextBytes):
                        await connection.send(bytes(reply), text=True)
                    else:
                        await connection.send(json.dumps(reply) if isinstance(reply, dict) else reply)
        except ConnectionClosed:
            return


@asynccontextmanager
async def model_like_server(*first: list[Frame]) -> AsyncIterator[ModelLikeServer]:
    state = ModelLikeServer(list(first))
    async with ws_serve(state.handle, "127.0.0.1", 0, max_size=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        state.url = f"http://127.0.0.1:{port}/v1"
        yield state


NOT_UTF8 = b'{"type": "response.output_text.delta", "delta": "\xff\xfe"}'
"""An event whose bytes are not UTF-8."""


@pytest.mark.parametrize("frame", [NOT_UTF8, TextBytes(NOT_UTF8)], ids=["binary", "text"])
async def test_row8_a_frame_that_is_not_utf8_is_a_transport_error_and_is_resent(workspace, frame):
    async with model_like_server([*response_events(RUN)[:-1], frame]) as server:
        run = await run_session(server.url, workspace)
    assert_ran_once(run)
    assert [event.cause for event in run.reconnects] == ["protocol_violation"]
    assert full_resend(server.requests[1])


# ---- streams only a raw server sends: duplicates, reuse, events after the end, wrong types -----------

AT_MOST_ONCE = pytest.mark.xfail(strict=True, reason="the ledger of answered call ids is not in place yet")
ROBUST_EVENTS = pytest.mark.xfail(strict=True, reason="typed-field checks of server events are not in place yet")


def with_response(events: list[dict[str, Any]], **changes: Any) -> list[dict[str, Any]]:
    """`events` with fields of the terminal event's response changed."""
    *body, end = events
    return [*body, {**end, "response": {**end["response"], **changes}}]


@AT_MOST_ONCE
async def test_a_duplicated_completed_event_runs_nothing_twice(workspace):
    first = response_events(RUN)
    async with model_like_server([*first, first[-1]]) as server:
        run = await run_session(server.url, workspace)
    assert_ran_once(run)


@AT_MOST_ONCE
async def test_the_same_call_id_twice_in_one_response_runs_once(workspace):
    async with model_like_server(response_events(RUN, {**RUN, "id": "fc_twin"})) as server:
        run = await run_session(server.url, workspace)
    assert_ran_once(run)


@AT_MOST_ONCE
async def test_a_call_id_reused_by_the_next_response_is_not_run_again(workspace):
    async with model_like_server(response_events(RUN), response_events({**RUN, "id": "fc_again"})) as server:
        run = await run_session(server.url, workspace)
    assert_nothing_lost(run)
    assert run.runs == 1


@AT_MOST_ONCE
async def test_a_duplicated_output_item_done_runs_once(workspace):
    events = with_response(response_events(RUN), output=[])
    done = [event for event in events if event["type"] == "response.output_item.done"]
    async with model_like_server([*events[:-1], *done, events[-1]]) as server:
        run = await run_session(server.url, workspace)
    assert_ran_once(run)


@AT_MOST_ONCE
async def test_events_after_the_terminal_event_are_not_part_of_the_next_response(workspace):
    stale_call = function_call("shell", "c_stale", {"command": "echo stale >> ran.log"})
    after_the_end: list[Frame] = [
        {"type": "response.output_text.delta", "item_id": "msg_x", "output_index": 0, "delta": "STALE"},
        {"type": "response.output_item.done", "output_index": 1, "item": stale_call},
    ]
    answer = with_response(response_events(DONE), output=[])
    async with model_like_server([*response_events(RUN), *after_the_end], answer) as server:
        run = await run_session(server.url, workspace)
    assert_ran_once(run)
    assert "STALE" not in run.text()


def _items_replaced(events: list[dict[str, Any]], kind: str, item: Any) -> list[dict[str, Any]]:
    return [{**event, "item": item} if event["type"] == kind else event for event in events]


WRONG_TYPES: dict[str, Callable[[list[dict[str, Any]]], list[dict[str, Any]]]] = {
    "item_not_a_dict": lambda events: _items_replaced(events, "response.output_item.added", "notadict"),
    "error_code_a_number": lambda events: [*events[:-1], {"type": "error", "code": 5, "message": "bad"}],
    "call_id_a_number": lambda events: with_response(
        _items_replaced(events, "response.output_item.done", {**RUN, "call_id": 7}), output=[{**RUN, "call_id": 7}]
    ),
    "usage_not_a_number": lambda events: with_response(events, usage={"input_tokens": "many"}),
}

NOT_YET_CHECKED = {"item_not_a_dict", "error_code_a_number", "call_id_a_number"}


@pytest.mark.parametrize(
    "mutation",
    [pytest.param(name, marks=[ROBUST_EVENTS] if name in NOT_YET_CHECKED else []) for name in WRONG_TYPES],
)
async def test_a_wrongly_typed_field_ends_the_response_as_a_protocol_error_never_a_crash(workspace, mutation):
    async with model_like_server(WRONG_TYPES[mutation](response_events(RUN))) as server:
        run = await run_session(server.url, workspace)
    assert_nothing_lost(run)
    assert [event.reason for event in run.ended] in (["completed"], ["error"])
    assert run.runs == (1 if run.ended[0].reason == "completed" else 0)


# ---- row 24: Ctrl-C while a command runs, in `codeassist exec` ------------------------------------

SLOW_COMMAND = "sleep 60 & echo $$ $! > pids; wait; echo ran >> ran.log"
SLOW_SCENARIO = {
    "name": "fault-matrix-slow",
    "turns": [
        {
            "output": [
                {"type": "function_call", "call_id": "c_slow", "name": "shell", "arguments": {"command": SLOW_COMMAND}}
            ]
        },
        {"output": [{"type": "message", "text": "Done."}]},
    ],
}


def exec_environment(tmp_path: Path) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CODEASSIST_"))}
    return {
        **environ,
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "OPENAI_API_KEY": "sk-test-abcdefghijklmnopqrstuvwxyz012345",
    }


def alive(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie waiting to be reaped counts as dead)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def wait_for(condition: Callable[[], bool], what: str, limit_s: float = 30.0) -> None:
    """Poll `condition` until it holds (the limit only keeps a broken build from hanging)."""
    deadline = time.monotonic() + limit_s
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.02)


def test_row24_ctrl_c_during_a_command_kills_it_and_leaves_a_valid_session(tmp_path, workspace):
    slow = start_serve(tmp_path / "slow", scenario=SLOW_SCENARIO)
    environ = exec_environment(tmp_path)
    common = ["--base-url", slow.base_url, "--approval", "full-auto", "--sandbox", "off", "--json"]
    try:
        process = subprocess.Popen(
            [CODEASSIST, "exec", *common, PROMPT], cwd=workspace, env=environ, stdout=subprocess.PIPE, text=True
        )
        pids = workspace / "pids"
        wait_for(lambda: len(pids.read_text().split()) == 2 if pids.exists() else False, "the command to start")
        shell, sleep = (int(pid) for pid in pids.read_text().split())
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=30)
        assert process.returncode == 130
        wait_for(lambda: not alive(shell) and not alive(sleep), "the command and its child to die")
        assert not (workspace / "ran.log").exists()
        started = json.loads(out.splitlines()[0])
        log = load_session(Path(started["log_path"]))
        run = Run([], log, [], workspace, (PROMPT,))
        assert_log_whole(run)
        [ended] = run.records("turn_ended")
        assert ended["reason"] == "cancelled"
        [output] = run.items("function_call_output")
        assert output["call_id"] == "c_slow" and output["output"].startswith("aborted")

        before = len(slow.requests())
        again = subprocess.run(
            [CODEASSIST, "exec", *common, "--continue", "go on"],
            cwd=workspace,
            env=environ,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert again.returncode == 0, again.stderr
        first = slow.requests()[before]["body"]
        assert "previous_response_id" not in first, "the next session's first request resends the whole conversation"
        assert [item["type"] for item in first["input"]] == ["message", "function_call", "function_call_output"]
        assert first["input"][2]["output"].startswith("aborted")
    finally:
        stop_serve(slow)
