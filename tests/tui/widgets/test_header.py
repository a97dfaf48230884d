"""The header: a repository's branch and state, and no branch claimed outside a repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tui.conftest import SIZE, scenario
from tui.widgets.header import RepoHeader

IDLE = scenario({"output": [{"type": "message", "text": "ok"}]})


def header_text(app) -> str:
    return str(app.query_one(RepoHeader).content)


@pytest.fixture
def plain_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "plain"
    directory.mkdir()
    (directory / "notes.txt").write_text("not in git\n")
    return directory


async def test_outside_a_repository_the_header_claims_no_branch(make_app, plain_dir, monkeypatch):
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(plain_dir.parent))
    app = make_app(IDLE)
    app.cwd = plain_dir
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        shown = header_text(app)
    assert "plain" in shown
    assert "not a git repository" in shown
    assert "⎇" not in shown and "detached" not in shown and "✓" not in shown and "●" not in shown


async def test_inside_a_repository_the_header_shows_the_branch(make_app, repo):
    app = make_app(IDLE)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        shown = header_text(app)
    assert "⎇" in shown and "not a git repository" not in shown


async def test_a_narrow_terminal_cuts_the_header_with_an_ellipsis(make_app, repo):
    app = make_app(IDLE)
    async with app.run_test(size=(70, 30)) as pilot:
        await pilot.pause()
        header = app.query_one(RepoHeader)
        line = header.render_line(0).text.rstrip()
    assert line.endswith("…"), line
    assert len(line) <= 70
