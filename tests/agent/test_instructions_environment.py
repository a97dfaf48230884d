"""The environment context: built at session start into the instructions, rebuilt when the
approval policy or the sandbox change, and sent with the next request."""

from __future__ import annotations

import datetime
import subprocess
from pathlib import Path

from agent.instructions import Environment, dirty_summary, environment_context
from agent.session import Session
from server.scenario import Scenario
from tests.agent.conftest import make_repo, settings_for
from tests.agent.recording import requests, run_turn

HELLO = Scenario.model_validate(
    {"name": "hello", "turns": [{"output": [{"type": "message", "text": "Hi."}]} for _ in range(2)]}
)


def context_of(instructions: str) -> str:
    start = instructions.index("<environment_context>")
    return instructions[start : instructions.index("</environment_context>", start)]


def test_the_block_names_every_fact_and_escapes_values(tmp_path: Path) -> None:
    env = Environment(
        cwd=tmp_path / "a<b",
        workspace=tmp_path,
        os="Linux 6.1",
        shell="bash",
        date="2026-11-26",
        approval="auto-edit",
        sandbox="sandbox workspace-write (bubblewrap; no network)",
        git_branch="main",
        git_status="1 changed: M a.py",
    )
    text = environment_context(env)
    for line in (
        f"<cwd>{tmp_path}/a&lt;b</cwd>",
        "<os>Linux 6.1</os>",
        "<shell>bash</shell>",
        "<date>2026-11-26</date>",
        "<approval_policy>auto-edit (file changes in the workspace run; shell commands wait for approval)",
        "<sandbox>sandbox workspace-write (bubblewrap; no network)</sandbox>",
        "<git_branch>main</git_branch>",
        "<git_status_at_start>1 changed: M a.py</git_status_at_start>",
    ):
        assert line in text
    outside = environment_context(Environment(tmp_path, tmp_path, "Linux", "bash", "d", "ask", "off"))
    assert "not a git repository" in outside and "git_branch" not in outside


def test_dirty_summary_names_the_changes_of_a_real_repository(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"a.py": "x = 1\n", "b.py": "y = 2\n"})
    assert dirty_summary(repo) == "clean"
    (repo / "a.py").write_text("x = 2\n")
    (repo / "new.py").write_text("")
    subprocess.run(["git", "mv", "b.py", "c.py"], cwd=repo, check=True)
    assert dirty_summary(repo) == "3 changed: M a.py, R c.py, ?? new.py"
    for n in range(30):
        (repo / f"u{n:02}.py").write_text("")
    assert dirty_summary(repo).endswith(", and 13 more")
    assert dirty_summary(tmp_path / "nowhere") == "unknown"


async def test_the_session_sends_the_environment_and_updates_it_on_policy_and_sandbox(start_server, repo, tmp_path):
    server = start_server(HELLO)
    (repo / "a.py").write_text("print('changed')\n")
    session = Session.open(settings_for(server), cwd=repo / "pkg", log_root=tmp_path / "sessions")
    await run_turn(session, "hi")
    first = context_of(requests(server)[-1]["instructions"])
    assert f"<cwd>{repo / 'pkg'}</cwd>" in first and f"<workspace_root>{repo.resolve()}" in first
    assert f"<date>{datetime.date.today().isoformat()}</date>" in first
    assert "<approval_policy>ask (" in first and "<git_status_at_start>1 changed: M a.py<" in first
    branch = subprocess.run(["git", "branch", "--show-current"], cwd=repo, capture_output=True, text=True).stdout
    assert f"<git_branch>{branch.strip()}</git_branch>" in first
    assert "Use tabs." in requests(server)[-1]["instructions"], "AGENTS.md is still there"
    session.set_policy("read-only")
    session.set_sandbox("off")
    await run_turn(session, "again")
    second = context_of(requests(server)[-1]["instructions"])
    assert "<approval_policy>read-only (" in second and "<sandbox>sandbox off: commands run as you</sandbox>" in second
    assert first.replace("ask (", "") != second
    await session.close()
