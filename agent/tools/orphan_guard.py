"""Unsandboxed commands die with the agent, even when it is killed with SIGKILL.

A sandboxed command dies with the agent by construction (bubblewrap's `--die-with-parent` and its
PID namespace). A command run outside the sandbox (`--sandbox off`, or re-run outside it after
approval) is a process session of its own, which nothing would stop once the agent is gone. So
each such command gets a guard: a small `sh` in a session of its own that the kernel signals
(`PR_SET_PDEATHSIG`) when the agent dies, and that then kills every process still in the
command's session (`pkill -s`). While the command runs, the guard checks once a second whether
its session is still there, and leaves when it is not. Linux only (`prctl`), with procps's
`pgrep`/`pkill`; elsewhere commands run unguarded.
"""

from __future__ import annotations

import asyncio
import ctypes
import shutil
import signal
import sys

__all__ = ["guard_session"]

_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None

_GUARD = 'trap \'pkill -KILL -s "$1"; exit 0\' TERM; while pgrep -s "$1" >/dev/null; do sleep 1; done'
"""`$1` is the command's session id. The trap runs once the current `sleep` returns (≤ 1 s)."""

_GUARDS: set[asyncio.Task[int]] = set()


def _signal_when_parent_dies() -> None:
    """Runs in the guard between fork and exec: SIGTERM it when the agent's thread dies."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


async def guard_session(sid: int) -> bool:
    """Start the guard of the command whose session is `sid`; False when it cannot run here."""
    if _LIBC is None or shutil.which("pgrep") is None or shutil.which("pkill") is None:
        return False
    try:
        guard = await asyncio.create_subprocess_exec(
            "/bin/sh",
            "-c",
            _GUARD,
            "codeassist-guard",
            str(sid),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,  # the command's own stop (its session) must not stop the guard
            preexec_fn=_signal_when_parent_dies,
        )
    except OSError:
        return False
    waiting = asyncio.ensure_future(guard.wait())  # reaped when it leaves, without anyone waiting
    _GUARDS.add(waiting)
    waiting.add_done_callback(_GUARDS.discard)
    return True
