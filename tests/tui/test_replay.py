"""Replay in the app: the same widgets, recorded decisions, no execution; keys pause and change speed."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import Settings
from server.faults import Fault
from tests.agent.recording import record_task
from tests.tui.conftest import scenario
from tui.app import CodeassistApp
from tui.widgets.approval import ApprovalCard
from tui.widgets.stats_panel import StatsPanel
from tui.widgets.tool_card import ToolCard
from tui.widgets.transcript import AssistantMessage, NoticeLine, UserMessage

FIXTURE = Path(__file__).with_name("fixtures") / "session.jsonl"


@pytest.fixture
def project(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


def replay_app(project: Path, speed: float | None) -> CodeassistApp:
    return CodeassistApp(Settings(), project, replay=FIXTURE, replay_speed=speed)


async def test_replay_shows_the_recorded_session_and_runs_nothing(project):
    app = replay_app(project, None)
    async with app.run_test(size=(150, 45)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause(0.3)
        assert [m.text for m in app.query(UserMessage)] == ["Make a.py greet the world."]
        assert app.query(AssistantMessage).last().text.startswith("Done.")
        assert [(c.tool_name, c.status) for c in app.query(ToolCard)] == [("read_file", "ok"), ("edit_file", "ok")]
        assert app.query_one(ApprovalCard).decided == "approve_once"
        assert len(app.query_one(StatsPanel).turns) == 1
    assert not (project / "a.py").exists()


async def test_a_replayed_reconnect_mid_answer_shows_the_final_answer_once(project, start_server, repo, tmp_path):
    text = "Said once, after the reconnect: " + " ".join(f"word{n}" for n in range(40)) + "."
    server = start_server(scenario({"output": [{"type": "message", "text": text}]}))
    server.state.faults.add(Fault(kind="close", after_events=8))
    path, _ = await record_task(server, repo, tmp_path / "sessions", prompts=("say it",))
    app = CodeassistApp(Settings(), project, replay=path, replay_speed=None)
    async with app.run_test(size=(150, 45)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause(0.3)
        notices = [n.message for n in app.query(NoticeLine)]
        assert "↺ connection lost — answer restarted" in notices
        assert [m.text for m in app.query(AssistantMessage)] == [text]
        assert [m.source for m in app.query(AssistantMessage)] == [text]


async def test_space_pauses_and_plus_minus_change_the_speed(project):
    app = replay_app(project, 1.0)
    async with app.run_test(size=(150, 45)) as pilot:
        await pilot.press("space")
        assert app.replay.paused
        await pilot.press("plus")
        assert app.replay.speed == 2.0
        await pilot.press("minus", "minus")
        assert app.replay.speed == 0.5
        await pilot.press("space")
        assert not app.replay.paused
