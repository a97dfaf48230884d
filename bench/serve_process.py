"""`codeassist` as a child process that prints `listening on URL`, for benchmarks and tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO

CODEASSIST = str(Path(sys.executable).with_name("codeassist"))


def launch(
    *args: str, stderr: int | IO[str] = subprocess.DEVNULL, preexec_fn: Callable[[], None] | None = None
) -> subprocess.Popen[str]:
    """Start `codeassist ARGS` with its stdout piped as text (undecodable bytes replaced)."""
    return subprocess.Popen(
        [CODEASSIST, *args],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        errors="replace",
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=preexec_fn,
    )


def listening_url(process: subprocess.Popen[str]) -> str:
    """Read stdout up to the `listening on URL` line: the URL, or "" when the process ended first."""
    assert process.stdout is not None
    for line in process.stdout:
        if "listening on" in line:
            return line.split("listening on", 1)[1].strip()
    return ""


def stop(process: subprocess.Popen[str], *, raise_if_killed: bool = True) -> None:
    """Ctrl+C and wait; a process still running after 10 s is killed (and the timeout re-raised)."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
        if raise_if_killed:
            raise
