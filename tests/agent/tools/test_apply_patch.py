from __future__ import annotations

import errno
import hashlib
import os
import stat
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from agent.tools import apply_patch as patch_module
from agent.tools.apply_patch import ApplyPatch, ApplyPatchArgs
from agent.tools.atomic import MAX_EDIT_BYTES, TEMP_SUFFIX, decode_text, unified_diff
from agent.tools.base import ToolContext, ToolError
from agent.tools.read_file import ReadFile, ReadFileArgs

BOM = b"\xef\xbb\xbf"

CORE = """\
def count_words(text):
    return len(text.split())


def count_lines(text):
    return len(text.splitlines())


def main():
    print(count_words("a b"))
"""


def init_repo(root: Path, files: dict[str, str | bytes]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            content = content.encode()
        path.write_bytes(content)
    return root


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return init_repo(
        tmp_path / "repo",
        {"wordcount/core.py": CORE, "README.md": "# Word count\n\nCounts words.\n", "old.txt": "bye\n"},
    )


@pytest.fixture
def ctx(repo: Path) -> ToolContext:
    return ToolContext(workspace=repo)


def mark_read(text: str, ctx: ToolContext) -> None:
    """What a model does before patching: read each file the patch updates or deletes (files the
    test already read keep the hash of that read, so staleness is still checked)."""
    for line in text.splitlines():
        for header in ("*** Update File: ", "*** Delete File: "):
            if line.startswith(header):
                path = (ctx.workspace / line.removeprefix(header).strip()).resolve()
                if path not in ctx.read_hashes and path.is_file():
                    ctx.remember_read(path, path.read_bytes())


def apply_patch(text: str, ctx: ToolContext):
    mark_read(text, ctx)
    return patch_module.apply_patch(text, ctx)


def plan_patch(text: str, ctx: ToolContext):
    mark_read(text, ctx)
    return patch_module.plan_patch(text, ctx)


def patch(*body: str) -> str:
    return "\n".join(["*** Begin Patch", *body, "*** End Patch"]) + "\n"


def tree(root: Path) -> dict[str, tuple[str, int]]:
    """Every file under root (including .git) with its content hash and mode."""
    out: dict[str, tuple[str, int]] = {}
    for path in sorted(root.rglob("*")):
        mode = path.lstat().st_mode
        if path.is_symlink():
            out[path.relative_to(root).as_posix()] = (os.readlink(path), mode)
        elif path.is_file():
            out[path.relative_to(root).as_posix()] = (hashlib.sha256(path.read_bytes()).hexdigest(), mode)
        else:
            out[path.relative_to(root).as_posix() + "/"] = ("dir", mode)
    return out


# ---- the four operations -------------------------------------------------------------------


def test_update_replaces_the_lines_and_reports_it(repo, ctx):
    result = apply_patch(
        patch(
            "*** Update File: wordcount/core.py",
            "@@",
            " def count_words(text):",
            "-    return len(text.split())",
            "+    return len(text.split()) if text else 0",
        ),
        ctx,
    )
    assert result.output == "Updated wordcount/core.py"
    assert (repo / "wordcount/core.py").read_text() == CORE.replace(
        "return len(text.split())", "return len(text.split()) if text else 0"
    )
    assert result.display["diff"].startswith("--- a/wordcount/core.py\n+++ b/wordcount/core.py\n")


def test_add_creates_the_file_and_its_directories(repo, ctx):
    result = apply_patch(patch("*** Add File: docs/deep/new.md", "+# New", "+", "+text"), ctx)
    assert result.output == "Added docs/deep/new.md"
    assert (repo / "docs/deep/new.md").read_bytes() == b"# New\n\ntext\n"


def test_delete_removes_the_file(repo, ctx):
    result = apply_patch(patch("*** Delete File: old.txt"), ctx)
    assert result.output == "Deleted old.txt"
    assert not (repo / "old.txt").exists()
    assert "--- a/old.txt\n+++ /dev/null\n" in result.display["diff"]


def test_move_renames_and_updates(repo, ctx):
    (repo / "wordcount/core.py").chmod(0o755)
    result = apply_patch(
        patch(
            "*** Update File: wordcount/core.py",
            "*** Move to: wordcount/counting.py",
            "@@ def main():",
            '-    print(count_words("a b"))',
            '+    print(count_lines("a b"))',
        ),
        ctx,
    )
    assert result.output == "Moved wordcount/core.py → wordcount/counting.py"
    assert not (repo / "wordcount/core.py").exists()
    moved = repo / "wordcount/counting.py"
    assert moved.read_text().endswith('    print(count_lines("a b"))\n')
    assert stat.S_IMODE(moved.stat().st_mode) == 0o755


def test_one_patch_can_add_update_delete_and_move(repo, ctx):
    result = apply_patch(
        patch(
            "*** Add File: b.py",
            "+B = 2",
            "*** Update File: README.md",
            "*** Move to: docs/README.md",
            " # Word count",
            "+",
            "+Also lines.",
            "*** Delete File: old.txt",
        ),
        ctx,
    )
    assert result.output == "Added b.py\nMoved README.md → docs/README.md\nDeleted old.txt"
    assert (repo / "docs/README.md").read_text() == "# Word count\n\nAlso lines.\n\nCounts words.\n"


# ---- locating hunks ------------------------------------------------------------------------


def test_several_hunks_apply_in_order(repo, ctx):
    apply_patch(
        patch(
            "*** Update File: wordcount/core.py",
            "@@",
            "-def count_words(text):",
            "+def count_words(text: str) -> int:",
            "@@",
            "-def count_lines(text):",
            "+def count_lines(text: str) -> int:",
            "@@",
            " def main():",
            '-    print(count_words("a b"))',
            '+    print(count_words("a b c"))',
        ),
        ctx,
    )
    text = (repo / "wordcount/core.py").read_text()
    assert "def count_words(text: str) -> int:" in text
    assert "def count_lines(text: str) -> int:" in text
    assert 'count_words("a b c")' in text


def test_at_at_context_narrows_the_search_to_after_that_line(tmp_path):
    repo = init_repo(tmp_path / "r", {"m.py": "def first():\n    return None\n\n\ndef second():\n    return None\n"})
    text = patch("*** Update File: m.py", "@@ def second():", "-    return None", "+    return 2")
    apply_patch(text, ToolContext(repo))
    assert (repo / "m.py").read_text() == "def first():\n    return None\n\n\ndef second():\n    return 2\n"


def test_at_at_context_without_removed_lines_inserts_right_after_it(tmp_path):
    repo = init_repo(tmp_path / "r", {"m.py": "class A:\n    x = 1\n\n\nclass B:\n    y = 2\n"})
    apply_patch(patch("*** Update File: m.py", "@@ class A:", "+    w = 0"), ToolContext(repo))
    assert (repo / "m.py").read_text() == "class A:\n    w = 0\n    x = 1\n\n\nclass B:\n    y = 2\n"


def test_hunks_without_anchor_lines_append_at_the_end(repo, ctx):
    apply_patch(patch("*** Update File: old.txt", "@@", "+more"), ctx)
    assert (repo / "old.txt").read_text() == "bye\nmore\n"


def test_matching_ignores_trailing_then_surrounding_whitespace_and_keeps_context_as_is(tmp_path):
    repo = init_repo(tmp_path / "r", {"w.py": "if x:   \n\tvalue = 1\n    done()  \n"})
    apply_patch(
        patch("*** Update File: w.py", " if x:", "-    value = 1", "+\tvalue = 2", " done()"),
        ToolContext(repo),
    )
    assert (repo / "w.py").read_text() == "if x:   \n\tvalue = 2\n    done()  \n"


def test_exact_matches_are_preferred_over_whitespace_insensitive_ones(tmp_path):
    repo = init_repo(tmp_path / "r", {"w.txt": "  item\nitem\n"})
    apply_patch(patch("*** Update File: w.txt", "-item", "+ITEM"), ToolContext(repo))
    assert (repo / "w.txt").read_text() == "  item\nITEM\n"


def test_end_of_file_anchors_the_hunk_at_the_last_lines(tmp_path):
    repo = init_repo(tmp_path / "r", {"e.txt": "end\nmiddle\nend\n"})
    apply_patch(patch("*** Update File: e.txt", "@@", "-end", "+END", "*** End of File"), ToolContext(repo))
    assert (repo / "e.txt").read_text() == "end\nmiddle\nEND\n"


def test_end_of_file_hunk_fails_when_the_lines_are_not_last(tmp_path):
    repo = init_repo(tmp_path / "r", {"e.txt": "end\nmiddle\n"})
    with pytest.raises(ToolError, match="hunk 1 of e.txt did not apply: could not find the lines .* end of the file"):
        apply_patch(patch("*** Update File: e.txt", "@@", "-end", "+END", "*** End of File"), ToolContext(repo))


def test_a_hunk_that_does_not_apply_is_named_precisely(repo, ctx):
    with pytest.raises(ToolError) as failure:
        apply_patch(
            patch(
                "*** Update File: wordcount/core.py",
                "@@",
                " def count_words(text):",
                "@@",
                "-    return len(text.split('\\n'))",
                "+    return 0",
            ),
            ctx,
        )
    message = str(failure.value)
    assert message.startswith("apply_patch: hunk 2 of wordcount/core.py did not apply: could not find the lines")
    assert "return len(text.split('\\\\n'))" in message
    assert "Nothing was applied" in message


def test_a_missing_at_at_context_line_is_reported(repo, ctx):
    with pytest.raises(ToolError, match="hunk 1 of wordcount/core.py did not apply: could not find the '@@ def nope"):
        apply_patch(patch("*** Update File: wordcount/core.py", "@@ def nope():", "-x", "+y"), ctx)


# ---- parsing errors ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("*** Update File: a\n-x\n+y\n*** End Patch", "line 1: the first line must be '\\*\\*\\* Begin Patch'"),
        ("*** Begin Patch\n*** Add File: a\n+x", "the last line must be '\\*\\*\\* End Patch'"),
        (patch("*** Frobnicate File: a"), "line 2: '\\*\\*\\* Frobnicate File: a' is not a valid file header"),
        (patch("*** Update File: README.md"), "the update of README.md has no hunks"),
        (patch("*** Update File: README.md", "@@", "?bad"), "line 4: unexpected line '\\?bad'"),
        (patch(), "no file sections"),
    ],
)
def test_malformed_patches_are_refused_with_the_line(ctx, text, expected):
    with pytest.raises(ToolError, match=expected):
        plan_patch(text, ctx)


