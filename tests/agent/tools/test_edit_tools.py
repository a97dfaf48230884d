"""edit_file and write_file: exact edits, staleness, formats, atomicity — on real files."""

from __future__ import annotations

import os
import stat

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.tools import ToolContext, ToolError
from agent.tools.edit_file import EditFile, EditFileArgs
from agent.tools.read_file import ReadFile, ReadFileArgs
from agent.tools.write_file import WriteFile, WriteFileArgs


async def read(ctx, path):
    await ReadFile().run(ReadFileArgs(path=path), ctx)


async def edit(ctx, path, old, new, **options):
    return await EditFile().run(EditFileArgs(path=path, old=old, new=new, **options), ctx)


async def test_edit_replaces_exactly_one_occurrence_and_reports_the_diff(ctx, workspace):
    await read(ctx, "pkg/core.py")
    result = await edit(ctx, "pkg/core.py", "split(' ')", "split()")
    assert (workspace / "pkg/core.py").read_text() == "def count(text):\n    return len(text.split())\n"
    assert "-    return len(text.split(' '))" in result.display["diff"]
    assert "+    return len(text.split())" in result.display["diff"]


async def test_edit_needs_a_read_first_and_refuses_stale_content(ctx, workspace):
    with pytest.raises(ToolError, match="Read 'pkg/core.py'"):
        await edit(ctx, "pkg/core.py", "split(' ')", "split()")
    await read(ctx, "pkg/core.py")
    (workspace / "pkg/core.py").write_text("def count(text):\n    return 0\n")
    with pytest.raises(ToolError, match="changed on disk since you read it"):
        await edit(ctx, "pkg/core.py", "return 0", "return 1")


async def test_touch_alone_does_not_block_an_edit(ctx, workspace):
    await read(ctx, "pkg/core.py")
    path = workspace / "pkg/core.py"
    os.utime(path, (1, 1))
    await edit(ctx, "pkg/core.py", "split(' ')", "split()")
    assert "split()" in path.read_text()


async def test_edit_contract_errors(ctx, workspace):
    (workspace / "dup.txt").write_text("x = 1\nx = 1\n")
    await read(ctx, "dup.txt")
    with pytest.raises(ToolError, match="occurs 2 times"):
        await edit(ctx, "dup.txt", "x = 1", "x = 2")
    with pytest.raises(ToolError, match="identical"):
        await edit(ctx, "dup.txt", "x = 1", "x = 1")
    with pytest.raises(ToolError, match="not found"):
        await edit(ctx, "dup.txt", "y = 1", "y = 2")
    with pytest.raises(ToolError, match="only in whitespace"):
        await edit(ctx, "dup.txt", "x  =  1", "x = 3")
    result = await edit(ctx, "dup.txt", "x = 1", "x = 2", replace_all=True)
    assert (workspace / "dup.txt").read_text() == "x = 2\nx = 2\n"
    assert "2 occurrences" in result.output


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"a = 1\r\nb = 2\r\n", b"a = 1\r\nb = 3\r\n"),
        (b"\xef\xbb\xbfa = 1\nb = 2\n", b"\xef\xbb\xbfa = 1\nb = 3\n"),
        (b"a = 1\nb = 2", b"a = 1\nb = 3"),
    ],
)
async def test_edit_keeps_line_endings_bom_and_trailing_newline(ctx, workspace, raw, expected):
    (workspace / "f.txt").write_bytes(raw)
    await read(ctx, "f.txt")
    await edit(ctx, "f.txt", "b = 2", "b = 3")
    assert (workspace / "f.txt").read_bytes() == expected


async def test_edit_keeps_the_mode(ctx, workspace):
    script = workspace / "run.sh"
    script.write_text("echo one\n")
    script.chmod(0o755)
    await read(ctx, "run.sh")
    await edit(ctx, "run.sh", "one", "two")
    assert stat.S_IMODE(script.stat().st_mode) == 0o755


async def test_edit_refuses_binary_latin1_and_huge_files(ctx, workspace):
    (workspace / "bin.dat").write_bytes(b"ab\x00cd")
    (workspace / "latin.txt").write_bytes("café = 1\n".encode("latin-1"))
    (workspace / "huge.txt").write_bytes(b"x" * (3 * 1024 * 1024))
    for name in ("bin.dat", "latin.txt", "huge.txt"):
        await read(ctx, name)
        with pytest.raises(ToolError):
            await edit(ctx, name, "a", "b")
    assert (workspace / "latin.txt").read_bytes() == "café = 1\n".encode("latin-1")


