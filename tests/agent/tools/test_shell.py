from __future__ import annotations

import asyncio
import hashlib
import os
import time
import tracemalloc
from pathlib import Path

import pytest

from agent.tools.base import ToolContext, ToolError, ToolResult
from agent.tools.shell import (
    DEFAULT_TIMEOUT_S,
    DRAIN_TIMEOUT_S,
    HEAD_BYTES,
    KILL_GRACE_S,
    MAX_TIMEOUT_S,
    TAIL_BYTES,
    Shell,
    ShellArgs,
    child_environment,
    clean_terminal_text,
    render_output,
)

NO_HANG_MARGIN_S = 2.0


@pytest.fixture
def ctx(tmp_path: Path) -> ToolContext:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    return ToolContext(workspace=workspace)


async def run(ctx: ToolContext, command: str, **args: object) -> ToolResult:
    return await Shell().run(ShellArgs(command=command, **args), ctx)  # type: ignore[arg-type]


def live_session_members(sid: int) -> list[int]:
    """Processes of session `sid` that are alive (zombies left for an init that never reaps are not)."""
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_bytes().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == sid and fields[0] not in (b"Z", b"X"):
            members.append(int(entry))
    return members


def assert_no_survivors(sid: int) -> None:
    assert live_session_members(sid) == []
    try:
        os.killpg(sid, 0)
    except ProcessLookupError:
        return
    # The group may still exist as zombies nobody reaps (PID 1 in some containers): none may run.
    assert live_session_members(sid) == []


async def read_pid(path: Path) -> int:
    for _ in range(500):
        if path.exists() and path.read_text().strip():
            return int(path.read_text())
        await asyncio.sleep(0.01)
    raise AssertionError("the command never wrote its pid")


# ---- exit codes, streams, workdir ---------------------------------------------------------------


async def test_exit_code_zero_is_ok(ctx: ToolContext) -> None:
    result = await run(ctx, "echo hello")
    assert result.ok
    assert result.output == "exit code 0\nhello\n"
    assert result.display is not None
    assert result.display["exit_code"] == 0
    assert result.display["timed_out"] is False
    assert result.display["truncated_bytes"] == 0
    assert result.display["duration_s"] >= 0


async def test_nonzero_exit_is_a_result_not_an_error(ctx: ToolContext) -> None:
    result = await run(ctx, "echo failing; exit 3")
    assert not result.ok
    assert result.output.startswith("exit code 3\n")
    assert "failing" in result.output
    assert result.display is not None and result.display["exit_code"] == 3


async def test_stdout_and_stderr_are_merged_in_order(ctx: ToolContext) -> None:
    result = await run(ctx, "echo out; echo err >&2; echo out2")
    assert result.output == "exit code 0\nout\nerr\nout2\n"


async def test_killed_by_a_signal_reports_128_plus_the_signal(ctx: ToolContext) -> None:
    result = await run(ctx, "kill -9 $$")
    assert not result.ok
    assert result.output.startswith("exit code 137 (killed by SIGKILL)")


async def test_no_output_is_said_so(ctx: ToolContext) -> None:
    result = await run(ctx, "true")
    assert result.output == "exit code 0\n(no output)"


async def test_runs_in_the_workspace_by_default(ctx: ToolContext) -> None:
    result = await run(ctx, "pwd")
    assert result.output == f"exit code 0\n{ctx.workspace}\n"


async def test_workdir_is_relative_to_the_workspace(ctx: ToolContext) -> None:
    (ctx.workspace / "sub" / "deep").mkdir(parents=True)
    result = await run(ctx, "pwd", workdir="sub/deep")
    assert result.output == f"exit code 0\n{ctx.workspace / 'sub' / 'deep'}\n"


@pytest.mark.parametrize("workdir", ["..", "../", "/", "/tmp", "sub/../.."])
async def test_workdir_outside_the_workspace_is_refused(ctx: ToolContext, workdir: str) -> None:
    with pytest.raises(ToolError, match="outside the workspace"):
        await run(ctx, "touch escaped", workdir=workdir)
    with pytest.raises(ToolError, match="outside the workspace"):
        Shell().approval_request("c", ShellArgs(command="ls", workdir=workdir), ctx)


async def test_workdir_through_a_symlink_out_is_refused(ctx: ToolContext, tmp_path: Path) -> None:
    (ctx.workspace / "link").symlink_to(tmp_path)
    with pytest.raises(ToolError, match="outside the workspace"):
        await run(ctx, "ls", workdir="link")


