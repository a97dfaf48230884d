"""`codeassist demo` in the app: the scripted model fixes the sample project, approved by keypress."""

from __future__ import annotations

import json
import subprocess

from codeassist.demo import demo_app, demo_session
from tests.tui.conftest import ManualClock
from tests.tui.test_app import send
from tui.widgets.approval import ApprovalCard
from tui.widgets.stats_panel import StatsPanel
from tui.widgets.tool_card import ToolCard
from tui.widgets.transcript import AssistantMessage, NoticeLine


async def test_the_demo_fixes_the_sample_project_with_y_approvals(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    app, environment = demo_app(tmp_path, tokens_per_second=0)
    app.clock = ManualClock()  # no grace period delays the keypress below
    approved = []
    try:
        async with app.run_test(size=(150, 45)) as pilot:
            for _ in range(900):
                await pilot.pause(0.1)
                for card in app.query(ApprovalCard):
                    if card.decided is None:
                        approved.append(card.request.tool)
                        card.focus()
                        await pilot.press("y")
                if app.session is not None and app.session.turns and not app.running:
                    break
            statuses = [(card.tool_name, card.status) for card in app.query(ToolCard)]
            assert approved == ["shell", "edit_file", "shell"], statuses
            assert app.query(AssistantMessage).last().text
            assert statuses.count(("shell", "error")) == 1, "only the first test run fails"
            assert all(status == "ok" for name, status in statuses if name != "shell")
            assert len(app.query_one(StatsPanel).turns) == 1
        changed = subprocess.run(
            ["git", "status", "--porcelain"], cwd=environment.workspace, capture_output=True, text=True, check=True
        ).stdout
        assert "core.py" in changed
        saved = demo_session(environment.workspace)
        assert saved is not None and saved.is_relative_to(tmp_path / "data" / "codeassist" / "sessions")
    finally:
        environment.close()


async def first_card(app, pilot) -> ApprovalCard:
    for _ in range(600):
        await pilot.pause(0.05)
        pending = [card for card in app.query(ApprovalCard) if card.decided is None]
        if pending:
            pending[0].focus()
            await pilot.pause()
            return pending[0]
    raise AssertionError("no approval card appeared")


def turn_endings(app) -> list[str]:
    """Why each turn of the app's session ended, as its session file records it."""
    path = app.session.flush()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    return [record["reason"] for record in records if record["type"] == "turn_ended"]


async def until_idle(app, pilot) -> None:
    for _ in range(600):
        await pilot.pause(0.05)
        if not app.running:
            break
    await app.workers.wait_for_complete()
    await pilot.pause()


async def test_denying_in_the_demo_ends_the_turn_with_the_scripted_answer(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    app, environment = demo_app(tmp_path, tokens_per_second=0)
    app.clock = ManualClock()
    try:
        async with app.run_test(size=(150, 45)) as pilot:
            card = await first_card(app, pilot)
            assert card.request.tool == "shell"
            await pilot.press("n")
            await pilot.press("enter")
            await until_idle(app, pilot)
            assert turn_endings(app) == ["completed"]
            assert "I won't run the tests" in app.query(AssistantMessage).last().text
            notices = " ".join(str(line.content) for line in app.query(NoticeLine))
            assert "scenario" not in notices and "expected" not in notices
    finally:
        environment.close()


async def test_cancelling_in_the_demo_then_writing_again_gets_the_scripted_answer(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    app, environment = demo_app(tmp_path, tokens_per_second=0)
    app.clock = ManualClock()
    try:
        async with app.run_test(size=(150, 45)) as pilot:
            await first_card(app, pilot)
            await pilot.press("escape")
            await until_idle(app, pilot)
            assert turn_endings(app) == ["cancelled"]
            await send(pilot, "go on")
            await until_idle(app, pilot)
            assert turn_endings(app) == ["cancelled", "completed"]
            assert "cancelled before it finished" in app.query(AssistantMessage).last().text
            notices = " ".join(str(line.content) for line in app.query(NoticeLine))
            assert "scenario" not in notices and "expected" not in notices
    finally:
        environment.close()
