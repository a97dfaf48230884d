"""`codeassist demo` in the app: the scripted model fixes the sample project, approved by keypress."""

from __future__ import annotations

import subprocess

from codeassist.demo import demo_app, demo_session
from tests.tui.conftest import ManualClock
from tui.widgets.approval import ApprovalCard
from tui.widgets.stats_panel import StatsPanel
from tui.widgets.tool_card import ToolCard
from tui.widgets.transcript import AssistantMessage


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
