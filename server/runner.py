"""Running the server: in the foreground (`codeassist serve`) or in a background thread.

Both bind the listening socket first, so the real port is known (and printed) before any
client can race the start-up, even with `--port 0`.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from server.accept import new_event_loop
from server.app import build_app
from server.compaction_seal import key_for
from server.engines import ScriptedEngine
from server.faults import Fault, FaultPlan
from server.scenario import Scenario, bundled_scenario_path, load_scenario
from server.state import EndpointLimits, ServerConfig, ServerState

TRANSPORT_FRAME_FACTOR = 4
"""The WebSocket layer accepts frames up to this many times the app limit, so a frame somewhat
over the limit gets a clean `error` event; only far larger ones are closed with 1009."""


@dataclass(frozen=True)
class ServerAddress:
    """Where a running server listens."""

    host: str
    port: int
    tls: bool = False

    @property
    def _host(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    @property
    def base_url(self) -> str:
        """The HTTP base URL to give an OpenAI client (`…/v1`)."""
        return f"{'https' if self.tls else 'http'}://{self._host}:{self.port}/v1"

    @property
    def websocket_url(self) -> str:
        """The WebSocket-mode endpoint (`…/v1/responses`)."""
        return f"{'wss' if self.tls else 'ws'}://{self._host}:{self.port}/v1/responses"


def build_state(
    scenario: Scenario | None = None,
    *,
    script: str | Path | None = None,
    config: ServerConfig | None = None,
    faults: list[Fault] | None = None,
) -> ServerState:
    """A server state with the scripted engine playing `scenario`, `script`, or the demo."""
    if scenario is None:
        scenario = load_scenario(script if script is not None else bundled_scenario_path("demo"))
    plan = FaultPlan([*scenario.all_faults(), *(faults or [])])
    limits = EndpointLimits(
        scenario.context_window, scenario.compaction, scenario.reject_over_window, scenario.web_search
    )
    key = key_for(scenario.model_dump_json().encode())
    return ServerState(ScriptedEngine(scenario), config, plan, limits=limits, compaction_key=key)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on `host:port` (port 0 picks a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and Nagle's
    # algorithm would otherwise hold back small frames for tens of milliseconds.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def _uvicorn_server(state: ServerState, host: str, ssl_certfile: str | None, ssl_keyfile: str | None) -> uvicorn.Server:
    config = uvicorn.Config(
        build_app(state, host),
        ws="websockets-sansio",
        ws_max_size=state.config.max_frame_bytes * TRANSPORT_FRAME_FACTOR,
        ws_ping_interval=state.config.ping_interval,
        ws_ping_timeout=20.0,
        ws_per_message_deflate=True,
        lifespan="off",
        log_config=None,  # the process's logging stays as its owner set it (`server.logs` for `codeassist serve`)
        log_level="warning",
        access_log=False,
        ssl_certfile=ssl_certfile,
        ssl_keyfile=ssl_keyfile,
        timeout_graceful_shutdown=1,
    )
    return uvicorn.Server(config)


async def serve(
    state: ServerState,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    on_ready: Callable[[ServerAddress], None] | None = None,
    ssl_certfile: str | None = None,
    ssl_keyfile: str | None = None,
) -> None:
    """Serve until cancelled or interrupted; `on_ready` gets the address once it listens.

    Run it on `server.accept.new_event_loop()` so running out of file descriptors backs off.
    """
    sock = bind(host, port)
    address = ServerAddress(host, sock.getsockname()[1], tls=ssl_certfile is not None)
    server = _uvicorn_server(state, host, ssl_certfile, ssl_keyfile)
    if on_ready is not None:
        on_ready(address)
    await server.serve(sockets=[sock])


class ServerThread:
    """A server on a loopback port in a background thread, for tests, demos and benchmarks.

    Use as a context manager: `with ServerThread(state) as server: server.address.base_url`.
    """

    def __init__(
        self,
        state: ServerState,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ssl_certfile: str | None = None,
        ssl_keyfile: str | None = None,
    ) -> None:
        self.state = state
        self._sock = bind(host, port)
        self.address = ServerAddress(host, self._sock.getsockname()[1], tls=ssl_certfile is not None)
        self._server = _uvicorn_server(state, host, ssl_certfile, ssl_keyfile)
        self._thread = threading.Thread(target=self._run, name=f"codeassist-serve-{self.address.port}", daemon=True)
        self._error: BaseException | None = None

    def _run(self) -> None:
        try:
            with asyncio.Runner(loop_factory=new_event_loop) as runner:
                runner.run(self._server.serve(sockets=[self._sock]))
        except BaseException as exc:  # surfaced by start()/stop()
            self._error = exc

    def start(self) -> ServerThread:
        self._thread.start()
        while not self._server.started and self._thread.is_alive():
            self._thread.join(0.01)
        if not self._server.started:
            raise RuntimeError(f"server failed to start: {self._error!r}")
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
