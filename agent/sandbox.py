"""The OS sandbox for shell commands: what a command may write and whether it reaches the network.

Three modes, chosen separately from the approval policy (the approval policy decides *whether* a
command runs; the sandbox decides *what it can do* once it runs):

- `read-only`: nothing on disk is writable; no network.
- `workspace-write`: the workspace and the system's temporary directories (`/tmp`, `$TMPDIR`)
  are writable; `.git/` and codeassist's own configuration and data directories stay read-only;
  no network.
- `off`: no sandbox.

On Linux the sandbox is bubblewrap (`bwrap`, Debian/Ubuntu package `bubblewrap`): the whole file
system bound read-only, the writable roots bound over it, a fresh `/dev` and `/proc`, new PID,
IPC, UTS and network namespaces (only a loopback interface of its own inside, so no host or
remote address is reachable), all capabilities dropped, a new terminal session (no `TIOCSTI`
keystroke injection), and `--die-with-parent`: when the agent dies, the sandbox's first process
dies, and with it every process of its PID namespace — `setsid` and double-forked children
included. Inside the PID namespace a command sees no process of the agent, so it cannot read the
agent's environment or memory through `/proc`.

`sandbox_support()` says whether the sandbox works here (bwrap present and able to create the
namespaces, checked once per process by running it); `wrap()` turns a command's argv into the
sandboxed one. macOS (`sandbox-exec`) is not implemented: there, as wherever bwrap is missing,
`sandbox_support()` reports what is missing and the caller decides (see `agent.session`).
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = [
    "SandboxMode",
    "SandboxPolicy",
    "SandboxSupport",
    "SessionSandbox",
    "escalated",
    "protected_paths",
    "sandbox_denial",
    "sandbox_support",
    "session_sandbox",
    "temporary_directories",
    "wrap",
]


class SandboxMode(enum.StrEnum):
    """What a sandboxed command may do (see the module docstring)."""

    READ_ONLY = "read-only"
    WORKSPACE_WRITE = "workspace-write"
    OFF = "off"


@dataclass(frozen=True)
class SandboxSupport:
    """Whether commands can be sandboxed on this machine, and if not, why."""

    available: bool
    detail: str
    """The sandbox's name and version when available; otherwise what is missing, for the user."""


@dataclass(frozen=True)
class SandboxPolicy:
    """Where a sandboxed command may write.

    Args:
        mode: the sandbox mode (`OFF` means `wrap` returns the command unchanged).
        workspace: the workspace root (writable under `WORKSPACE_WRITE`).
        temp_dirs: the system's temporary directories (`/tmp`, `$TMPDIR`), writable under
            `WORKSPACE_WRITE` (read-only, like everything, under `READ_ONLY`).
        protected: paths that stay read-only even inside a writable root (`.git/`, codeassist's
            own directories); those that do not exist are skipped.
        network: whether the command keeps the host's network (default: no network).
    """

    mode: SandboxMode
    workspace: Path
    temp_dirs: tuple[Path, ...] = ()
    protected: tuple[Path, ...] = ()
    network: bool = False


BWRAP = "bwrap"
INSTALL_HINT = "install bubblewrap (Debian/Ubuntu: `apt install bubblewrap`; Fedora: `dnf install bubblewrap`)"


