"""An unsandboxed command does not outlive an agent killed with SIGKILL (`agent.tools.orphan_guard`)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or shutil.which("pkill") is None, reason="needs Linux and procps"
)

_AGENT = """
import asyncio, sys
from pathlib import Path
from agent.tools.base import ToolContext
from agent.tools.shell import Shell, ShellArgs

command = "sh -c 'while true; do echo t >> ticks; sleep 0.05; done' & while true; do echo t >> ticks2; sleep 0.05; done"
asyncio.run(Shell().run(ShellArgs(command=command, timeout_s=600), ToolContext(workspace=Path(sys.argv[1]))))
"""


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _grows(path: Path, wait_s: float = 0.6) -> bool:
    before = _size(path)
    time.sleep(wait_s)
    return _size(path) > before


def test_the_commands_processes_die_with_a_killed_agent(tmp_path: Path) -> None:
    agent = subprocess.Popen([sys.executable, "-c", _AGENT, str(tmp_path)], cwd=Path(__file__).parents[3])
    try:
        deadline = time.monotonic() + 15
        while not ((tmp_path / "ticks").exists() and (tmp_path / "ticks2").exists()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _grows(tmp_path / "ticks") and _grows(tmp_path / "ticks2")
    finally:
        os.kill(agent.pid, signal.SIGKILL)
        agent.wait()
    time.sleep(2.0)  # the guard acts once its current one-second sleep ends
    assert not _grows(tmp_path / "ticks")
    assert not _grows(tmp_path / "ticks2")
