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

from agent.sandbox import (
    SandboxMode,
    SandboxPolicy,
    protected_paths,
    sandbox_support,
    temporary_directories,
    wrap,
)
from tests.agent.conftest import LoopbackListener, make_repo

needs_bwrap = pytest.mark.skipif(not sandbox_support().available, reason=sandbox_support().detail)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "work", {"a.txt": "one\n"})


@pytest.fixture
def outside() -> Iterator[Path]:
    """A directory outside every writable root and outside /tmp (which the sandbox replaces)."""
    path = Path("/var/tmp") / f"codeassist-sandbox-test-{uuid.uuid4().hex}"
    path.mkdir(parents=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def policy(workspace: Path, mode: SandboxMode = SandboxMode.WORKSPACE_WRITE, **kw) -> SandboxPolicy:
    return SandboxPolicy(
        mode=mode,
        workspace=workspace,
        temp_dirs=temporary_directories(),
        protected=protected_paths(workspace, ()),
        **kw,
    )


def run(command: str, sandbox: SandboxPolicy, cwd: Path, **kw) -> subprocess.CompletedProcess[str]:
    argv = wrap(["/bin/bash", "-c", command], sandbox, cwd=cwd)
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=30, **kw)


@needs_bwrap
def test_the_workspace_and_tmp_are_writable(workspace: Path, tmp_path: Path) -> None:
    scratch = tmp_path / "scratch.txt"  # under the system's /tmp, outside the workspace
    result = run(f"echo two > a.txt && echo scratch > {scratch} && cat {scratch}", policy(workspace), workspace)

    assert result.returncode == 0, result.stderr
    assert (workspace / "a.txt").read_text() == "two\n"
    assert scratch.read_text() == "scratch\n"


@needs_bwrap
def test_programs_kept_under_tmp_still_run(workspace: Path, tmp_path: Path) -> None:
    tool = tmp_path / "bin" / "hello"  # a checkout, a virtualenv or a tool unpacked under /tmp
    tool.parent.mkdir()
    tool.write_text("#!/bin/sh\necho hello from tmp\n")
    tool.chmod(0o755)
    result = run(str(tool), policy(workspace, SandboxMode.READ_ONLY), workspace)

    assert result.stdout == "hello from tmp\n", result.stderr


@needs_bwrap
def test_nothing_outside_the_roots_is_writable(workspace: Path, outside: Path) -> None:
    result = run(f"echo x > {outside}/escaped", policy(workspace), workspace)

    assert result.returncode != 0
    assert "Read-only file system" in result.stderr
    assert not (outside / "escaped").exists()


@needs_bwrap
def test_git_metadata_is_read_only(workspace: Path) -> None:
    result = run("echo evil >> .git/description; git config core.fsmonitor evil", policy(workspace), workspace)

    assert result.returncode != 0
    assert "evil" not in (workspace / ".git" / "description").read_text()
    assert "fsmonitor" not in (workspace / ".git" / "config").read_text()


@needs_bwrap
def test_read_only_mode_writes_nothing(workspace: Path, tmp_path: Path) -> None:
    result = run(f"echo x > {tmp_path}/t; echo two > a.txt", policy(workspace, SandboxMode.READ_ONLY), workspace)

    assert result.returncode != 0 and "Read-only file system" in result.stderr
    assert not (tmp_path / "t").exists()
    assert (workspace / "a.txt").read_text() == "one\n"


@needs_bwrap
def test_the_network_is_off_unless_allowed(workspace: Path) -> None:
    listener = LoopbackListener()
    probe = f"{sys.executable} -c \"import socket; socket.create_connection(('127.0.0.1', {listener.port}), 2)\""
    try:
        blocked = run(probe, policy(workspace), workspace)
        allowed = run(probe, policy(workspace, network=True), workspace)
    finally:
        listener.socket.close()

    assert blocked.returncode != 0 and "Connection refused" in blocked.stderr
    assert allowed.returncode == 0, allowed.stderr
    assert listener.accepted == 1


@needs_bwrap
def test_a_command_cannot_read_the_agents_environment(workspace: Path) -> None:
    argv = wrap(
        ["/bin/bash", "-c", "cat /proc/*/environ /proc/$PPID/environ 2>/dev/null | tr '\\0' '\\n'"],
        policy(workspace),
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
def test_a_setsid_grandchild_dies_with_the_command(workspace: Path) -> None:
    command = "setsid sh -c 'while true; do echo tick >> ticks; sleep 0.05; done' & sleep 0.5"
    result = run(command, policy(workspace), workspace)

    assert result.returncode == 0, result.stderr
    assert (workspace / "ticks").exists()
    assert not _grows(workspace / "ticks")


@needs_bwrap
def test_sandboxed_processes_die_with_a_killed_agent(workspace: Path) -> None:
    argv = wrap(
        ["/bin/sh", "-c", "while true; do echo tick >> ticks; sleep 0.05; done"],
        policy(workspace),
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
