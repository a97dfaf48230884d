"""`shell`: run one bash command in the workspace, bounded in time, output and reach.

Every command runs as `/bin/bash -c <command>` in a new session (so its own process group, led
by bash, whose id is bash's pid), with stdin from /dev/null, stdout and stderr merged into one
pipe, and a filtered environment (`child_environment`). The pipe is ours, not asyncio's: on
Python 3.11 `Process.wait()` only returns once every pipe asyncio manages has closed, so a
grandchild holding stdout would hide the exit; owning the read end also lets us close it.

Bounds:

- Time: after `timeout_s` the whole session is stopped (`SIGTERM` to the group and to every
  process still in the session, `SIGKILL` after `KILL_GRACE_S`), the pipe is drained for at most
  `DRAIN_TIMEOUT_S`, and the result says `exit code 124 (timed out after Ns)`. Cancelling the
  call (the user pressed Esc) stops the session the same way, leaves the output printed so far in
  the context's `LiveOutput.partial` (the aborted call's output keeps it) and re-raises. When bash exits but
  background processes keep the pipe open past `DRAIN_TIMEOUT_S`, the session is stopped too.
  Background processes that do not hold the pipe (`server > log 2>&1 &`) are left running, and
  killed when this process exits (`atexit`). Processes that leave the session (`setsid`) escape.
- Output: read as it arrives, keeping the first `HEAD_BYTES` and the last `TAIL_BYTES` (memory
  stays bounded however much the child prints, and the child is never blocked). The kept bytes
  are decoded as UTF-8 with replacement, terminal escapes are stripped and `\\r` redraws
  collapsed (`clean_terminal_text`); NUL bytes or mostly undecodable output are summarised as
  binary (size and sha256 of everything printed).
- Live output: while the command runs, the context's `LiveOutput` (if any) is told when output
  arrives and can read its last `LIVE_TAIL_LINES` lines, cleaned the same way.

A nonzero exit is not an error: the model needs the output, so the result is `ok=False` with the
exit code on its first line.
"""

from __future__ import annotations

import asyncio
import atexit
import codecs
import contextlib
import hashlib
import os
import re
import signal
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field

from agent.approvals import ApprovalRequest
from agent.redact import is_secret_variable
from agent.sandbox import SandboxMode, sandbox_denial, wrap
from agent.terminal_text import TERMINAL_SEQUENCES
from agent.tools.base import (
    CallDescription,
    LiveOutput,
    Tool,
    ToolArgs,
    ToolContext,
    ToolError,
    ToolResult,
    one_line,
    text_argument,
)
from agent.tools.command_safety import escape_for_display, rule_key, segments, uses_network
from agent.tools.orphan_guard import guard_session
from agent.tools.paths import display_path, resolve_path

DEFAULT_TIMEOUT_S = 120
MAX_TIMEOUT_S = 600
HEAD_BYTES = 16 * 1024
"""Bytes kept from the start of the output."""
TAIL_BYTES = 16 * 1024
"""Bytes kept from the end of the output."""
KILL_GRACE_S = 2.0
"""Between `SIGTERM` and `SIGKILL` when stopping a command."""
DRAIN_TIMEOUT_S = 2.0
"""How long the pipe may stay open after bash exits (or is killed)."""
CANCEL_DRAIN_S = 0.5
"""How long a cancelled command's pipe is read after its session was stopped."""
BINARY_UNDECODABLE_RATIO = 0.3
"""Output whose decoded text is more than this share of replacement characters is binary."""
SUMMARY_CHARS = 80
RULE_PREFIX = "shell:"
"""Prefix of shell rule keys, so `shell:git status` can never equal a tool-name rule."""

LIVE_TAIL_LINES = 8
"""Lines of a running command's output shown live (`LiveOutput`)."""
LIVE_TAIL_BYTES = 4 * 1024
"""Bytes of the output's end the live tail is cut from."""

TIMEOUT_EXIT_CODE = 124
_POLL_S = 0.05

