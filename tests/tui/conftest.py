"""App fixtures: the real app against a real loopback server, in a temp git repository."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.sandbox import sandbox_support
from server.scenario import Scenario
from tests.agent.conftest import make_repo, settings_for
from tui.app import CodeassistApp
from tui.history import PromptHistory

SIZE = (150, 45)

COMMAND_SANDBOX = "auto" if sandbox_support().available else "off"
"""Apps run their commands in the sandbox where it works; elsewhere unsandboxed (`off`), so that
`full-auto` runs them and no "no sandbox" notice joins the transcript. Tests of what the app says
without a sandbox take the sandbox away themselves (tests/tui/test_safety.py)."""


class ManualClock:
    """A monotonic clock for the app's typing and approval grace periods, with no wall clock.

    By default every reading is `step` (10 s) after the previous one, so no two events are ever
    "recent" and the grace periods never apply (tests that do not exercise them behave as if the
    user paused between keys). `freeze()` stops it; `advance()` then moves it explicitly."""

    def __init__(self, step: float = 10.0) -> None:
        self.now = 1000.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now

    def freeze(self) -> ManualClock:
        self.step = 0.0
        return self

    def advance(self, seconds: float) -> None:
        self.now += seconds


def seen_before(workspace: Path, data_home: Path) -> None:
    """Record `workspace` as one where codeassist ran before: the first-session notice (tested on
    its own) stays out of the transcript of every other test."""
    store = data_home / "codeassist" / "workspaces.json"
    store.parent.mkdir(parents=True, exist_ok=True)
    store.write_text(json.dumps([str(workspace.resolve())]))


def call(name: str, call_id: str, **arguments: object) -> dict:
    return {"type": "function_call", "name": name, "call_id": call_id, "arguments": arguments}


def scenario(*turns: dict, **extra: object) -> Scenario:
    return Scenario.model_validate({"name": "tui", "turns": list(turns), **extra})


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"a.py": "print('hello')\n", "pkg/core.py": "X = 1\n"})


@pytest.fixture
def make_app(start_server, repo: Path, tmp_path: Path, monkeypatch):
    """Build an app for a scenario (the server starts with it)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    seen_before(repo, tmp_path / "data")

    def build(scene: Scenario, **settings: object) -> CodeassistApp:
        settings.setdefault("sandbox", COMMAND_SANDBOX)
        server = start_server(scene)
        app = CodeassistApp(
            settings_for(server, **settings),
            repo,
            session_options={"log_root": tmp_path / "sessions"},
            history=PromptHistory(tmp_path / "history.jsonl"),
        )
        app.server = server  # type: ignore[attr-defined]
        app.clock = ManualClock()
        return app

    return build


async def wait_idle(app: CodeassistApp, pilot) -> None:
    """Wait until no turn is running and the screen has caught up."""
    await app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause(0.2)


async def until(pilot, condition, timeout_s: float = 15.0) -> None:
    """Pause until `condition()` holds (fail after `timeout_s`)."""
    for _ in range(int(timeout_s / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("the app never reached the expected state")
