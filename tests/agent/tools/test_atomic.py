from __future__ import annotations

import errno
import hashlib
import os
import stat
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.tools.atomic import (
    MAX_EDIT_BYTES,
    NEW_FILE_MODE,
    TEMP_SUFFIX,
    TextFormat,
    atomic_write,
    check_not_stale,
    decode_lines,
    decode_text,
    encode_lines,
    encode_text,
    lines_to_text,
    unified_diff,
)
from agent.tools.base import ToolContext, ToolError

BOM = b"\xef\xbb\xbf"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return root


def temp_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.name.endswith(TEMP_SUFFIX)]


# ---- decode / encode ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "text", "fmt"),
    [
        (b"a\nb\n", "a\nb\n", TextFormat("\n", False, True)),
        (b"a\r\nb\r\n", "a\nb\n", TextFormat("\r\n", False, True)),
        (b"a\rb\r", "a\nb\n", TextFormat("\r", False, True)),
        (BOM + b"a\r\nb", "a\nb", TextFormat("\r\n", True, False)),
        (b"", "", TextFormat("\n", False, True)),
        (BOM, "", TextFormat("\n", True, True)),
        (b"no newline", "no newline", TextFormat("\n", False, False)),
    ],
)
def test_decode_detects_the_format_and_encode_restores_the_bytes(data, text, fmt):
    assert decode_text(data, "f") == (text, fmt)
    assert encode_text(text, fmt) == data


def test_the_dominant_line_ending_wins_and_ties_prefer_lf():
    assert decode_text(b"a\r\nb\r\nc\n", "f")[1].eol == "\r\n"
    assert decode_text(b"a\r\nb\n", "f")[1].eol == "\n"


def test_a_lone_carriage_return_in_an_lf_file_is_text_not_a_line_ending():
    data = b"progress\r50%\nnext\n"
    text, fmt = decode_text(data, "f")
    assert text == "progress\r50%\nnext\n"
    assert encode_text(text, fmt) == data


def test_encode_text_never_adds_or_removes_the_final_newline():
    fmt = TextFormat("\r\n", False, False)
    assert encode_text("a\nb", fmt) == b"a\r\nb"
    assert encode_text("a\nb\n", fmt) == b"a\r\nb\r\n"


def test_binary_files_are_refused():
    with pytest.raises(ToolError, match="binary"):
        decode_text(b"PK\x03\x04\x00\x00", "archive.zip")


def test_latin1_files_are_refused_as_not_utf8():
    with pytest.raises(ToolError, match="'old.txt' is not UTF-8.*will not be edited"):
        decode_text("café\n".encode("latin-1"), "old.txt")


def test_files_over_the_limit_are_refused_and_files_at_the_limit_are_not():
    decode_text(b"x" * MAX_EDIT_BYTES, "big")
    with pytest.raises(ToolError, match="larger than the 2 MiB editing limit"):
        decode_text(b"x" * (MAX_EDIT_BYTES + 1), "big")


line_texts = st.text(st.characters(blacklist_characters="\r\n\x00\ufeff", blacklist_categories=("Cs",)), max_size=12)


@given(
    st.lists(st.tuples(line_texts, st.sampled_from(["\n", "\r\n"])), max_size=12),
    st.booleans(),
    st.booleans(),
)
def test_lines_keep_their_own_endings_through_decode_and_encode(lines, bom, trailing):
    raw = "".join(text + ending for text, ending in lines)
    if lines and not trailing:
        raw = raw.removesuffix(lines[-1][1])
    data = (BOM if bom else b"") + raw.encode()
    decoded, fmt = decode_lines(data, "f")
    assert encode_lines(decoded, fmt) == data
    assert lines_to_text(decoded, fmt) == decode_text(data, "f")[0]


def test_encode_lines_gives_new_lines_the_file_ending_and_keeps_the_final_newline_state():
    fmt = TextFormat("\r\n", False, False)
    assert encode_lines([("a", "\n"), ("b", None), ("c", "\r\n")], fmt) == b"a\nb\r\nc"
    assert encode_lines([("a", None)], TextFormat("\r\n", True, True)) == BOM + b"a\r\n"


# ---- atomic_write ------------------------------------------------------------------------