@pytest.mark.parametrize(
    "body",
    [
        ("*** Frobnicate File: a",),
        ("*** Update File: nope.py", "-a", "+b"),
        ("*** Delete File: ../outside.txt",),
        ("*** Update File: README.md", "-absent", "+x"),
        ("*** Add File: wordcount", "+x"),
        ("*** Update File: old.txt", "-bye", "+bye"),
        ("*** Delete File: old.txt", "*** Delete File: old.txt"),
    ],
    ids=["malformed", "missing", "outside", "hunk", "directory", "unchanged", "deleted-twice"],
)
def test_every_refusal_names_the_tool_and_says_nothing_was_applied(repo, ctx, body):
    before = tree(repo)
    with pytest.raises(ToolError) as refusal:
        apply_patch(patch("*** Add File: first.txt", "+x", *body), ctx)
    message = str(refusal.value)
    assert message.startswith("apply_patch") and "nothing was applied" in message.lower()
    assert tree(repo) == before


def test_a_stale_file_is_refused_and_nothing_was_applied(repo, ctx):
    ctx.remember_read((repo / "old.txt").resolve(), b"other\n")
    with pytest.raises(ToolError, match=r"'old.txt' changed on disk since you read it; .*\(nothing was applied\)"):
        apply_patch(patch("*** Delete File: old.txt"), ctx)