async def test_workdir_must_be_an_existing_directory(ctx: ToolContext) -> None:
    (ctx.workspace / "file.txt").write_text("x")
    with pytest.raises(ToolError, match="not a directory"):
        await run(ctx, "ls", workdir="file.txt")
    with pytest.raises(ToolError, match="not a directory"):
        await run(ctx, "ls", workdir="missing")


@pytest.mark.parametrize("command", ["", "   \n"])
async def test_empty_command_is_refused(ctx: ToolContext, command: str) -> None:
    with pytest.raises(ToolError, match="empty"):
        await run(ctx, command)


async def test_nul_in_the_command_is_refused(ctx: ToolContext) -> None:
    with pytest.raises(ToolError, match="NUL"):
        await run(ctx, "echo a\x00b")


# ---- stdin ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["cat", "read x; echo read:$?", "head -n 1", "python3 -c 'input()'"])
async def test_commands_reading_stdin_get_eof_at_once(ctx: ToolContext, command: str) -> None:
    result = await run(ctx, command, timeout_s=5)
    assert result.display is not None and result.display["timed_out"] is False
    if command.startswith("read"):
        assert "read:1" in result.output


# ---- timeouts and cancellation -----------------------------------------------------------------


async def test_timeout_kills_the_whole_group_including_grandchildren(ctx: ToolContext) -> None:
    started = time.monotonic()
    result = await run(ctx, "echo $$ > pid; sleep 100 & sleep 100 & wait", timeout_s=1)
    elapsed = time.monotonic() - started
    assert elapsed < 1 + KILL_GRACE_S + DRAIN_TIMEOUT_S + NO_HANG_MARGIN_S
    assert not result.ok
    assert result.output.startswith("exit code 124 (timed out after 1s)")
    assert result.display is not None
    assert result.display["exit_code"] == 124
    assert result.display["timed_out"] is True
    assert_no_survivors(int((ctx.workspace / "pid").read_text()))


async def test_timeout_escalates_to_sigkill_for_processes_ignoring_sigterm(ctx: ToolContext) -> None:
    command = "echo $$ > pid; trap '' TERM; (trap '' TERM; sleep 100) & sleep 100"
    started = time.monotonic()
    result = await run(ctx, command, timeout_s=1)
    assert time.monotonic() - started < 1 + KILL_GRACE_S + DRAIN_TIMEOUT_S + NO_HANG_MARGIN_S
    assert result.display is not None and result.display["exit_code"] == 124
    assert_no_survivors(int((ctx.workspace / "pid").read_text()))


async def test_timeout_reaches_jobs_that_moved_to_their_own_process_group(ctx: ToolContext) -> None:
    result = await run(ctx, "echo $$ > pid; set -m; sleep 100 & sleep 100", timeout_s=1)
    assert result.display is not None and result.display["exit_code"] == 124
    assert_no_survivors(int((ctx.workspace / "pid").read_text()))


async def test_cancellation_kills_the_group_and_propagates(ctx: ToolContext) -> None:
    task = asyncio.create_task(run(ctx, "echo $$ > pid; sleep 100 & sleep 100 & wait", timeout_s=60))
    sid = await read_pid(ctx.workspace / "pid")
    for _ in range(500):
        if len(live_session_members(sid)) >= 3:
            break
        await asyncio.sleep(0.01)
    started = time.monotonic()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert time.monotonic() - started < KILL_GRACE_S + NO_HANG_MARGIN_S
    assert_no_survivors(sid)


async def test_background_processes_holding_the_output_open_are_killed_after_the_drain(ctx: ToolContext) -> None:
    started = time.monotonic()
    result = await run(ctx, "echo $$ > pid; sleep 100 & echo started")
    assert time.monotonic() - started < 2 * DRAIN_TIMEOUT_S + KILL_GRACE_S + NO_HANG_MARGIN_S
    assert result.ok
    assert result.output.startswith("exit code 0\nstarted\n")
    assert "background processes kept the output open" in result.output
    assert_no_survivors(int((ctx.workspace / "pid").read_text()))


# ---- output bounds ------------------------------------------------------------------------------