def test_atomic_write_creates_a_file_with_the_default_mode(repo):
    target = repo / "new.txt"
    atomic_write(target, b"hello\n")
    assert target.read_bytes() == b"hello\n"
    assert stat.S_IMODE(target.stat().st_mode) == NEW_FILE_MODE == 0o644 & ~_umask()
    assert temp_files(repo) == []


def test_atomic_write_keeps_the_mode_of_the_file_it_replaces(repo):
    target = repo / "run.sh"
    target.write_bytes(b"#!/bin/sh\n")
    target.chmod(0o755)
    atomic_write(target, b"#!/bin/sh\necho hi\n")
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
    atomic_write(target, b"x", mode=0o600)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_atomic_write_through_the_resolved_path_keeps_the_symlink(repo):
    (repo / "real.txt").write_bytes(b"old\n")
    (repo / "link.txt").symlink_to("real.txt")
    atomic_write((repo / "link.txt").resolve(), b"new\n")
    assert (repo / "link.txt").is_symlink()
    assert (repo / "real.txt").read_bytes() == b"new\n"


def test_a_full_disk_leaves_the_original_and_no_temp_file(repo, monkeypatch):
    target = repo / "a.txt"
    target.write_bytes(b"original\n")

    def full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", full)
    with pytest.raises(ToolError, match="No space left on device while writing 'a.txt'; the file was not changed"):
        atomic_write(target, b"new content\n")
    monkeypatch.undo()
    assert target.read_bytes() == b"original\n"
    assert temp_files(repo) == []


def test_a_failed_rename_leaves_the_original_and_no_temp_file(repo, monkeypatch):
    target = repo / "a.txt"
    target.write_bytes(b"original\n")

    def refuse(src, dst, **dir_fds):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(ToolError, match="Permission denied while writing 'pretty/a.txt'"):
        atomic_write(target, b"new\n", shown_path="pretty/a.txt")
    monkeypatch.undo()
    assert target.read_bytes() == b"original\n"
    assert temp_files(repo) == []


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# ---- staleness ---------------------------------------------------------------------------


def test_staleness_compares_content_hashes_not_times(repo):
    ctx = ToolContext(workspace=repo)
    path = repo / "a.txt"
    path.write_bytes(b"one\n")
    check_not_stale(ctx, path, b"anything", "a.txt")  # never read: not checked
    ctx.remember_read(path, b"one\n")
    os.utime(path, (1, 1))
    check_not_stale(ctx, path, path.read_bytes(), "a.txt")
    with pytest.raises(ToolError, match="'a.txt' changed on disk since you read it; read it again"):
        check_not_stale(ctx, path, b"two\n", "a.txt")
    assert ctx.read_hashes[path] == hashlib.sha256(b"one\n").hexdigest()


# ---- unified_diff ------------------------------------------------------------------------


def test_diff_of_an_update_has_a_and_b_headers():
    diff = unified_diff("a\nb\nc\n", "a\nB\nc\n", "pkg/x.py")
    assert diff == "--- a/pkg/x.py\n+++ b/pkg/x.py\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"


def test_diff_of_a_new_and_a_deleted_file_uses_dev_null():
    assert unified_diff(None, "hi\n", "n.txt") == "--- /dev/null\n+++ b/n.txt\n@@ -0,0 +1 @@\n+hi\n"
    assert unified_diff("hi\n", None, "n.txt") == "--- a/n.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-hi\n"
    assert unified_diff(None, "", "empty") == "--- /dev/null\n+++ b/empty\n"


def test_diff_marks_a_missing_final_newline_and_moves():
    diff = unified_diff("a\nb", "a\nc", "x", new_shown_path="y")
    assert diff.startswith("--- a/x\n+++ b/y\n")
    assert "-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n" in diff
    assert unified_diff("same\n", "same\n", "x") == ""
    assert unified_diff("same\n", "same\n", "x", new_shown_path="y") == "--- a/x\n+++ b/y\n"


def test_diff_does_not_split_lines_on_form_feeds_or_unicode_separators():
    diff = unified_diff("a\x0cb\u2028c\n", "a\x0cb\u2028C\n", "f")
    assert "-a\x0cb\u2028c\n+a\x0cb\u2028C\n" in diff