def test_a_heredoc_wrapper_and_crlf_patch_text_are_tolerated(repo, ctx):
    wrapped = "<<'EOF'\r\n" + patch("*** Add File: h.txt", "+hi").replace("\n", "\r\n") + "EOF\r\n"
    apply_patch(wrapped, ctx)
    assert (repo / "h.txt").read_bytes() == b"hi\n"


# ---- all or nothing ------------------------------------------------------------------------


def test_a_failing_last_hunk_leaves_every_file_byte_identical(repo, ctx):
    (repo / "wordcount/core.py").chmod(0o755)
    before = tree(repo)
    with pytest.raises(ToolError, match="hunk 2 of wordcount/core.py did not apply"):
        apply_patch(
            patch(
                "*** Add File: added/new.py",
                "+NEW = 1",
                "*** Delete File: old.txt",
                "*** Update File: README.md",
                "*** Move to: docs/README.md",
                "-Counts words.",
                "+Counts words and lines.",
                "*** Update File: wordcount/core.py",
                "@@",
                "-def count_words(text):",
                "+def count_words(text: str):",
                "@@",
                "-this line is not in the file",
                "+x",
            ),
            ctx,
        )
    assert tree(repo) == before


def test_updating_a_missing_file_is_refused(repo, ctx):
    before = tree(repo)
    with pytest.raises(ToolError, match="cannot update 'nope.py': it does not exist"):
        plan_patch(patch("*** Update File: nope.py", "@@", "-a", "+b"), ctx)
    with pytest.raises(ToolError, match="cannot delete 'nope.py': it does not exist"):
        plan_patch(patch("*** Delete File: nope.py"), ctx)
    with pytest.raises(ToolError, match="cannot update 'old.txt': an earlier section of the patch removes it"):
        plan_patch(patch("*** Delete File: old.txt", "*** Update File: old.txt", "-bye", "+hi"), ctx)
    with pytest.raises(ToolError, match="leaves old.txt unchanged"):
        plan_patch(patch("*** Update File: old.txt", "-bye", "+bye"), ctx)
    assert tree(repo) == before


