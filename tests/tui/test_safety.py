"""What the app says and does about the sandbox and the permission rules (Pilot, real server)."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from agent.sandbox import sandbox_support
from tests.tui.conftest import SIZE, call, scenario, wait_idle
from tests.tui.test_app import EDIT, HELLO, send
from tui.widgets.approval import ApprovalCard
from tui.widgets.header import RepoHeader
from tui.widgets.transcript import NoticeLine

needs_bwrap = pytest.mark.skipif(not sandbox_support().available, reason=sandbox_support().detail)


def notices(app) -> list[str]:
    return [line.message for line in app.query(NoticeLine)]


def header_text(app) -> str:
    return str(app.query_one(RepoHeader).render())


@pytest.fixture
def without_bwrap(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """A machine without bubblewrap: a PATH with git and the shell, but no bwrap."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for program in ("git", "bash", "sh", "cat", "env"):
        found = next((Path(d) / program for d in os.environ["PATH"].split(":") if (Path(d) / program).exists()), None)
        if found is not None:
            (bin_dir / program).symlink_to(found)
    monkeypatch.setenv("PATH", str(bin_dir))
    sandbox_support.cache_clear()
    yield
    sandbox_support.cache_clear()


@needs_bwrap
async def test_the_header_names_the_policy_and_the_sandbox(make_app):
    app = make_app(HELLO)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "ask · sandbox workspace-write" in header_text(app)
        await send(pilot, "/approval full-auto")
        await pilot.pause()
        assert "full-auto · sandbox workspace-write" in header_text(app)


async def test_without_bwrap_the_app_says_so_and_commands_ask_even_under_full_auto(make_app, without_bwrap, repo):
    shell = scenario(
        {"output": [call("shell", "s", command="echo ran > marker.txt", timeout_s=None, workdir=None)]},
        {"output": [{"type": "message", "text": "Done."}]},
    )
    app = make_app(shell, approval="full-auto")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "no sandbox" in header_text(app)
        said = "\n".join(notices(app))
        assert "bubblewrap (bwrap) is not installed" in said and "--sandbox off" in said
        await send(pilot, "go")
        await pilot.pause(1.0)
        card = app.query_one(ApprovalCard)  # asked, although the policy is full-auto
        assert card.pending
        card.focus()
        await pilot.press("y")
        await wait_idle(app, pilot)
        assert (repo / "marker.txt").read_text() == "ran\n"


async def test_sandbox_off_opts_out_of_the_asking(make_app, without_bwrap, repo):
    shell = scenario(
        {"output": [call("shell", "s", command="echo ran > marker.txt", timeout_s=None, workdir=None)]},
        {"output": [{"type": "message", "text": "Done."}]},
    )
    app = make_app(shell, approval="full-auto", sandbox="off")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "go")
        await wait_idle(app, pilot)
        assert not app.query(ApprovalCard)
        assert (repo / "marker.txt").read_text() == "ran\n"
        assert "full-auto · sandbox off" in header_text(app)


async def test_the_first_session_in_a_repository_states_the_policy_and_sandbox_once(make_app, tmp_path: Path):
    (tmp_path / "data" / "codeassist" / "workspaces.json").unlink()
    first = make_app(HELLO)
    async with first.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert any(line.startswith("First session in") and "approval ask" in line for line in notices(first))
    again = make_app(HELLO)
    async with again.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert not any(line.startswith("First session in") for line in notices(again))


@needs_bwrap
async def test_slash_sandbox_shows_and_changes_the_sandbox(make_app):
    app = make_app(HELLO)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "/sandbox")
        await pilot.pause()
        assert "sandbox workspace-write" in notices(app)[-1] and "no network" in notices(app)[-1]
        await send(pilot, "/sandbox read-only")
        await pilot.pause()
        assert "sandbox read-only" in notices(app)[-1]
        assert "ask · sandbox read-only" in header_text(app)
        assert app.session.agent.tool_context.sandbox.mode == "read-only"
        await send(pilot, "/sandbox sideways")
        await pilot.pause()
        assert "no sandbox mode 'sideways'" in notices(app)[-1]


async def test_slash_permissions_lists_revokes_and_saves_rules(make_app, repo, tmp_path: Path):
    app = make_app(EDIT, deny=["shell:git push"])
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "change it")
        await pilot.pause(1.0)
        app.query_one(ApprovalCard).focus()
        await pilot.press("a")
        await wait_idle(app, pilot)
        assert "/permissions" in str(app.query_one(ApprovalCard).query_one("#approval-hint").render())

        await send(pilot, "/permissions")
        await pilot.pause()
        listing = notices(app)[-1]
        assert "deny  shell:git push  (config)" in listing
        assert "ask   read_file:.env*  (built-in)" in listing
        assert "allow edit_file  (session)" in listing
        number = next(line.split(".")[0].strip() for line in listing.splitlines() if "edit_file  (session)" in line)

        await send(pilot, f"/permissions save {number}")
        await pilot.pause()
        saved = tomllib.loads((tmp_path / "config" / "codeassist" / "config.toml").read_text())
        assert saved["allow"] == ["edit_file"]

        await send(pilot, f"/permissions revoke {number}")
        await pilot.pause()
        assert "revoked allow edit_file" in notices(app)[-1]
        assert "edit_file" not in app.session.agent.approvals.rules

        await send(pilot, "/permissions revoke 999")
        await pilot.pause()
        assert "usage: /permissions" in notices(app)[-1]