async def test_edit_leaves_the_file_intact_when_the_disk_is_full(ctx, workspace, monkeypatch):
    await read(ctx, "pkg/core.py")
    before = (workspace / "pkg/core.py").read_bytes()

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_space)
    with pytest.raises(ToolError, match="No space left"):
        await edit(ctx, "pkg/core.py", "split(' ')", "split()")
    assert (workspace / "pkg/core.py").read_bytes() == before
    assert not [p for p in (workspace / "pkg").iterdir() if "codeassist-tmp" in p.name]


async def test_write_creates_new_files_and_directories(ctx, workspace):
    result = await WriteFile().run(WriteFileArgs(path="new/dir/x.py", content="X = 1\n"), ctx)
    assert (workspace / "new/dir/x.py").read_text() == "X = 1\n"
    assert "Created" in result.output and "+X = 1" in result.display["diff"]


async def test_write_overwrites_only_files_that_were_read(ctx, workspace):
    with pytest.raises(ToolError, match="read it with read_file"):
        await WriteFile().run(WriteFileArgs(path="a.py", content="print('bye')\n"), ctx)
    await read(ctx, "a.py")
    await WriteFile().run(WriteFileArgs(path="a.py", content="print('bye')\n"), ctx)
    assert (workspace / "a.py").read_text() == "print('bye')\n"
    with pytest.raises(ToolError, match="already has exactly this content"):
        await WriteFile().run(WriteFileArgs(path="a.py", content="print('bye')\n"), ctx)


async def test_write_keeps_crlf_of_an_existing_file(ctx, workspace):
    (workspace / "w.txt").write_bytes(b"one\r\ntwo\r\n")
    await read(ctx, "w.txt")
    await WriteFile().run(WriteFileArgs(path="w.txt", content="one\nthree\n"), ctx)
    assert (workspace / "w.txt").read_bytes() == b"one\r\nthree\r\n"


@pytest.mark.parametrize("target", [".git/config", ".git/hooks/pre-commit", "../outside.txt", "/tmp/x.txt"])
async def test_writes_to_git_internals_or_outside_are_refused(ctx, workspace, target):
    with pytest.raises(ToolError):
        await WriteFile().run(WriteFileArgs(path=target, content="evil\n"), ctx)
    assert not (workspace.parent / "outside.txt").exists()
    assert "evil" not in (workspace / ".git/config").read_text()


async def test_codeassist_config_is_never_writable_even_inside_the_workspace(workspace, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(workspace / "cfg"))
    ctx = ToolContext(workspace=workspace)
    with pytest.raises(ToolError, match="codeassist's own settings"):
        await WriteFile().run(WriteFileArgs(path="cfg/codeassist/config.toml", content="base_url='x'\n"), ctx)


async def test_edit_approval_shows_the_exact_diff_that_gets_written(ctx, workspace):
    await read(ctx, "pkg/core.py")
    args = EditFileArgs(path="pkg/core.py", old="split(' ')", new="split()")
    request = EditFile().approval_request("c1", args, ctx)
    result = await EditFile().run(args, ctx)
    assert request.kind == "edit" and request.summary == "edit pkg/core.py"
    assert request.diff == result.display["diff"]


lines = st.lists(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00\ufeff"), max_size=12),
    min_size=1,
    max_size=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=lines, eol=st.sampled_from(["\n", "\r\n"]), bom=st.booleans(), trailing=st.booleans())
def test_an_edit_and_its_inverse_restore_the_original_bytes(workspace, body, eol, bom, trailing):
    import asyncio

    marker = "MARKER_LINE"
    text = eol.join([*body, marker]) + (eol if trailing else "")
    raw = (b"\xef\xbb\xbf" if bom else b"") + text.encode()
    path = workspace / "roundtrip.txt"
    path.write_bytes(raw)
    ctx = ToolContext(workspace=workspace)

    async def scenario():
        await read(ctx, "roundtrip.txt")
        await edit(ctx, "roundtrip.txt", marker, "CHANGED_LINE")
        await edit(ctx, "roundtrip.txt", "CHANGED_LINE", marker)

    asyncio.run(scenario())
    assert path.read_bytes() == raw


async def test_a_50_mb_file_is_not_edited(ctx, workspace):
    (workspace / "large.txt").write_bytes(b"y = 1\n" * (50 * 1024 * 1024 // 6))
    await read(ctx, "large.txt")
    with pytest.raises(ToolError, match="larger"):
        await edit(ctx, "large.txt", "y = 1", "y = 2", replace_all=True)