@pytest.mark.parametrize(
    "section",
    [
        ("*** Add File: ../escape.txt", "+x"),
        ("*** Add File: /etc/codeassist-test.txt", "+x"),
        ("*** Update File: /etc/hostname", "@@", "+x"),
        ("*** Delete File: ../outside.txt",),
        ("*** Update File: old.txt", "*** Move to: ../moved.txt", "-bye", "+hi"),
        ("*** Update File: out/secret.txt", "-secret", "+leaked"),
        ("*** Add File: out/new.txt", "+x"),
        ("*** Update File: .git/config", "@@", "+[evil]"),
        ("*** Add File: .git/hooks/pre-commit", "+#!/bin/sh"),
    ],
)
def test_paths_outside_the_workspace_or_in_git_are_refused_and_nothing_changes(tmp_path, section):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret\n")
    (tmp_path / "outside.txt").write_text("keep\n")
    repo = init_repo(tmp_path / "repo", {"old.txt": "bye\n"})
    (repo / "out").symlink_to(outside)
    before, outside_before = tree(tmp_path), tree(outside)
    with pytest.raises(ToolError, match="outside the workspace|inside .git/"):
        apply_patch(patch("*** Add File: fine.txt", "+ok", *section), ToolContext(repo))
    assert tree(tmp_path) == before
    assert tree(outside) == outside_before
    assert not Path("/etc/codeassist-test.txt").exists()


def test_deleting_a_symlink_is_refused(repo, ctx):
    (repo / "link.txt").symlink_to("old.txt")
    with pytest.raises(ToolError, match="symbolic link"):
        plan_patch(patch("*** Delete File: link.txt"), ctx)


def test_updating_through_a_symlink_edits_the_target_and_keeps_the_link(repo, ctx):
    (repo / "link.txt").symlink_to("old.txt")
    apply_patch(patch("*** Update File: link.txt", "-bye", "+hello"), ctx)
    assert (repo / "link.txt").is_symlink()
    assert (repo / "old.txt").read_text() == "hello\n"


# ---- staleness -----------------------------------------------------------------------------


async def test_a_file_changed_since_it_was_read_is_refused(repo, ctx):
    await ReadFile().run(ReadFileArgs(path="old.txt"), ctx)
    (repo / "old.txt").write_text("changed by someone\n")
    with pytest.raises(ToolError, match="'old.txt' changed on disk since you read it"):
        await ApplyPatch().run(ApplyPatchArgs(patch=patch("*** Update File: old.txt", "@@", "+more")), ctx)
    assert (repo / "old.txt").read_text() == "changed by someone\n"