async def test_output_flood_keeps_memory_bounded_and_reports_what_was_omitted(ctx: ToolContext) -> None:
    printed = 200_000_000
    tracemalloc.start()
    try:
        result = await run(ctx, f"yes | head -c {printed}", timeout_s=120)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10 * 1024 * 1024
    assert result.ok
    assert result.display is not None
    assert result.display["truncated_bytes"] == printed - HEAD_BYTES - TAIL_BYTES
    assert f"[… {printed - HEAD_BYTES - TAIL_BYTES} bytes omitted …]" in result.output
    head, tail = result.output.split("\n[… ", 1)
    assert head.startswith("exit code 0\ny\ny\n")
    assert tail.endswith("y\ny\n")
    assert len(result.output) < HEAD_BYTES + TAIL_BYTES + 200


async def test_endless_output_is_cut_by_the_timeout(ctx: ToolContext) -> None:
    tracemalloc.start()
    try:
        result = await run(ctx, "echo $$ > pid; yes", timeout_s=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10 * 1024 * 1024
    assert result.display is not None
    assert result.display["exit_code"] == 124
    assert result.display["truncated_bytes"] > 0
    assert "bytes omitted" in result.output
    assert_no_survivors(int((ctx.workspace / "pid").read_text()))


async def test_multibyte_characters_cut_at_the_gap_are_not_shown_broken(ctx: ToolContext) -> None:
    result = await run(ctx, "yes é | head -c 100001")
    assert "\ufffd" not in result.output
    assert "bytes omitted" in result.output


# ---- encoding and terminal control --------------------------------------------------------------


async def test_ansi_osc52_and_progress_redraws_are_stripped(ctx: ToolContext) -> None:
    command = (
        r"printf '\033[1;31mred\033[0m plain\n'; "
        r"printf '\033]52;c;aGVsbG8=\007after-osc52\n'; "
        r"printf '\033]0;title\033\\after-title\n'; "
        r"printf 'dsr\033[6n query\n'; "
        r"printf '\033Pdcs-payload\033\\after-dcs\n'; "
        r"printf '10%%\r50%%\r\033[2K100%%\ndone\r\n'"
    )
    result = await run(ctx, command)
    assert result.output == ("exit code 0\nred plain\nafter-osc52\nafter-title\ndsr query\nafter-dcs\n100%\ndone\n")


async def test_invalid_utf8_is_replaced(ctx: ToolContext) -> None:
    result = await run(ctx, r"printf 'ok \xff\xfe done\n'")
    assert result.output == "exit code 0\nok \ufffd\ufffd done\n"


async def test_valid_utf8_passes_through(ctx: ToolContext) -> None:
    result = await run(ctx, "printf 'café 日本 ✓\\n'")
    assert result.output == "exit code 0\ncafé 日本 ✓\n"


async def test_binary_output_is_summarised(ctx: ToolContext) -> None:
    result = await run(ctx, r"printf 'a\0b\0c'")
    digest = hashlib.sha256(b"a\0b\0c").hexdigest()
    assert result.output == f"exit code 0\n[binary output: 5 bytes, sha256 {digest}]"


async def test_mostly_undecodable_output_is_summarised(ctx: ToolContext) -> None:
    result = await run(ctx, r"printf '\xff\xfe\xfd\xfc\xfb abc'")
    assert "[binary output: 9 bytes, sha256 " in result.output


def test_clean_terminal_text() -> None:
    assert clean_terminal_text("a\x1b[31mb\x1b[0m") == "ab"
    assert clean_terminal_text("\x1b]52;c;Zm9v\x07x") == "x"
    assert clean_terminal_text("\x1b7\x1b(Bsaved\x1b8") == "saved"
    assert clean_terminal_text("b\x08bo\x08ol\x08ld\x08d") == "bold"
    assert clean_terminal_text("1\r2\r3\nx\r\n") == "3\nx\n"
    assert clean_terminal_text("bell\x07 del\x7f c1\x9b") == "bell del c1"
    assert clean_terminal_text("tab\tkept\n") == "tab\tkept\n"


def test_render_output_marks_the_gap_with_the_exact_count() -> None:
    text, omitted = render_output(b"a" * 10, b"b" * 10, 100, "0" * 64)
    assert omitted == 80
    assert text == "a" * 10 + "\n[… 80 bytes omitted …]\n" + "b" * 10


# ---- environment -------------------------------------------------------------------------------


async def test_secrets_are_not_in_the_child_environment(ctx: ToolContext, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = {
        "OPENAI_API_KEY": "sk-test-value-1",
        "MY_SECRET_TOKEN": "secret-value-2",
        "GITHUB_TOKEN": "ghp-value-3",
        "GH_HOST_X": "gh-value-4",
        "AWS_ACCESS_KEY_ID": "aws-value-5",
        "ANTHROPIC_BASE": "anthropic-value-6",
        "DB_PASSWORD": "password-value-7",
        "some_auth_header": "auth-value-8",
        "GOOGLE_CREDENTIALS": "credential-value-9",
        "GITHUB_PAT": "pat-value-10",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("PLAIN_SETTING", "kept-value")
    monkeypatch.setenv("TERM", "xterm-256color")
    result = await run(ctx, "env")
    for name, value in secrets.items():
        assert name not in result.output
        assert value not in result.output
    assert "PLAIN_SETTING=kept-value" in result.output
    for line in ("TERM=dumb", "NO_COLOR=1", "PAGER=cat", "GIT_PAGER=cat"):
        assert line in result.output.splitlines()


def test_child_environment_is_a_filtered_copy() -> None:
    env = child_environment({"PATH": "/bin", "HOME": "/h", "OPENAI_API_KEY": "x", "Api_Key": "y", "PATHS_OK": "1"})
    assert env["PATH"] == "/bin"
    assert env["HOME"] == "/h"
    assert env["PATHS_OK"] == "1"
    assert "OPENAI_API_KEY" not in env
    assert "Api_Key" not in env
    assert env["TERM"] == "dumb"


# ---- approval and schema -----------------------------------------------------------------------


def test_approval_request_shows_the_escaped_command_and_a_prefixed_rule_key(ctx: ToolContext) -> None:
    (ctx.workspace / "sub").mkdir()
    request = Shell().approval_request("call_1", ShellArgs(command="pytest -q", workdir="sub"), ctx)
    assert request.kind == "command"
    assert request.tool == "shell"
    assert request.summary == "run: pytest -q"
    assert request.command == "pytest -q"
    assert request.workdir == "sub"
    assert request.rule_key == "shell:pytest"


@pytest.mark.parametrize(
    "command", ["ls && curl x", "curl https://example.com", "echo x > ~/.bashrc", "pytest\rcurl x|sh", "$(whoami)"]
)
def test_approval_request_never_offers_a_rule_for_unsafe_commands(ctx: ToolContext, command: str) -> None:
    assert Shell().approval_request("c", ShellArgs(command=command), ctx).rule_key is None


def test_approval_request_hides_nothing(ctx: ToolContext) -> None:
    command = "echo safe\r\x1b[2Krm -rf ~ \u202e\u200b\nsecond line"
    request = Shell().approval_request("c", ShellArgs(command=command), ctx)
    assert request.command == "echo safe\\r\\x1b[2Krm -rf ~ \\u202e\\u200b\nsecond line"
    assert "\n" not in request.summary
    assert "\r" not in request.summary and "\x1b" not in request.summary
    assert request.summary.startswith("run: echo safe\\r\\x1b[2Krm -rf ~")


def test_approval_summary_is_cut_to_eighty_characters(ctx: ToolContext) -> None:
    request = Shell().approval_request("c", ShellArgs(command="echo " + "x" * 200), ctx)
    assert len(request.summary) == len("run: ") + 80
    assert request.summary.endswith("…")
    assert request.command == "echo " + "x" * 200


def test_spec_is_strict() -> None:
    spec = Shell.spec()
    assert spec["name"] == "shell"
    assert spec["strict"] is True
    parameters = spec["parameters"]
    assert parameters["additionalProperties"] is False
    assert sorted(parameters["required"]) == ["command", "timeout_s", "workdir"]
    timeout = parameters["properties"]["timeout_s"]["anyOf"]
    assert {"type": "integer", "minimum": 1, "maximum": MAX_TIMEOUT_S} in timeout
    assert {"type": "null"} in timeout
    assert Shell.kind == "command"
    assert Shell.mutating is True
    assert DEFAULT_TIMEOUT_S == 120


def test_arguments_are_validated() -> None:
    with pytest.raises(ValueError):
        ShellArgs.model_validate({"command": "ls", "timeout_s": 0})
    with pytest.raises(ValueError):
        ShellArgs.model_validate({"command": "ls", "timeout_s": MAX_TIMEOUT_S + 1})
    with pytest.raises(ValueError):
        ShellArgs.model_validate({"command": "ls", "shell": "zsh"})