@functools.cache
def sandbox_support() -> SandboxSupport:
    """Whether the sandbox works here: bwrap is on the PATH and can create its namespaces (user
    namespaces may be disabled, e.g. in some containers). Checked once per process."""
    if not sys.platform.startswith("linux"):
        return SandboxSupport(False, f"no sandbox for {sys.platform} yet (Linux only, with bubblewrap)")
    path = shutil.which(BWRAP)
    if path is None:
        return SandboxSupport(False, f"bubblewrap (bwrap) is not installed: {INSTALL_HINT}")
    probe = [path, *_namespace_arguments(network=False), "--ro-bind", "/", "/", "--", "true"]
    try:
        result = subprocess.run(probe, capture_output=True, text=True, timeout=10, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        return SandboxSupport(False, f"bubblewrap could not be started: {exc}")
    if result.returncode != 0:
        reason = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else f"exit {result.returncode}"
        return SandboxSupport(False, f"bubblewrap cannot create its namespaces here ({reason})")
    version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout.strip()
    return SandboxSupport(True, version or "bubblewrap")


def _namespace_arguments(*, network: bool) -> list[str]:
    arguments = [
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
    ]
    if not network:
        arguments.append("--unshare-net")
    return arguments


def _existing(paths: Iterable[Path]) -> list[Path]:
    return [path for path in paths if os.path.lexists(path)]


def wrap(argv: list[str], policy: SandboxPolicy, *, cwd: Path) -> list[str]:
    """`argv` run inside the sandbox `policy` describes (unchanged when the mode is `OFF`).

    Args:
        argv: the command, e.g. `["/bin/bash", "-c", "pytest -q"]`.
        policy: what the command may write and reach.
        cwd: the directory it starts in (inside the workspace).
    """
    if policy.mode is SandboxMode.OFF:
        return argv
    bwrap = shutil.which(BWRAP) or BWRAP
    arguments = [bwrap, *_namespace_arguments(network=policy.network), "--ro-bind", "/", "/"]
    arguments += ["--dev", "/dev", "--proc", "/proc"]
    if policy.mode is SandboxMode.WORKSPACE_WRITE:
        # the temporary directories first, then the workspace (which may lie inside one), then
        # what stays read-only inside them
        for path in _existing((*policy.temp_dirs, policy.workspace.resolve())):
            arguments += ["--bind", str(path), str(path)]
        for path in _existing(policy.protected):
            arguments += ["--ro-bind", str(path), str(path)]
    arguments += ["--chdir", str(cwd), "--", *argv]
    return arguments


_NETWORK_DENIALS = (
    "Network is unreachable",
    "Temporary failure in name resolution",
    "Could not resolve host",
    "Name or service not known",
    "No address associated with hostname",
    "getaddrinfo failed",
    "Failed to establish a new connection",
    "unable to resolve host",
    "Could not resolve hostname",
    # inside, only the sandbox's own loopback exists: nothing listens there
    "Connection refused",
    "Couldn't connect to server",
    "Failed to connect to",
)
_WRITE_DENIALS = ("Read-only file system",)


def sandbox_denial(output: str) -> Literal["network", "unsandboxed"] | None:
    """What a failed sandboxed command's output says the sandbox refused: the network
    (`network`), or a write outside its roots (`unsandboxed`); None when it failed otherwise."""
    if any(sign in output for sign in _NETWORK_DENIALS):
        return "network"
    if any(sign in output for sign in _WRITE_DENIALS):
        return "unsandboxed"
    return None


def escalated(policy: SandboxPolicy | None, escalation: Literal["network", "unsandboxed"]) -> SandboxPolicy | None:
    """`policy` with network access (`network`), or no sandbox at all (`unsandboxed`: None)."""
    if policy is None or escalation == "unsandboxed":
        return None
    return dataclasses.replace(policy, network=True)


def temporary_directories() -> tuple[Path, ...]:
    """`/tmp` and `$TMPDIR` (resolved, once each): where programs keep scratch files."""
    found: list[Path] = []
    for candidate in ("/tmp", os.environ.get("TMPDIR") or "/tmp"):
        path = Path(candidate).resolve()
        if path not in found and path != Path("/"):
            found.append(path)
    return tuple(found)


def protected_paths(workspace: Path, own_directories: Iterable[Path]) -> tuple[Path, ...]:
    """What stays read-only inside the writable roots: the workspace's `.git` (a directory, or
    the file of a linked worktree) and codeassist's own directories."""
    return (workspace.resolve() / ".git", *(path.resolve() for path in own_directories))


@dataclass
class SessionSandbox:
    """The sandbox of one session: the policy commands run under, and what the user asked for.

    Args:
        requested: the `sandbox` setting (`auto`, `read-only`, `workspace-write`, `off`).
        policy: what commands run under (mode `OFF` when unsandboxed).
        support: whether the sandbox works on this machine.
    """

    requested: str
    policy: SandboxPolicy
    support: SandboxSupport

    @property
    def missing(self) -> bool:
        """A sandbox was asked for (or `auto`) but cannot run here: commands then ask first."""
        return self.requested != SandboxMode.OFF and self.policy.mode is SandboxMode.OFF

    def describe(self) -> str:
        """One line for the header and the start-up notice."""
        if self.missing:
            return f"no sandbox: {self.support.detail}"
        if self.policy.mode is SandboxMode.OFF:
            return "sandbox off: commands run as you"
        network = "network on" if self.policy.network else "no network"
        return f"sandbox {self.policy.mode} ({self.support.detail}; {network})"


def session_sandbox(requested: str, approval: str, workspace: Path, own_directories: Iterable[Path]) -> SessionSandbox:
    """The sandbox a session runs its commands in.

    `auto` is `read-only` under the read-only approval policy and `workspace-write` otherwise;
    a mode the machine cannot provide leaves commands unsandboxed (and `missing` true).

    Raises:
        ValueError: `requested` names no mode.
    """
    choice = "read-only" if requested == "auto" and approval == "read-only" else requested
    mode = SandboxMode(SandboxMode.WORKSPACE_WRITE if choice == "auto" else choice)
    support = sandbox_support() if mode is not SandboxMode.OFF else SandboxSupport(False, "off")
    if mode is not SandboxMode.OFF and not support.available:
        mode = SandboxMode.OFF
    policy = SandboxPolicy(
        mode=mode,
        workspace=workspace,
        temp_dirs=temporary_directories(),
        protected=protected_paths(workspace, own_directories),
    )
    return SessionSandbox(requested=requested, policy=policy, support=support)
