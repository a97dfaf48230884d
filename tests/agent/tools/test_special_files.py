"""Files that are not plain: FIFOs, sockets, devices, directories, huge sparse files, names too
long for the file system, symlink loops and hard links. Every tool answers with one clear
`ToolError` (never an exception of another kind, never a hang), and reads stay bounded."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import stat
import sys
import threading
import tracemalloc
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.approvals import ApprovalGate, Decision, Policy
from agent.tools import ToolContext, ToolError
from agent.tools.apply_patch import ApplyPatch, ApplyPatchArgs
from agent.tools.base import Tool, ToolArgs
from agent.tools.edit_file import EditFile, EditFileArgs
from agent.tools.grep import Grep, GrepArgs
from agent.tools.list_files import ListFiles, ListFilesArgs
from agent.tools.read_file import ReadFile, ReadFileArgs
from agent.tools.view_image import ViewImage, ViewImageArgs
from agent.tools.write_file import WriteFile, WriteFileArgs

RIPGREP = Path(sys.executable).with_name("rg")
GUARD_S = 60
"""How long a tool may take before the test declares it hung (a failure, not a hang)."""


def guarded(make: Callable[[], Coroutine[Any, Any, Any]], unblock: Callable[[], None] = lambda: None) -> Any:
    """Run `make()` on its own event loop in a thread; fail the test if it does not finish within
    `GUARD_S` (after calling `unblock`, so the stuck thread can end). Returns the result or
    re-raises what the coroutine raised."""
    outcome: dict[str, Any] = {}

    def target() -> None:
        try:
            outcome["value"] = asyncio.run(make())
        except BaseException as exc:  # handed to the test thread
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(GUARD_S)
    if thread.is_alive():
        unblock()
        thread.join(5)
        pytest.fail(f"the tool call did not return within {GUARD_S}s: it blocked")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def release_fifo(path: Path) -> Callable[[], None]:
    """Open the FIFO for writing and close it: a reader blocked in open() or read() then ends."""

    def release() -> None:
        with contextlib.suppress(OSError):
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))

    return release


def grep_tools() -> Iterator[Grep]:
    yield Grep(ripgrep=None)
    if RIPGREP.exists():
        yield Grep(ripgrep=str(RIPGREP))


def every_call(path: str) -> list[tuple[Tool[Any], ToolArgs]]:
    """One call of every path-taking tool on `path` (editing calls as a model would send them)."""
    calls: list[tuple[Tool[Any], ToolArgs]] = [
        (ReadFile(), ReadFileArgs(path=path)),
        (EditFile(), EditFileArgs(path=path, old="a", new="b")),
        (WriteFile(), WriteFileArgs(path=path, content="new\n")),
        (ApplyPatch(), ApplyPatchArgs(patch=f"*** Begin Patch\n*** Update File: {path}\n@@\n-a\n+b\n*** End Patch")),
        (ApplyPatch(), ApplyPatchArgs(patch=f"*** Begin Patch\n*** Delete File: {path}\n*** End Patch")),
        (ListFiles(), ListFilesArgs(path=path)),
        (ViewImage(), ViewImageArgs(path=path)),
    ]
    calls += [(grep, GrepArgs(pattern="a", path=path)) for grep in grep_tools()]
    return calls


async def approve_and_run(tool: Tool[Any], args: ToolArgs, ctx: ToolContext) -> Any:
    """What the loop does with a call: build its approval request, then run it."""
    tool.approval_request("call_1", args, ctx)
    return await tool.run(args, ctx)


def refusals(ctx: ToolContext, path: str, unblock: Callable[[], None] = lambda: None) -> dict[str, str]:
    """The ToolError message of every tool's call on `path` (a call that succeeds is reported too)."""
    messages = {}
    for tool, args in every_call(path):
        label = f"{tool.name}:{type(args).__name__}:{getattr(args, 'patch', '')[:40]}"
        try:
            result = guarded(lambda tool=tool, args=args: approve_and_run(tool, args, ctx), unblock)
        except ToolError as exc:
            messages[label] = str(exc)
        else:
            messages[label] = f"(succeeded) {result.output}"
    return messages


# ---- FIFOs, sockets, devices, directories --------------------------------------------------