CHILD_ENV_OVERRIDES = {
    "TERM": "dumb",
    "NO_COLOR": "1",
    "PAGER": "cat",
    "GIT_PAGER": "cat",
    "GIT_TERMINAL_PROMPT": "0",
    "CODEASSIST_SHELL": "1",
}
"""Set for every command: no colours, no pagers, no git prompts, and a marker scripts can test."""


class ShellArgs(ToolArgs):
    command: str = Field(description="The bash command to run (bash -c). It gets no stdin.")
    timeout_s: int | None = Field(
        default=None,
        ge=1,
        le=MAX_TIMEOUT_S,
        description=f"Seconds before the command is killed (exit code 124). Default {DEFAULT_TIMEOUT_S}.",
    )
    workdir: str | None = Field(
        default=None, description="Directory to run in, relative to the workspace root. Default: the root."
    )


def child_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a command: the parent's minus credentials, plus `CHILD_ENV_OVERRIDES`.

    Removed: every variable whose name or value marks it as a credential
    (`agent.redact.is_secret_variable`, the rule whose values the session log scrubs).

    Args:
        environ: the parent environment; defaults to `os.environ`.
    """
    source = os.environ if environ is None else environ
    env = {name: value for name, value in source.items() if not is_secret_variable(name, value)}
    env.update(CHILD_ENV_OVERRIDES)
    return env


# ---- output ------------------------------------------------------------------------------------

_OVERSTRIKE = re.compile(r"[^\n\x08]\x08")
_LEFTOVER_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def clean_terminal_text(text: str) -> str:
    """`text` as a terminal would leave it, minus anything that controls a terminal.

    Strips ECMA-48 sequences (CSI, OSC including OSC 52 clipboard writes, DCS, SOS, PM, APC,
    other ESC sequences), backspace overstrikes and every remaining C0/C1 control except `\\n`
    and `\\t`; keeps only the text after the last `\\r` of each line (progress redraws), after
    treating a `\\r\\n` line end as `\\n`.
    """
    text = TERMINAL_SEQUENCES.sub("", text)
    text = _OVERSTRIKE.sub("", text)
    if "\r" in text:
        text = "\n".join(line.rstrip("\r").rsplit("\r", 1)[-1] for line in text.split("\n"))
    return _LEFTOVER_CONTROLS.sub("", text)


def _is_binary(data: bytes, text: str) -> bool:
    if b"\x00" in data:
        return True
    return bool(text) and text.count("\ufffd") > BINARY_UNDECODABLE_RATIO * len(text)


def render_output(head: bytes, tail: bytes, total: int, sha256: str) -> tuple[str, int]:
    """The text the model sees for a command's captured output.

    Args:
        head: the first bytes printed.
        tail: the last bytes printed (not adjacent to `head` when bytes were dropped).
        total: how many bytes were printed in all.
        sha256: hex digest of everything printed.

    Returns:
        The cleaned text, with `[… N bytes omitted …]` between head and tail when bytes were
        dropped, or a one-line binary summary; and N (0 when nothing was dropped).
    """
    if total <= len(head) + len(tail):
        data = head + tail
        text = data.decode("utf-8", errors="replace")
        if _is_binary(data, text):
            return f"[binary output: {total} bytes, sha256 {sha256}]", 0
        return clean_terminal_text(text), 0
    # Leave out a character cut in half at either edge of the gap (and count its bytes as omitted).
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    head_text = decoder.decode(head, final=False)
    head_used = len(head) - len(decoder.getstate()[0])
    skip = 0
    while skip < min(3, len(tail)) and 0x80 <= tail[skip] < 0xC0:
        skip += 1
    tail_text = tail[skip:].decode("utf-8", errors="replace")
    omitted = total - head_used - (len(tail) - skip)
    if _is_binary(head + tail, head_text + tail_text):
        return f"[binary output: {total} bytes, sha256 {sha256}]", omitted
    marker = f"[… {omitted} bytes omitted …]"
    return f"{clean_terminal_text(head_text)}\n{marker}\n{clean_terminal_text(tail_text)}", omitted


def live_tail(data: bytes, cut: bool) -> str:
    """The last `LIVE_TAIL_LINES` lines of `data`, cleaned of terminal controls.

    Args:
        data: the end of the output printed so far.
        cut: whether `data` starts inside the output (its first line may be partial, and is dropped).
    """
    if b"\x00" in data:
        return "[binary output]"
    text = clean_terminal_text(data.decode("utf-8", errors="replace"))
    lines = text.rstrip("\n").split("\n")
    if cut and len(lines) > 1:
        lines = lines[1:]
    return "\n".join(lines[-LIVE_TAIL_LINES:])


class _Capture(asyncio.Protocol):
    """Reads the command's output pipe: keeps head and tail, counts and hashes everything, and
    tells `live` (if any) that output arrived."""

    def __init__(self, live: LiveOutput | None = None) -> None:
        self.live = live
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        self.sha256 = hashlib.sha256()
        self.closed: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def data_received(self, data: bytes) -> None:
        self.total += len(data)
        self.sha256.update(data)
        room = HEAD_BYTES - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if len(data) >= TAIL_BYTES:
            self.tail = bytearray(data[-TAIL_BYTES:])
        elif data:
            self.tail += data
            del self.tail[:-TAIL_BYTES]
        if self.live is not None:
            self.live.touched()

    def live_tail(self) -> tuple[str, int]:
        """The last lines printed so far, and the bytes printed in all (see `LiveOutput`)."""
        if len(self.tail) >= LIVE_TAIL_BYTES or self.total > len(self.head) + len(self.tail):
            data = bytes(self.tail[-LIVE_TAIL_BYTES:])
            return live_tail(data, cut=True), self.total
        data = bytes(self.head + self.tail)
        return live_tail(data[-LIVE_TAIL_BYTES:], cut=len(data) > LIVE_TAIL_BYTES), self.total

    def rendered(self) -> str:
        """What was captured, as the model would see it (`render_output`)."""
        return render_output(bytes(self.head), bytes(self.tail), self.total, self.sha256.hexdigest())[0]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    async def wait_closed(self, timeout: float) -> bool:
        """Whether the pipe closed (every writer exited) within `timeout` seconds."""
        done, _ = await asyncio.wait({self.closed}, timeout=timeout)
        return bool(done)


# ---- process sessions --------------------------------------------------------------------------

_LIVE_SESSIONS: set[int] = set()
"""Sessions started here that may still have processes; killed when this process exits."""


def _session_members(sid: int) -> list[int]:
    """The live (not zombie) processes of session `sid` (Linux `/proc`)."""
    members: list[int] = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return members
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 3 and int(fields[3]) == sid and fields[0] not in (b"Z", b"X"):
            members.append(int(entry))
    return members


def _signal_session(sid: int, sig: signal.Signals) -> None:
    """Send `sig` to the process group `sid` and to every other live process of session `sid`."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(sid, sig)
    for pid in _session_members(sid):  # members that moved to another group (`set -m` jobs)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _session_gone(sid: int) -> bool:
    """Whether no live process is left in session `sid` (zombies that nobody reaps do not count)."""
    if os.path.isdir("/proc/self"):
        return not _session_members(sid)
    try:
        os.killpg(sid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass
    return False


async def _wait_session_gone(sid: int, timeout: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not _session_gone(sid):
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(_POLL_S)
    return True


async def _stop_session(sid: int) -> None:
    """`SIGTERM` every process of session `sid`, then `SIGKILL` what is left after `KILL_GRACE_S`.

    If this is cancelled while waiting, the `SIGKILL` is sent at once.
    """
    if _session_gone(sid):
        return
    _signal_session(sid, signal.SIGTERM)
    gone = False
    try:
        gone = await _wait_session_gone(sid, KILL_GRACE_S)
    finally:
        if not gone:
            _signal_session(sid, signal.SIGKILL)


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


@atexit.register
def _kill_live_sessions() -> None:
    for sid in list(_LIVE_SESSIONS):
        if _session_members(sid):
            _signal_session(sid, signal.SIGKILL)


# ---- the tool ----------------------------------------------------------------------------------


class Shell(Tool[ShellArgs]):
    name = "shell"
    description = (
        "Run a bash command in the workspace (bash -c) and return its exit code and combined "
        "stdout/stderr. There is no stdin and no terminal: interactive programs get EOF. Output "
        f"is capped (first {HEAD_BYTES // 1024} KiB and last {TAIL_BYTES // 1024} KiB kept), "
        "colours and terminal escapes are removed, and the command is killed after timeout_s "
        f"(default {DEFAULT_TIMEOUT_S}s) with exit code 124. Credentials are removed from the "
        "environment."
    )
    Args = ShellArgs
    kind = "command"
    mutating = True

    @classmethod
    def describe(cls, arguments: dict[str, Any]) -> CallDescription:
        """The command on one line (control characters escaped), and its chained commands."""
        shown = escape_for_display(text_argument(arguments, "command") or "")
        return CallDescription(one_line(shown), tuple(piece.strip() for piece in segments(shown)) or (shown,))

    def approval_request(self, call_id: str, args: ShellArgs, ctx: ToolContext) -> ApprovalRequest:
        workdir = self._workdir(args, ctx)
        shown = escape_for_display(args.command)
        one_line = shown.replace("\n", "\\n").replace("\t", " ")
        summary = one_line if len(one_line) <= SUMMARY_CHARS else one_line[: SUMMARY_CHARS - 1] + "…"
        key = None if uses_network(args.command) else rule_key(args.command)
        return ApprovalRequest(
            call_id=call_id,
            tool=self.name,
            kind=self.kind,
            summary=f"run: {summary}",
            command=shown,
            workdir=display_path(ctx, workdir),
            rule_key=None if key is None else RULE_PREFIX + key,
            rule_scope=None
            if key is None
            else f"shell commands starting with `{key}` (not chained, piped or redirected)",
        )

    async def run(self, args: ShellArgs, ctx: ToolContext) -> ToolResult:
        if not args.command.strip():
            raise ToolError("The command is empty.")
        if "\x00" in args.command:
            raise ToolError("The command contains a NUL byte.")
        workdir = self._workdir(args, ctx)
        timeout = args.timeout_s or DEFAULT_TIMEOUT_S
        sandboxed = ctx.sandbox is not None and ctx.sandbox.mode is not SandboxMode.OFF
        argv = ["/bin/bash", "-c", args.command]
        if ctx.sandbox is not None and sandboxed:
            try:
                argv = wrap(argv, ctx.sandbox, cwd=workdir)
            except OSError as exc:
                raise ToolError(f"The sandbox could not be prepared: {exc}.") from None
        loop = asyncio.get_running_loop()
        started = loop.time()

        read_fd, write_fd = os.pipe()
        reader = os.fdopen(read_fd, "rb", buffering=0)
        try:
            transport, capture = await loop.connect_read_pipe(lambda: _Capture(ctx.live), reader)
        except BaseException:
            reader.close()
            os.close(write_fd)
            raise
        if ctx.live is not None:
            ctx.live.follow(capture.live_tail)
        try:
            try:
                process = await asyncio.create_subprocess_exec(
                    *argv,
                    cwd=workdir,
                    env=child_environment(),
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=write_fd,
                    stderr=asyncio.subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as exc:
                raise ToolError(f"Could not start /bin/bash: {exc.strerror or exc}.") from None
            finally:
                os.close(write_fd)
            sid = process.pid
            _LIVE_SESSIONS.add(sid)
            if not sandboxed:  # a sandboxed command dies with the agent by construction
                await guard_session(sid)
            try:
                returncode, timed_out, lingering = await self._supervise(process, capture, timeout)
            except asyncio.CancelledError:
                await _stop_session(sid)
                await capture.wait_closed(CANCEL_DRAIN_S)  # what was written before the stop
                if ctx.live is not None:
                    ctx.live.partial = capture.rendered()
                raise
            finally:
                if _session_gone(sid):
                    _LIVE_SESSIONS.discard(sid)
        finally:
            transport.close()

        duration = loop.time() - started
        exit_code = TIMEOUT_EXIT_CODE if timed_out else (128 - returncode if returncode < 0 else returncode)
        header = f"exit code {exit_code}"
        if timed_out:
            header += f" (timed out after {timeout}s)"
        elif returncode < 0:
            header += f" (killed by {_signal_name(-returncode)})"
        text, omitted = render_output(
            bytes(capture.head), bytes(capture.tail), capture.total, capture.sha256.hexdigest()
        )
        if lingering:
            text = text.rstrip("\n") + (
                f"\n[background processes kept the output open {DRAIN_TIMEOUT_S:g}s after the command "
                "exited and were killed]"
            )
        display: dict[str, Any] = {
            "exit_code": exit_code,
            "duration_s": round(duration, 3),
            "timed_out": timed_out,
            "truncated_bytes": omitted,
        }
        if ctx.sandbox is not None and sandboxed:
            display["sandbox"] = ctx.sandbox.mode.value + (" + network" if ctx.sandbox.network else "")
            denial = sandbox_denial(text) if exit_code != 0 and not timed_out else None
            if denial is not None:
                display["sandbox_denied"] = denial
        return ToolResult(output=f"{header}\n{text or '(no output)'}", ok=exit_code == 0, display=display)

    def escalation_request(
        self, call_id: str, args: ShellArgs, ctx: ToolContext, result: ToolResult
    ) -> ApprovalRequest | None:
        """When the sandbox blocked the command (a write outside its roots, or the network): the
        question whether to run it again outside the sandbox, or with network access."""
        denial = (result.display or {}).get("sandbox_denied")
        if denial not in ("network", "unsandboxed"):
            return None
        asked = self.approval_request(call_id, args, ctx)
        key = rule_key(args.command)
        what = "with network access" if denial == "network" else "outside the sandbox"
        blocked = "the network" if denial == "network" else "a write outside the workspace"
        return asked.model_copy(
            update={
                "tool": denial,
                "summary": f"the sandbox blocked {blocked}; re-run {what}: {asked.summary.removeprefix('run: ')}",
                "rule_key": None if key is None else f"{denial}:{key}",
                "rule_scope": None if key is None else f"re-running commands starting with `{key}` {what}",
                "escalation": denial,
            }
        )

    async def _supervise(
        self, process: asyncio.subprocess.Process, capture: _Capture, timeout: float
    ) -> tuple[int, bool, bool]:
        """Wait for the command; stop its session on timeout or when the pipe outlives it.

        Returns:
            bash's return code, whether it timed out, whether lingering processes were killed.
        """
        sid = process.pid
        timed_out = lingering = False
        try:
            returncode = await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            timed_out = True
            await _stop_session(sid)
            try:
                returncode = await asyncio.wait_for(process.wait(), DRAIN_TIMEOUT_S)
            except TimeoutError:  # stuck in the kernel even after SIGKILL: report and move on
                returncode = -signal.SIGKILL
        if not await capture.wait_closed(DRAIN_TIMEOUT_S) and not timed_out:
            lingering = True
            await _stop_session(sid)
            await capture.wait_closed(DRAIN_TIMEOUT_S)
        return returncode, timed_out, lingering

    @staticmethod
    def _workdir(args: ShellArgs, ctx: ToolContext) -> Path:
        if args.workdir is None:
            return ctx.workspace
        path = resolve_path(ctx, args.workdir)
        if not path.is_dir():
            raise ToolError(f"workdir '{display_path(ctx, path)}' is not a directory in the workspace.")
        return path