async def test_touch_alone_does_not_block_an_edit(repo, ctx):
    await ReadFile().run(ReadFileArgs(path="old.txt"), ctx)
    os.utime(repo / "old.txt", (1_000_000, 1_000_000))
    await ApplyPatch().run(ApplyPatchArgs(patch=patch("*** Update File: old.txt", "-bye", "+hello")), ctx)
    assert (repo / "old.txt").read_text() == "hello\n"


def test_written_files_count_as_read_and_deleted_ones_are_forgotten(repo, ctx):
    ctx.remember_read((repo / "old.txt").resolve(), b"bye\n")
    ctx.remember_read((repo / "README.md").resolve(), (repo / "README.md").read_bytes())
    apply_patch(patch("*** Update File: README.md", "@@", "+More."), ctx)
    readme = (repo / "README.md").resolve()
    assert ctx.read_hashes[readme] == hashlib.sha256(readme.read_bytes()).hexdigest()
    apply_patch(patch("*** Update File: README.md", "@@", "+Even more."), ctx)
    apply_patch(patch("*** Delete File: old.txt"), ctx)
    assert (repo / "old.txt").resolve() not in ctx.read_hashes


# ---- formats -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        (b"one\r\ntwo\r\nthree\r\n", b"one\r\nTWO\r\n2b\r\nthree\r\n"),
        (BOM + b"one\ntwo\nthree\n", BOM + b"one\nTWO\n2b\nthree\n"),
        (b"one\ntwo\nthree", b"one\nTWO\n2b\nthree"),
        (b"one\rtwo\rthree\r", b"one\rTWO\r2b\rthree\r"),
        (b"one\r\ntwo\nthree\r\n", b"one\r\nTWO\n2b\r\nthree\r\n"),
    ],
    ids=["crlf", "bom", "no-final-newline", "cr", "mixed"],
)
def test_updates_keep_line_endings_bom_and_final_newline(tmp_path, original, expected):
    repo = init_repo(tmp_path / "r", {"f.txt": original})
    apply_patch(patch("*** Update File: f.txt", " one", "-two", "+TWO", "+2b", " three"), ToolContext(repo))
    assert (repo / "f.txt").read_bytes() == expected


def test_appending_to_a_file_without_final_newline_keeps_it_without(tmp_path):
    repo = init_repo(tmp_path / "r", {"f.txt": b"a\r\nb"})
    apply_patch(patch("*** Update File: f.txt", " b", "+c", "*** End of File"), ToolContext(repo))
    assert (repo / "f.txt").read_bytes() == b"a\r\nb\r\nc"


def test_updates_keep_the_executable_mode(tmp_path):
    repo = init_repo(tmp_path / "r", {"run.sh": "#!/bin/sh\necho hi\n"})
    (repo / "run.sh").chmod(0o755)
    apply_patch(patch("*** Update File: run.sh", "-echo hi", "+echo hello"), ToolContext(repo))
    assert stat.S_IMODE((repo / "run.sh").stat().st_mode) == 0o755


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", "binary file"),
        ("caf\u00e9 cr\u00e8me\n".encode("latin-1"), "is not UTF-8.*will not be edited"),
        (b"x\n" * (MAX_EDIT_BYTES // 2 + 1), "larger than the 2 MiB editing limit"),
    ],
    ids=["binary", "latin-1", "too-large"],
)
def test_files_that_cannot_be_edited_safely_are_refused(tmp_path, content, expected):
    repo = init_repo(tmp_path / "r", {"f.dat": content})
    before = tree(repo)
    with pytest.raises(ToolError, match=expected):
        apply_patch(patch("*** Update File: f.dat", "@@", "+more"), ToolContext(repo))
    assert tree(repo) == before


line_text = st.text(st.characters(blacklist_characters="\r\n\x00\ufeff", blacklist_categories=("Cs",)), max_size=10)