def test_a_fifo_is_refused_by_every_tool_and_nothing_blocks(ctx, workspace):
    fifo = workspace / "pipe"
    os.mkfifo(fifo)
    ctx.remember_read(fifo, b"")  # as if a read had been recorded: the edit tools must still refuse
    messages = refusals(ctx, "pipe", release_fifo(fifo))
    for label, message in messages.items():
        if label.startswith("list_files"):
            assert "not a directory" in message
        else:
            assert "named pipe (FIFO)" in message, (label, message)
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_searching_and_listing_a_tree_skip_a_fifo_without_blocking(ctx, workspace):
    fifo = workspace / "docs/pipe"
    os.mkfifo(fifo)
    for grep in grep_tools():
        result = guarded(lambda grep=grep: grep.run(GrepArgs(pattern="words"), ctx), release_fifo(fifo))
        assert result.output == "docs/readme.md:3:Some words here."
    listed = guarded(lambda: ListFiles().run(ListFilesArgs(path="docs"), ctx), release_fifo(fifo))
    assert listed.output.splitlines() == ["docs/readme.md"]


def test_listing_outside_git_skips_special_files(tmp_path):
    (tmp_path / "a.txt").write_text("a")
    os.mkfifo(tmp_path / "pipe")
    ctx = ToolContext(workspace=tmp_path)
    result = guarded(lambda: ListFiles().run(ListFilesArgs(), ctx), release_fifo(tmp_path / "pipe"))
    assert result.output.splitlines() == ["a.txt"]


def test_a_unix_socket_is_refused_by_every_tool(ctx, workspace):
    server = socket.socket(socket.AF_UNIX)
    path = workspace / "sock"
    if len(str(path)) > 100:
        pytest.skip("the temporary directory's path is too long for a Unix socket")
    server.bind(str(path))
    try:
        for label, message in refusals(ctx, "sock").items():
            if not label.startswith("list_files"):
                assert "is a socket" in message, (label, message)
    finally:
        server.close()


