"""Shared fixtures: real servers on loopback ports, scenarios, clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from server.runner import ServerThread, build_state
from server.scenario import Scenario
from server.state import ServerConfig

TOOL_SCENARIO = {
    "name": "tools",
    "model": "scripted-test",
    "turns": [
        {
            "expect": [{"type": "message", "role": "user", "contains": "read a.py"}],
            "output": [
                {"type": "message", "text": "Let me check the file."},
                {"type": "function_call", "call_id": "call_a", "name": "read_file", "arguments": {"path": "a.py"}},
            ],
        },
        {
            "expect": [{"type": "function_call_output", "call_id": "call_a"}],
            "output": [
                {"type": "reasoning", "summary": ["The file has one line.", "Report it."]},
                {"type": "message", "text": "The file says hello."},
            ],
        },
        {
            "expect": [{"type": "message", "role": "user"}],
            "output": [{"type": "message", "text": "Goodbye."}],
        },
    ],
}


def tool_scenario(**changes: object) -> Scenario:
    """The three-turn tool scenario used across the server tests, with top-level overrides."""
    return Scenario.model_validate({**TOOL_SCENARIO, **changes})


StartServer = Callable[..., ServerThread]


@pytest.fixture
def start_server() -> Iterator[StartServer]:
    """Start servers on loopback ports; all are stopped at the end of the test."""
    running: list[ServerThread] = []

    def start(scenario: Scenario | None = None, **config: object) -> ServerThread:
        state = build_state(scenario or tool_scenario(), config=ServerConfig(**config))  # type: ignore[arg-type]
        server = ServerThread(state).start()
        running.append(server)
        return server

    yield start
    for server in running:
        server.stop()


@pytest.fixture
def server(start_server: StartServer) -> ServerThread:
    """A server playing the tool scenario."""
    return start_server()