@st.composite
def edits(draw):
    """A file (lines, eol style, BOM, final newline) and a block edit on it."""
    style = draw(st.sampled_from(["\n", "\r\n", "\r", "mixed"]))
    texts = draw(st.lists(line_text, min_size=1, max_size=10))
    lines = [f"L{i} {text}" for i, text in enumerate(texts)]
    endings = [draw(st.sampled_from(["\n", "\r\n"])) if style == "mixed" else style for _ in lines]
    start = draw(st.integers(0, len(lines) - 1))
    removed = draw(st.integers(1, len(lines) - start))
    # Endings of removed lines pass to the added lines that replace them; with mixed endings
    # only an edit that adds at least as many lines as it removes can be undone byte for byte.
    minimum = removed if style == "mixed" else 1
    added = [f"N{i} {text}" for i, text in enumerate(draw(st.lists(line_text, min_size=minimum, max_size=minimum + 3)))]
    trailing = draw(st.booleans())
    # A single line without a final newline has no line ending left to say what the file used.
    assume(trailing or len(lines) - removed + len(added) > 1)
    return lines, endings, draw(st.booleans()), trailing, start, removed, added


def block_patch(old: list[str], new: list[str], before: list[str], after: list[str]) -> str:
    body = [" " + line for line in before] + ["-" + line for line in old] + ["+" + line for line in new]
    return patch("*** Update File: f.txt", "@@", *body, *(" " + line for line in after))


@pytest.fixture(scope="module")
def shared_repo(tmp_path_factory) -> Path:
    return init_repo(tmp_path_factory.mktemp("prop") / "repo", {})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits())
def test_an_edit_and_its_inverse_restore_the_original_bytes(shared_repo, edit):
    lines, endings, bom, trailing, start, removed, added = edit
    raw = "".join(line + ending for line, ending in zip(lines, endings, strict=True))
    if not trailing:
        raw = raw.removesuffix(endings[-1])
    original = (BOM if bom else b"") + raw.encode()
    target = shared_repo / "f.txt"
    target.write_bytes(original)
    ctx = ToolContext(workspace=shared_repo)
    old = lines[start : start + removed]
    before, after = lines[max(0, start - 2) : start], lines[start + removed : start + removed + 2]

    apply_patch(block_patch(old, added, before, after), ctx)
    edited_text, _ = decode_text(target.read_bytes(), "f.txt")
    expected = lines[:start] + added + lines[start + removed :]
    assert edited_text == "\n".join(expected) + ("\n" if trailing else "")

    apply_patch(block_patch(added, old, before, after), ctx)
    assert target.read_bytes() == original


# ---- failed writes -------------------------------------------------------------------------


def test_a_full_disk_leaves_the_file_intact_and_no_temp_files(repo, ctx, monkeypatch):
    before = tree(repo)

    def full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(ToolError) as failure:
        apply_patch(patch("*** Update File: old.txt", "-bye", "+hello"), ctx)
    monkeypatch.undo()
    assert "No space left on device while writing 'old.txt'; the file was not changed" in str(failure.value)
    assert "No file was changed" in str(failure.value)
    assert tree(repo) == before
    assert not [p for p in repo.rglob("*") if p.name.endswith(TEMP_SUFFIX)]