def test_a_device_node_in_the_workspace_is_refused(ctx, workspace):
    try:
        os.mknod(workspace / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot create a device node here: {exc}")
    for label, message in refusals(ctx, "null").items():
        if not label.startswith("list_files"):
            assert "character device" in message, (label, message)


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_symlink_to_a_device_is_refused(ctx, workspace, device):
    os.symlink(device, workspace / "dev-link")
    for message in refusals(ctx, "dev-link").values():
        assert "outside the workspace" in message


def test_a_directory_is_refused_by_every_file_tool(ctx, workspace):
    messages = refusals(ctx, "pkg")
    for label, message in messages.items():
        if label.startswith(("list_files", "grep")):
            assert message.startswith("(succeeded)")
        else:
            assert "directory" in message, (label, message)
    assert (workspace / "pkg/core.py").exists()


# ---- huge files ------------------------------------------------------------------------------

GIB = 1024 * 1024 * 1024


def peak_allocation(make: Callable[[], Coroutine[Any, Any, Any]]) -> tuple[Any, int]:
    tracemalloc.start()
    try:
        result = asyncio.run(make())
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_page_of_a_3_gib_sparse_file_loads_only_the_page(ctx, workspace):
    big = workspace / "huge.log"
    with big.open("wb") as out:
        out.write(b"".join(b"line %d of the log\n" % n for n in range(1, 50_001)))
        out.truncate(3 * GIB)
    result, peak = peak_allocation(lambda: ReadFile().run(ReadFileArgs(path="huge.log", limit=100), ctx))
    lines = result.output.splitlines()
    assert lines[0] == "     1\tline 1 of the log" and lines[99] == "   100\tline 100 of the log"
    assert lines[-1].startswith("[lines 1-100 of a 3.0 GiB file (lines not counted); continue with offset=101")
    assert peak < 16 * 1024 * 1024
    later, peak = peak_allocation(lambda: ReadFile().run(ReadFileArgs(path="huge.log", offset=40_000, limit=2), ctx))
    assert later.output.splitlines()[:2] == [" 40000\tline 40000 of the log", " 40001\tline 40001 of the log"]
    assert peak < 16 * 1024 * 1024


def test_a_3_gib_file_of_zeros_is_summarised_as_binary_without_reading_it(ctx, workspace):
    zeros = workspace / "zeros.img"
    with zeros.open("wb") as out:
        out.truncate(3 * GIB)
    result, peak = peak_allocation(lambda: ReadFile().run(ReadFileArgs(path="zeros.img"), ctx))
    assert result.output == f"'zeros.img' is a binary file ({3 * GIB} bytes); it cannot be shown as text."
    assert peak < 16 * 1024 * 1024


def test_a_long_line_in_a_large_file_is_cut_not_loaded(ctx, workspace):
    (workspace / "one-line.txt").write_bytes(b"x" * (8 * 1024 * 1024) + b"\nsecond\n")
    result, peak = peak_allocation(lambda: ReadFile().run(ReadFileArgs(path="one-line.txt"), ctx))
    lines = result.output.splitlines()
    assert lines[0].endswith("… [more characters]") and len(lines[0]) < 2100
    assert lines[1] == "     2\tsecond"
    assert lines[2].startswith("[lines 1-2 of 2;")
    assert peak < 16 * 1024 * 1024


# ---- names too long, loops -------------------------------------------------------------------

LONG = "n" * 300


@pytest.mark.parametrize("path", [LONG, f"{LONG}/inner.txt", f"pkg/{LONG}.py"])
def test_a_name_over_255_bytes_is_one_clear_error_in_every_tool(ctx, path):
    add = ApplyPatchArgs(patch=f"*** Begin Patch\n*** Add File: {path}\n+x\n*** End Patch")
    calls = [*every_call(path), (ApplyPatch(), add)]
    for tool, args in calls:
        try:
            guarded(lambda tool=tool, args=args: approve_and_run(tool, args, ctx))
        except ToolError as exc:
            assert "longer than the 255 bytes the file system allows" in str(exc) or "does not exist" in str(exc), (
                tool.name,
                str(exc),
            )
        else:
            pytest.fail(f"{tool.name} accepted a name longer than the file system allows")


def test_a_255_byte_name_can_be_written_and_edited(ctx, workspace):
    name = "é" * 127 + "x"  # 255 bytes: the temporary file's name must still fit
    asyncio.run(WriteFile().run(WriteFileArgs(path=name, content="one\n"), ctx))
    asyncio.run(EditFile().run(EditFileArgs(path=name, old="one", new="two"), ctx))
    assert (workspace / name).read_text() == "two\n"


def test_a_symlink_loop_is_a_clear_error(ctx, workspace):
    os.symlink("loop", workspace / "loop")
    for tool, args in every_call("loop/x.txt"):
        with pytest.raises(ToolError, match="loop"):
            guarded(lambda tool=tool, args=args: approve_and_run(tool, args, ctx))


# ---- hard links ------------------------------------------------------------------------------


@pytest.fixture
def hard_link(workspace: Path, tmp_path: Path) -> tuple[Path, Path]:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "secret.txt"
    secret.write_text("a secret\n")
    link = workspace / "notes.txt"
    os.link(secret, link)
    return link, secret


def test_reading_a_hard_linked_file_asks_even_in_full_auto(ctx, hard_link):
    gate = ApprovalGate(Policy.FULL_AUTO)
    tool, args = ReadFile(), ReadFileArgs(path="notes.txt")
    request = tool.approval_request("call_1", args, ctx)
    assert request.always_ask is not None and "2 hard links" in request.summary
    assert gate.settle_without_asking(request, mutating=tool.mutating) is None
    ordinary = tool.approval_request("call_2", ReadFileArgs(path="a.py"), ctx)
    assert gate.settle_without_asking(ordinary, mutating=False) is not None

    async def approve_always() -> None:
        gate.register(request)
        assert gate.answer("call_1", Decision(kind="approve_always"))

    asyncio.run(approve_always())
    again = tool.approval_request("call_3", args, ctx)
    assert gate.settle_without_asking(again, mutating=False) is not None
    assert asyncio.run(tool.run(args, ctx)).output == "     1\ta secret"


def test_a_file_that_gains_a_hard_link_after_its_check_is_not_read(ctx, workspace, tmp_path):
    tool, args = ReadFile(), ReadFileArgs(path="a.py")
    request = tool.approval_request("call_1", args, ctx)
    assert request.always_ask is None
    os.link(workspace / "a.py", tmp_path / "elsewhere.py")
    with pytest.raises(ToolError, match="gained other hard links"):
        asyncio.run(tool.run(args, ctx))


def test_a_hard_linked_file_is_never_written(ctx, hard_link):
    link, secret = hard_link
    ctx.remember_read(link.resolve(), link.read_bytes())
    patch = "*** Begin Patch\n*** Update File: notes.txt\n@@\n-a secret\n+changed\n*** End Patch"
    calls: list[tuple[Tool[Any], ToolArgs]] = [
        (EditFile(), EditFileArgs(path="notes.txt", old="secret", new="changed")),
        (WriteFile(), WriteFileArgs(path="notes.txt", content="changed\n")),
        (ApplyPatch(), ApplyPatchArgs(patch=patch)),
        (ApplyPatch(), ApplyPatchArgs(patch="*** Begin Patch\n*** Delete File: notes.txt\n*** End Patch")),
    ]
    for tool, args in calls:
        with pytest.raises(ToolError, match="2 hard links.*treated as outside"):
            asyncio.run(approve_and_run(tool, args, ctx))
    assert secret.read_text() == "a secret\n" and link.read_text() == "a secret\n"
    assert os.stat(secret).st_nlink == 2


def test_a_search_leaves_out_hard_linked_files_and_asks_to_search_one_by_name(ctx, hard_link):
    gate = ApprovalGate(Policy.FULL_AUTO)
    for grep in grep_tools():
        everywhere = GrepArgs(pattern="secret")
        assert gate.settle_without_asking(grep.approval_request("c1", everywhere, ctx), mutating=False) is not None
        result = asyncio.run(grep.run(everywhere, ctx))
        assert result.output.splitlines() == [
            "No matches for 'secret'.",
            "[1 file(s) with other hard links were not searched (another name for them may be outside the "
            "workspace): notes.txt; read_file asks before reading one]",
        ]
    for grep in grep_tools():
        by_name = GrepArgs(pattern="secret", path="notes.txt")
        fresh = ToolContext(workspace=ctx.workspace)
        with pytest.raises(ToolError, match="gained other hard links"):
            asyncio.run(grep.run(by_name, fresh))
        request = grep.approval_request("c2", by_name, fresh)
        assert request.always_ask is not None
        assert gate.settle_without_asking(request, mutating=False) is None
        assert asyncio.run(grep.run(by_name, fresh)).output == "notes.txt:1:a secret"
        # Asking about the file by name does not let a search of the whole tree read it.
        assert "were not searched" in asyncio.run(grep.run(GrepArgs(pattern="secret"), fresh)).output


# ---- through the loop -------------------------------------------------------------------------


async def test_through_the_loop_every_such_call_gets_one_output_and_a_hard_link_asks(workspace, hard_link):
    from agent.events import ApprovalRequested, ToolFinished
    from agent.transport.scripted import function_call, message, response_events
    from tests.agent.conftest import answered_turn
    from tests.agent.scripted import scripted_agent

    os.mkfifo(workspace / "pipe")
    agent, transport = scripted_agent(
        workspace,
        response_events(
            function_call("read_file", "c_long", {"path": LONG}),
            function_call("read_file", "c_fifo", {"path": "pipe"}),
            function_call("grep", "c_grep", {"pattern": "x", "path": f"pkg/{LONG}"}),
            function_call("read_file", "c_link", {"path": "notes.txt"}),
        ),
        response_events(message("done")),
    )
    agent.approvals = ApprovalGate(Policy.FULL_AUTO)
    events = await asyncio.wait_for(answered_turn(agent, "look"), GUARD_S)
    finished = {event.call_id: event for event in events if isinstance(event, ToolFinished)}
    assert {call: event.status for call, event in finished.items()} == {
        "c_long": "error",
        "c_fifo": "error",
        "c_grep": "error",
        "c_link": "denied",
    }
    assert "longer than the 255 bytes" in finished["c_long"].output
    assert "named pipe (FIFO)" in finished["c_fifo"].output
    asked = [event.request for event in events if isinstance(event, ApprovalRequested)]
    assert [request.call_id for request in asked] == ["c_link"] and "2 hard links" in asked[0].summary
    assert [item["call_id"] for item in transport.requests[1]["input"]] == ["c_long", "c_fifo", "c_grep", "c_link"]
