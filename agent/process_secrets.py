"""Keep credentials out of what the commands the agent runs can read of the agent's process.

The shell tool already leaves credentials out of a command's environment, but on Linux any
process of the same user can read another's *original* environment block from
`/proc/<pid>/environ`: `tr '\\0' '\\n' </proc/$PPID/environ` in an approved command would print
`OPENAI_API_KEY`. `hide_environment_secrets` overwrites, in place, the values of the variables
that hold credentials (`agent.redact.is_secret_variable`) in that block, so `/proc/<pid>/environ`
shows `NAME=****…` instead. Python's `os.environ`, copied from the block when the interpreter
started, keeps the values: the settings still find the key.

The block is overwritten through `/proc/self/mem` (a process may always write its own memory);
its bounds are the `env_start`/`env_end` fields of `/proc/self/stat`. On systems without `/proc`
(macOS), nothing is done: there, other processes of the user cannot read the environment this way
(`ps -E` shows only what the process was started with to the same user; see the README's Safety
notes).
"""

from __future__ import annotations

from pathlib import Path

from agent.redact import is_secret_variable

__all__ = ["hide_environment_secrets"]

_ENV_START_FIELD = 50
"""`env_start` is field 50 of `/proc/<pid>/stat` (proc(5)); `env_end` follows it."""
_MASK = ord("*")


def _environment_bounds(stat: str) -> tuple[int, int]:
    """`(env_start, env_end)` from the text of `/proc/<pid>/stat`. The process name (field 2) is
    in parentheses and may hold spaces or parentheses itself, so fields are counted from after the
    last `)`, which is followed by field 3."""
    fields = stat[stat.rindex(")") + 2 :].split()
    first = _ENV_START_FIELD - 3
    return int(fields[first]), int(fields[first + 1])


def _masked(block: bytes) -> bytes:
    """`block` (NUL-separated `NAME=value` entries) with each credential's value masked."""
    entries = block.split(b"\0")
    for index, entry in enumerate(entries):
        name, separator, value = entry.partition(b"=")
        if separator and value and is_secret_variable(name.decode(errors="replace"), value.decode(errors="replace")):
            entries[index] = name + b"=" + bytes([_MASK]) * len(value)
    return b"\0".join(entries)


def hide_environment_secrets(proc: Path = Path("/proc/self")) -> int:
    """Mask the credential values in this process's original environment block.

    Returns:
        How many bytes changed (0 when there was nothing to hide or no `/proc` to do it with).
    """
    try:
        start, end = _environment_bounds((proc / "stat").read_text())
        with open(proc / "mem", "r+b", buffering=0) as memory:
            memory.seek(start)
            block = memory.read(end - start)
            masked = _masked(block)
            if masked == block:
                return 0
            memory.seek(start)
            memory.write(masked)
    except (OSError, ValueError, IndexError):
        return 0
    return sum(1 for before, after in zip(block, masked, strict=True) if before != after)