def fail_third_replace(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the third rename of a written file fail with EIO (a write failing midway)."""
    real_replace = os.replace
    calls = []

    def flaky(src, dst, **dir_fds):
        calls.append(dst)
        if len(calls) == 3:
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        real_replace(src, dst, **dir_fds)

    monkeypatch.setattr(os, "replace", flaky)


def test_a_write_failing_midway_restores_the_files_already_written(repo, ctx, monkeypatch):
    before = tree(repo)
    fail_third_replace(monkeypatch)
    with pytest.raises(ToolError) as failure:
        apply_patch(
            patch(
                "*** Update File: README.md",
                "-Counts words.",
                "+Counts everything.",
                "*** Add File: new/dir/x.py",
                "+X = 1",
                "*** Delete File: old.txt",
                "*** Update File: wordcount/core.py",
                "@@ def main():",
                "+    pass",
            ),
            ctx,
        )
    monkeypatch.undo()
    message = str(failure.value)
    assert "Input/output error while writing 'wordcount/core.py'" in message
    assert "restored: README.md, new/dir/x.py, old.txt" in message
    assert tree(repo) == before


# ---- approval ------------------------------------------------------------------------------


def test_the_approval_diff_is_exactly_what_gets_written(repo, ctx):
    (repo / "wordcount/core.py").write_bytes(CORE.replace("\n", "\r\n").encode())
    text = patch(
        "*** Update File: wordcount/core.py",
        "@@ def count_lines(text):",
        "-    return len(text.splitlines())",
        "+    return text.count('\\n')",
        "*** Add File: b.py",
        "+B = 1",
        "*** Delete File: old.txt",
    )
    old_core = decode_text((repo / "wordcount/core.py").read_bytes(), "")[0]
    mark_read(text, ctx)
    request = ApplyPatch().approval_request("call_1", ApplyPatchArgs(patch=text), ctx)
    assert request.kind == "edit"
    assert request.rule_key == "apply_patch"
    assert request.summary == "apply_patch: update wordcount/core.py, add b.py, delete old.txt"
    result = apply_patch(text, ctx)
    written = (
        unified_diff(old_core, decode_text((repo / "wordcount/core.py").read_bytes(), "")[0], "wordcount/core.py")
        + unified_diff(None, decode_text((repo / "b.py").read_bytes(), "")[0], "b.py")
        + unified_diff("bye\n", None, "old.txt")
    )
    assert request.diff == written == result.display["diff"]


def test_no_one_is_asked_to_approve_a_patch_that_cannot_apply(repo, ctx):
    mark_read(patch("*** Update File: README.md"), ctx)
    with pytest.raises(ToolError, match="hunk 1 of README.md did not apply"):
        ApplyPatch().approval_request(
            "call_1", ApplyPatchArgs(patch=patch("*** Update File: README.md", "-absent", "+x")), ctx
        )


def test_the_spec_is_a_strict_function_schema():
    spec = ApplyPatch.spec()
    assert spec["type"] == "function"
    assert spec["name"] == "apply_patch"
    assert spec["strict"] is True
    parameters = spec["parameters"]
    assert parameters["type"] == "object"
    assert parameters["properties"]["patch"]["type"] == "string"
    assert set(parameters["properties"]) == set(parameters["required"]) == {"patch"}
    assert parameters["additionalProperties"] is False
    assert "title" not in str(parameters)
    assert "*** Begin Patch" in spec["description"] and "*** Update File:" in spec["description"]
    assert ApplyPatch.kind == "edit" and ApplyPatch.mutating is True


# ---- only files the session knows ------------------------------------------------------------


def test_a_file_never_read_is_neither_updated_moved_nor_deleted(repo, ctx):
    before = tree(repo)
    texts = {
        "update": patch("*** Update File: README.md", "@@", "+More."),
        "delete": patch("*** Delete File: old.txt"),
        "move": patch("*** Update File: old.txt", "*** Move to: new.txt", "-bye", "+hi"),
    }
    for verb, text in texts.items():
        expected = rf"read '(README.md|old.txt)' with read_file before you {verb} it \(nothing was applied\)"
        with pytest.raises(ToolError, match=expected):
            ApplyPatch().approval_request("call_1", ApplyPatchArgs(patch=text), ctx)
        with pytest.raises(ToolError, match=expected):
            patch_module.apply_patch(text, ctx)
    assert tree(repo) == before


async def test_files_read_or_created_in_the_session_can_be_patched(repo, ctx):
    from agent.tools.write_file import WriteFile, WriteFileArgs

    patch_module.apply_patch(patch("*** Add File: fresh.txt", "+one"), ctx)
    patch_module.apply_patch(patch("*** Update File: fresh.txt", "-one", "+two"), ctx)
    await WriteFile().run(WriteFileArgs(path="written.txt", content="a\n"), ctx)
    patch_module.apply_patch(patch("*** Delete File: written.txt"), ctx)
    await ReadFile().run(ReadFileArgs(path="old.txt"), ctx)
    patch_module.apply_patch(patch("*** Delete File: old.txt"), ctx)
    assert (repo / "fresh.txt").read_text() == "two\n"
    assert not (repo / "written.txt").exists() and not (repo / "old.txt").exists()
