"""A command the sandbox blocked is run again outside it, or with network, only after a person
(or an allow rule) says so — under every policy (real bubblewrap, real server, real git repo)."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.events import ApprovalRequested, ToolFinished
from agent.sandbox import sandbox_support
from agent.session import Decision, Session
from server.scenario import Scenario
from tests.agent.conftest import LoopbackListener, settings_for

pytestmark = pytest.mark.skipif(not sandbox_support().available, reason=sandbox_support().detail)


def shell_turns(*commands: str) -> Scenario:
    turns: list[dict] = []
    for index, command in enumerate(commands):
        turns.append(
            {
                "output": [
                    {
                        "type": "function_call",
                        "call_id": f"s{index}",
                        "name": "shell",
                        "arguments": {"command": command, "timeout_s": 20, "workdir": None},
                    }
                ]
            }
        )
        turns.append({"output": [{"type": "message", "text": f"done {index}"}]})
    return Scenario.model_validate({"name": "escalation", "turns": turns})


@pytest.fixture
def outside() -> Iterator[Path]:
    path = Path("/var/tmp") / f"codeassist-escalation-{uuid.uuid4().hex}"
    path.mkdir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


async def turn(session: Session, prompt: str, answer: str | None) -> tuple[list[ApprovalRequested], ToolFinished]:
    asked, finished = [], None
    async for event in session.run_turn(prompt):
        if isinstance(event, ApprovalRequested):
            asked.append(event)
            # nobody expected to be asked: deny, so that the test fails on its assertion, not a hang
            session.answer_approval(event.request.call_id, Decision(kind=answer or "deny"))  # type: ignore[arg-type]
        elif isinstance(event, ToolFinished):
            finished = event
    assert finished is not None
    return asked, finished


async def test_a_blocked_write_is_rerun_outside_only_after_approval(start_server, repo, tmp_path, outside):
    command = f"echo escaped > {outside}/file"
    server = start_server(shell_turns(command, command))
    session = Session.open(settings_for(server, approval="full-auto"), cwd=repo, log_root=tmp_path / "s")
    try:
        asked, finished = await turn(session, "write there", "deny")
        assert [a.request.escalation for a in asked] == ["unsandboxed"]  # asked although full-auto
        assert "sandbox blocked a write outside the workspace" in asked[0].request.summary
        assert finished.status == "error" and "Read-only file system" in finished.output
        assert not (outside / "file").exists()

        asked, finished = await turn(session, "write there again", "approve_once")
        assert len(asked) == 1
        assert finished.status == "ok" and "run again outside the sandbox, as approved" in finished.output
        assert (outside / "file").read_text() == "escaped\n"
    finally:
        await session.close()


def with_remote(repo: Path, listener: LoopbackListener) -> str:
    """Point the repository's `origin` at the listener; the command that reaches it."""
    subprocess.run(["git", "remote", "add", "origin", f"http://127.0.0.1:{listener.port}/x.git"], cwd=repo, check=True)
    return "git ls-remote origin"


async def test_network_is_granted_per_command_prefix_and_remembered(start_server, repo, tmp_path):
    listener = LoopbackListener()
    command = with_remote(repo, listener)
    server = start_server(shell_turns(command, command))
    session = Session.open(settings_for(server, approval="full-auto"), cwd=repo, log_root=tmp_path / "s")
    try:
        asked, _ = await turn(session, "reach it", "approve_always")
        assert [a.request.escalation for a in asked] == ["network"]
        assert asked[0].request.rule_key == "network:git ls-remote"
        assert listener.accepted == 1  # only the approved re-run reached the host
        assert "network:git ls-remote" in session.agent.approvals.rules

        asked, _ = await turn(session, "reach it again", None)
        assert asked == []  # the rule grants network before the command runs
        assert listener.accepted == 2
    finally:
        listener.socket.close()
        await session.close()


async def test_a_config_rule_grants_network_up_front(start_server, repo, tmp_path):
    listener = LoopbackListener()
    server = start_server(shell_turns(with_remote(repo, listener)))
    settings = settings_for(server, approval="full-auto", allow=["network:git ls-remote"])
    session = Session.open(settings, cwd=repo, log_root=tmp_path / "s")
    try:
        asked, finished = await turn(session, "reach it", None)
        assert asked == [] and listener.accepted == 1
        assert finished.display is not None and finished.display["sandbox"] == "workspace-write + network"
    finally:
        listener.socket.close()
        await session.close()


async def test_a_command_failing_for_its_own_reasons_asks_nothing(start_server, repo, tmp_path):
    server = start_server(shell_turns("ls no-such-file"))
    session = Session.open(settings_for(server, approval="full-auto"), cwd=repo, log_root=tmp_path / "s")
    try:
        asked, finished = await turn(session, "list", None)
        assert asked == [] and finished.status == "error"
        assert finished.display is not None and "sandbox_denied" not in finished.display
    finally:
        await session.close()
