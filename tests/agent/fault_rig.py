"""What the fault matrix runs on: `codeassist serve` as a process, sessions and their checks,
and the small servers and proxies that produce what `codeassist serve` does not."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as ws_serve
from websockets.exceptions import ConnectionClosed

from agent.approvals import ApprovalRequest, Decision
from agent.config import Settings
from agent.events import AgentError, AgentEvent, Reconnecting, ToolFinished, TurnEnded
from agent.recorder import ITEMS_RECORD, RESUMED_RECORD
from agent.session import Session
from agent.session_log import LoadedSession, load_session
from agent.transport.scripted import response_events
from bench.serve_process import launch, listening_url, stop
from tests.agent.conftest import answered_turn, settings_at
from tests.agent.raw_server import Frame

# ---- codeassist serve as a process ---------------------------------------------------------------


@dataclass
class ServeProcess:
    """A running `codeassist serve` and its control routes (`/_codeassist/*`)."""

    process: subprocess.Popen[str]
    base_url: str
    api_key: str | None = None

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


def start_serve(directory: Path, scenario: dict[str, Any], *args: str) -> ServeProcess:
    """Start `codeassist serve` playing `scenario` on a free loopback port."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "scenario.json"
    script.write_text(json.dumps(scenario))
    stderr = open(directory / "serve.stderr", "w")  # noqa: SIM115 (closed with the process)
    process = launch("serve", "--port", "0", "--script", str(script), *args, stderr=stderr)
    stderr.close()
    url = listening_url(process)
    if not url:
        process.kill()
        raise RuntimeError((directory / "serve.stderr").read_text())
    api_key = args[args.index("--api-key") + 1] if "--api-key" in args else None
    return ServeProcess(process, url, api_key)


def stop_serve(serve: ServeProcess) -> None:
    stop(serve.process, raise_if_killed=False)


# ---- one session, and the two promises -----------------------------------------------------------


@dataclass
class Run:
    """What one session did: its live events, its log, the backoff delays it asked for."""

    events: list[AgentEvent]
    log: LoadedSession
    delays: list[float]
    workspace: Path
    prompts: tuple[str, ...]
    """Every prompt the session file should hold (a resumed session's earlier ones first)."""
    path: Path | None = None
    """The session file."""
    turns_run: int | None = None
    """Turns this run went through (default: one per prompt)."""

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

    def items(self, kind: str, *, this_run: bool = False) -> list[dict[str, Any]]:
        """The conversation items of type `kind` in the log (only those this run added with `this_run`)."""
        records = self.log.records
        if this_run:
            resumed = [index for index, record in enumerate(records) if record.get("type") == RESUMED_RECORD]
            records = records[resumed[-1] :] if resumed else records
        return [
            item
            for record in records
            if record.get("type") == ITEMS_RECORD
            for item in record["items"]
            if item.get("type") == kind
        ]

    def text(self) -> str:
        """Every streamed text delta the session showed (and recorded)."""
        return "".join(record["text"] for record in self.records("text_delta"))


def approve(request: ApprovalRequest) -> Decision:
    return Decision(kind="approve_once")


def session_settings(base_url: str, **overrides: Any) -> Settings:
    return settings_at(base_url, **{"sandbox": "off", "max_retries": 3, **overrides})


async def run_session(
    base_url: str, workspace: Path, *prompts: str, resume: Path | None = None, **overrides: Any
) -> Run:
    """Open a recorded session against `base_url` (continuing the session file `resume`), run
    `prompts` (every approval approved), close it."""
    delays: list[float] = []

    async def sleep(delay: float) -> None:
        delays.append(delay)

    session = Session.open(
        session_settings(base_url, **overrides),
        cwd=workspace,
        log_root=workspace.parent / "sessions",
        sleep=sleep,
        resume=resume,
    )
    events: list[AgentEvent] = []
    try:
        for prompt in prompts:
            events += await answered_turn(session, prompt, approve)
    finally:
        await session.close()
    assert session.log_path is not None
    log = load_session(session.log_path)
    earlier = tuple(record["prompt"] for record in log.records if record.get("type") == "turn_started")
    earlier = earlier[: len(earlier) - len(prompts)]
    return Run(events, log, delays, workspace, earlier + prompts, session.log_path, len(prompts))


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
    turns = len(run.prompts) if run.turns_run is None else run.turns_run
    assert len(run.ended) == turns and isinstance(run.events[-1], TurnEnded)
    outputs = Counter(item["call_id"] for item in run.items("function_call_output", this_run=True))
    finished = Counter(event.call_id for event in run.events if isinstance(event, ToolFinished))
    assert finished == outputs


def assert_failed_cleanly(run: Run, *, message: str) -> None:
    """The turn ended with a clear error, nothing ran, nothing is left unanswered."""
    assert_nothing_lost(run)
    [ended] = run.ended
    assert ended.reason == "error" and message in (ended.message or "")
    assert [event for event in run.events if isinstance(event, AgentError)], "the error is shown"
    assert run.runs == 0


def full_resend(body: dict[str, Any]) -> bool:
    """Whether a request resends the whole conversation (no chaining on the server's cache)."""
    return "previous_response_id" not in body and body["input"][0]["role"] == "user"


# ---- what codeassist serve cannot do -------------------------------------------------------------


class BlackHoleProxy:
    """A loopback TCP proxy to `upstream_port` whose first connection goes silent both ways (a half-open path:
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


class TextBytes(bytes):
    """Bytes sent as a text frame, unchecked (a text frame that is not UTF-8)."""


@dataclass
class ModelLikeServer:
    """A raw WebSocket server that sends scripted frames to the first requests, then answers as
    a model would: the events of `call` to a request whose input holds no tool output, those of
    `done` once it does.

    Unlike `tests.agent.raw_server`, what a request gets does not depend on how many came
    before it, so a case reads the same whether the client retries a broken response or
    tolerates it.
    """

    first: list[list[Frame]]
    call: dict[str, Any]
    done: dict[str, Any]
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)

    def answer(self, request: dict[str, Any]) -> list[Frame]:
        if self.first:
            return self.first.pop(0)
        answered = any(item.get("type") == "function_call_output" for item in request.get("input", []))
        return list(response_events(self.done if answered else self.call))

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
async def model_like_server(
    *first: list[Frame], call: dict[str, Any], done: dict[str, Any]
) -> AsyncIterator[ModelLikeServer]:
    """Run a `ModelLikeServer` on a free loopback port; its `url` is a session's base URL."""
    state = ModelLikeServer(list(first), call, done)
    async with ws_serve(state.handle, "127.0.0.1", 0, max_size=None) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        state.url = f"http://127.0.0.1:{port}/v1"
        yield state


# ---- codeassist exec as a process -------------------------------------------------------------------


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
