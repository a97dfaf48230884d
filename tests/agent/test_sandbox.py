"""The sandbox for shell commands, with the real bubblewrap (`agent.sandbox`)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.sandbox import SandboxMode, SandboxPolicy, protected_paths, sandbox_support, wrap
from tests.agent.conftest import LoopbackListener, make_repo

needs_bwrap = pytest.mark.skipif(not sandbox_support().available, reason=sandbox_support().detail)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "work", {"a.txt": "one\n"})


@pytest.fixture
def session_tmp(tmp_path: Path) -> Path:
    path = tmp_path / "session-tmp"
    path.mkdir()
    return path


@pytest.fixture
def outside() -> Iterator[Path]:
    """A directory outside every writable root and outside /tmp (which the sandbox replaces)."""
    path = Path("/var/tmp") / f"codeassist-sandbox-test-{uuid.uuid4().hex}"
    path.mkdir(parents=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def policy(workspace: Path, session_tmp: Path, mode: SandboxMode = SandboxMode.WORKSPACE_WRITE, **kw) -> SandboxPolicy:
    return SandboxPolicy(
        mode=mode, workspace=workspace, temp_dir=session_tmp, protected=protected_paths(workspace, ()), **kw
    )


def run(command: str, sandbox: SandboxPolicy, cwd: Path, **kw) -> subprocess.CompletedProcess[str]:
    argv = wrap(["/bin/bash", "-c", command], sandbox, cwd=cwd)
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=30, **kw)


@needs_bwrap
def test_the_workspace_and_tmp_are_writable(workspace: Path, session_tmp: Path) -> None:
    result = run("echo two > a.txt && echo scratch > /tmp/s && cat /tmp/s", policy(workspace, session_tmp), workspace)

    assert result.returncode == 0, result.stderr
    assert (workspace / "a.txt").read_text() == "two\n"
    assert (session_tmp / "s").read_text() == "scratch\n"  # the session's own /tmp, kept between commands
    assert run("cat /tmp/s", policy(workspace, session_tmp), workspace).stdout == "scratch\n"


@needs_bwrap
def test_nothing_outside_the_roots_is_writable(workspace: Path, session_tmp: Path, outside: Path) -> None:
    result = run(f"echo x > {outside}/escaped", policy(workspace, session_tmp), workspace)

    assert result.returncode != 0
    assert "Read-only file system" in result.stderr
    assert not (outside / "escaped").exists()


@needs_bwrap
def test_a_sibling_under_the_hosts_tmp_is_not_even_visible(workspace: Path, session_tmp: Path, tmp_path: Path) -> None:
    sibling = tmp_path / "sibling"
    sibling.mkdir()
    result = run(f"echo x > {sibling}/escaped", policy(workspace, session_tmp), workspace)

    assert result.returncode != 0
    assert not (sibling / "escaped").exists()


@needs_bwrap
def test_git_metadata_is_read_only(workspace: Path, session_tmp: Path) -> None:
    result = run(
        "echo evil >> .git/description; git config core.fsmonitor evil", policy(workspace, session_tmp), workspace
    )

    assert result.returncode != 0
    assert "evil" not in (workspace / ".git" / "description").read_text()
    assert "fsmonitor" not in (workspace / ".git" / "config").read_text()


@needs_bwrap
def test_read_only_mode_writes_nothing_but_a_private_tmp(workspace: Path, session_tmp: Path) -> None:
    sandbox = policy(workspace, session_tmp, SandboxMode.READ_ONLY)
    result = run("echo x > /tmp/t && cat /tmp/t && echo two > a.txt", sandbox, workspace)

    assert result.stdout == "x\n"
    assert result.returncode != 0
    assert (workspace / "a.txt").read_text() == "one\n"
    assert list(session_tmp.iterdir()) == []


@needs_bwrap
def test_the_network_is_off_unless_allowed(workspace: Path, session_tmp: Path) -> None:
    listener = LoopbackListener()
    probe = f"{sys.executable} -c \"import socket; socket.create_connection(('127.0.0.1', {listener.port}), 2)\""
    try:
        blocked = run(probe, policy(workspace, session_tmp), workspace)
        allowed = run(probe, policy(workspace, session_tmp, network=True), workspace)
    finally:
        listener.socket.close()

    assert blocked.returncode != 0 and "Connection refused" in blocked.stderr
    assert allowed.returncode == 0, allowed.stderr
    assert listener.accepted == 1


@needs_bwrap
def test_a_command_cannot_read_the_agents_environment(workspace: Path, session_tmp: Path) -> None:
    argv = wrap(
        ["/bin/bash", "-c", "cat /proc/*/environ /proc/$PPID/environ 2>/dev/null | tr '\\0' '\\n'"],
        policy(workspace, session_tmp),
        cwd=workspace,
    )
    agent = (
        "import subprocess, sys; "
        f"print(subprocess.run({argv!r}, env={{'PATH': '/usr/bin:/bin'}}, capture_output=True, text=True).stdout)"
    )
    env = {"PATH": os.environ["PATH"], "OPENAI_API_KEY": "sk-only-in-the-agent-0123456789abcdef"}
    seen = subprocess.run([sys.executable, "-c", agent], env=env, capture_output=True, text=True, check=True).stdout

    assert "PATH=/usr/bin:/bin" in seen  # the command's own environment is there
    assert "sk-only-in-the-agent" not in seen


def _grows(path: Path, wait_s: float = 0.6) -> bool:
    before = path.stat().st_size if path.exists() else 0
    time.sleep(wait_s)
    return (path.stat().st_size if path.exists() else 0) > before


@needs_bwrap
def test_a_setsid_grandchild_dies_with_the_command(workspace: Path, session_tmp: Path) -> None:
    command = "setsid sh -c 'while true; do echo tick >> ticks; sleep 0.05; done' & sleep 0.5"
    result = run(command, policy(workspace, session_tmp), workspace)

    assert result.returncode == 0, result.stderr
    assert (workspace / "ticks").exists()
    assert not _grows(workspace / "ticks")


@needs_bwrap
def test_sandboxed_processes_die_with_a_killed_agent(workspace: Path, session_tmp: Path) -> None:
    argv = wrap(
        ["/bin/sh", "-c", "while true; do echo tick >> ticks; sleep 0.05; done"],
        policy(workspace, session_tmp),
        cwd=workspace,
    )
    agent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import subprocess, time; subprocess.Popen({argv!r}, cwd={str(workspace)!r}); time.sleep(60)",
        ]
    )
    try:
        deadline = time.monotonic() + 10
        while not (workspace / "ticks").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _grows(workspace / "ticks")
    finally:
        os.kill(agent.pid, signal.SIGKILL)
        agent.wait()
    time.sleep(0.3)
    assert not _grows(workspace / "ticks")


def test_off_leaves_the_command_alone(workspace: Path) -> None:
    argv = ["/bin/bash", "-c", "true"]
    assert wrap(argv, SandboxPolicy(mode=SandboxMode.OFF, workspace=workspace), cwd=workspace) == argv


def test_without_bwrap_the_sandbox_says_what_is_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    sandbox_support.cache_clear()
    try:
        support = sandbox_support()
    finally:
        sandbox_support.cache_clear()
    assert not support.available
    assert "bubblewrap" in support.detail and "apt install bubblewrap" in support.detail
