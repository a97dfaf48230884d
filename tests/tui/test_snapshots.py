"""Snapshots of the main screens (review the SVGs when they change: `make snapshot-update`)."""

from __future__ import annotations

from pathlib import Path

from agent.config import Settings
from tests.tui.conftest import call, scenario
from tests.tui.test_replay import FIXTURE
from tui.app import CodeassistApp
from tui.welcome import WelcomeApp
from tui.widgets.approval import ApprovalCard
from tui.widgets.prompt import PromptInput


def test_welcome_screen(snap_compare):
    """Expect the three ways forward: an API key, --base-url, codeassist demo."""
    assert snap_compare(WelcomeApp("~/.config/codeassist/config.toml"), terminal_size=(100, 30))


def test_replayed_session_with_stats_panel(snap_compare, tmp_path, monkeypatch):
    """Expect the prompt, reasoning, two tool cards with the approved diff, the answer with a code
    block, the recorded approval, and the stats panel with one turn and its sparklines."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    project = tmp_path / "project"
    project.mkdir()
    app = CodeassistApp(Settings(), project, replay=FIXTURE, replay_speed=None)

    async def finish(pilot) -> None:
        await app.workers.wait_for_complete()
        await pilot.pause(0.5)

    assert snap_compare(app, terminal_size=(150, 48), run_before=finish)


def test_approval_card_with_diff(snap_compare, start_server, tmp_path, monkeypatch):
    """Expect the write_file card waiting, and the approval card with the highlighted diff and keys."""
    from tests.agent.conftest import make_repo, settings_for

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    repo = make_repo(tmp_path / "repo", {"a.py": "print('hello')\n"})
    server = start_server(scenario(
        {"output": [{"type": "message", "text": "I'll add a greeting module."},
                    call("write_file", "w", path="greet.py", content="def greet():\n    return 'bye'\n")]},
    ))
    app = CodeassistApp(settings_for(server, model="scripted-demo"), repo,
                        session_options={"log_root": tmp_path / "sessions"})

    async def ask(pilot) -> None:
        prompt = app.query_one(PromptInput)
        prompt.load_text("Say bye instead")
        await pilot.press("enter")
        for _ in range(50):
            await pilot.pause(0.1)
            if app.query(ApprovalCard):
                break
        await pilot.pause(0.3)

    assert snap_compare(app, terminal_size=(100, 36), run_before=ask)
