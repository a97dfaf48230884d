"""Fixtures for the agent core: temp git repositories and settings aimed at a loopback server."""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agent.approvals import NON_INTERACTIVE_DENIAL, ApprovalRequest, Decision
from agent.config import Settings
from agent.events import ApprovalRequested


def non_interactive(request: ApprovalRequest) -> Decision:
    return NON_INTERACTIVE_DENIAL


async def answered_turn(
    runner: Any, prompt: str, decide: Callable[[ApprovalRequest], Decision] = non_interactive
) -> list:
    """Run one turn of a `Session` (or an `Agent`) to its end, answering every approval request by
    call id as soon as it is asked (as `codeassist exec` does); the events."""
    events = []
    async for event in runner.run_turn(prompt):
        events.append(event)
        if isinstance(event, ApprovalRequested):
            assert runner.answer_approval(event.request.call_id, decide(event.request))
    return events


class LoopbackListener:
    """A TCP server on the host's loopback that accepts and counts connections (closing each)."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.accepted += 1
            connection.close()


def make_repo(root: Path, files: dict[str, str]) -> Path:
    """A real git repository with `files` committed."""
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    run = {"cwd": root, "check": True, "capture_output": True}
    subprocess.run(["git", "init", "-q", "-b", "main"], **run)
    subprocess.run(["git", "add", "-A"], **run)
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "init"], **run)
    return root


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"a.py": "print('hello')\n", "pkg/b.py": "X = 1\n", "AGENTS.md": "Use tabs.\n"})


def settings_at(base_url: str, **overrides: object) -> Settings:
    """Settings for a session against the endpoint at `base_url`, with fast timeouts for tests."""
    values: dict[str, object] = {
        "base_url": base_url,
        "model": "scripted-test",
        "api_key": "sk-test-abcdefghijklmnopqrstuvwxyz012345",
        "warmup": False,
        "idle_timeout_s": 5.0,
        "open_timeout_s": 5.0,
        "reasoning_effort": None,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def settings_for(server, **overrides: object) -> Settings:
    """Settings for a session against `server`, with fast timeouts for tests."""
    return settings_at(**{"base_url": server.address.base_url, **overrides})
