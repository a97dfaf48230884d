"""apply_patch as Codex reads a patch: overwriting Add and Move, several sections for one path,
and context matching's fallback passes."""

from __future__ import annotations

import errno
import hashlib
import os
import stat

import pytest

from agent.tools import apply_patch as patch_module
from agent.tools.apply_patch import ApplyPatch, ApplyPatchArgs
from agent.tools.atomic import unified_diff
from agent.tools.base import ToolContext, ToolError
from tests.agent.tools import test_apply_patch as patch_tests
from tests.agent.tools.test_apply_patch import (
    apply_patch,
    fail_third_replace,
    init_repo,
    mark_read,
    patch,
    plan_patch,
    tree,
)

repo = patch_tests.repo  # the same repository fixtures
ctx = patch_tests.ctx


# ---- overwriting (as Codex) ---------------------------------------------------------------


def test_add_overwrites_an_existing_file_that_was_read(repo, ctx):
    (repo / "old.txt").chmod(0o600)
    ctx.remember_read((repo / "old.txt").resolve(), b"bye\n")
    text = patch("*** Add File: old.txt", "+hello")
    request = ApplyPatch().approval_request("call_1", ApplyPatchArgs(patch=text), ctx)
    assert request.summary == "apply_patch: add old.txt (overwriting it)"
    assert request.diff == unified_diff("bye\n", "hello\n", "old.txt")
    result = patch_module.apply_patch(text, ctx)
    assert result.output == "Added old.txt (overwriting it)"
    assert (repo / "old.txt").read_bytes() == b"hello\n"
    assert stat.S_IMODE((repo / "old.txt").stat().st_mode) == 0o600


def test_move_overwrites_an_existing_destination_that_was_read(repo, ctx):
    mark_read(patch("*** Update File: old.txt", "*** Delete File: README.md"), ctx)
    text = patch("*** Update File: old.txt", "*** Move to: README.md", "-bye", "+hi")
    request = ApplyPatch().approval_request("call_1", ApplyPatchArgs(patch=text), ctx)
    assert request.diff == unified_diff("# Word count\n\nCounts words.\n", "hi\n", "README.md") + unified_diff(
        "bye\n", None, "old.txt"
    )
    result = patch_module.apply_patch(text, ctx)
    assert result.output == "Moved old.txt → README.md (overwriting it)"
    assert (repo / "README.md").read_bytes() == b"hi\n"
    assert not (repo / "old.txt").exists()
    assert result.display["diff"] == request.diff


def test_an_overwritten_file_must_have_been_read_and_be_unchanged_since(repo, ctx):
    before = tree(repo)
    mark_read(patch("*** Update File: old.txt"), ctx)
    for text in (
        patch("*** Add File: README.md", "+x"),
        patch("*** Update File: old.txt", "*** Move to: README.md", "-bye", "+hi"),
    ):
        with pytest.raises(ToolError, match=r"read 'README.md' with read_file before you overwrite it"):
            patch_module.apply_patch(text, ctx)
    assert tree(repo) == before
    ctx.remember_read((repo / "README.md").resolve(), b"something else\n")
    with pytest.raises(ToolError, match="'README.md' changed on disk since you read it"):
        patch_module.apply_patch(patch("*** Add File: README.md", "+x"), ctx)
    assert tree(repo) == before


def test_a_directory_is_not_overwritten(repo, ctx):
    with pytest.raises(ToolError, match="cannot write 'wordcount': it is a directory"):
        plan_patch(patch("*** Add File: wordcount", "+x"), ctx)


def test_a_failed_move_restores_the_overwritten_destination(repo, ctx, monkeypatch):
    mark_read(patch("*** Update File: old.txt", "*** Delete File: README.md"), ctx)
    before = tree(repo)

    def fail(root, path, shown):
        raise OSError(errno.EIO, os.strerror(errno.EIO))

    monkeypatch.setattr("agent.tools.patch_write.remove_file", fail)
    with pytest.raises(ToolError, match="restored: README.md"):
        patch_module.apply_patch(patch("*** Update File: old.txt", "*** Move to: README.md", "-bye", "+hi"), ctx)
    assert tree(repo) == before


# ---- several sections for one path -----------------------------------------------------------


def test_delete_then_add_of_one_path_replaces_it(repo, ctx):
    text = patch("*** Delete File: old.txt", "*** Add File: old.txt", "+new")
    result = apply_patch(text, ctx)
    assert result.output == "Deleted old.txt\nAdded old.txt"
    assert (repo / "old.txt").read_bytes() == b"new\n"
    assert ctx.read_hashes[(repo / "old.txt").resolve()] == hashlib.sha256(b"new\n").hexdigest()


def test_sections_for_one_path_apply_in_order(repo, ctx):
    result = apply_patch(
        patch(
            "*** Update File: old.txt",
            "-bye",
            "+hello",
            "*** Update File: old.txt",
            " hello",
            "+world",
            "*** Update File: old.txt",
            "*** Move to: moved/new.txt",
            "-hello",
            "+HELLO",
            "*** Update File: moved/new.txt",
            " world",
            "+!",
        ),
        ctx,
    )
    assert result.output == "Updated old.txt\nUpdated old.txt\nMoved old.txt → moved/new.txt\nUpdated moved/new.txt"
    assert (repo / "moved/new.txt").read_bytes() == b"HELLO\nworld\n!\n"
    assert not (repo / "old.txt").exists()


def test_a_later_section_for_the_same_path_failing_applies_nothing(repo, ctx):
    before = tree(repo)
    text = patch("*** Update File: old.txt", "-bye", "+hello", "*** Update File: old.txt", "-bye", "+again")
    with pytest.raises(ToolError, match="hunk 1 of old.txt did not apply"):
        apply_patch(text, ctx)
    assert tree(repo) == before


def test_a_write_failing_after_two_sections_for_one_path_restores_the_original(repo, ctx, monkeypatch):
    before = tree(repo)
    fail_third_replace(monkeypatch)
    with pytest.raises(ToolError, match="restored: old.txt"):
        apply_patch(
            patch(
                "*** Update File: old.txt",
                "-bye",
                "+one",
                "*** Update File: old.txt",
                "-one",
                "+two",
                "*** Add File: x.txt",
                "+x",
            ),
            ctx,
        )
    monkeypatch.undo()
    assert tree(repo) == before


# ---- matching passes -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file_line", "patch_line"),
    [
        ("x = 1", "x = 1"),
        ("x = 1   ", "x = 1"),
        ("\t  x = 1  ", "x = 1"),
        ("s = \u201cdone\u201d \u2014 it\u2019s\u00a0ok", 's = "done" - it\'s ok'),
        ('s = "done" - it\'s ok', "s = \u201edone\u201f \u2010 it\u201bs\u3000ok"),
        ("a \u2011\u2012\u2013\u2015 \u201a\u2018 \u2002\u2009\u202f\u205f end", "a ---- '' \u00a0    end"),
    ],
    ids=["exact", "trailing-whitespace", "trimmed", "unicode-in-file", "unicode-in-patch", "every-look-alike"],
)
def test_each_matching_pass_finds_the_line_and_keeps_the_files_own_context(tmp_path, file_line, patch_line):
    kept = file_line.replace("1", "2")
    original = f"before\n{file_line}\n{kept}\nafter\n"
    repo = init_repo(tmp_path / "r", {"p.txt": original})
    apply_patch(
        patch("*** Update File: p.txt", " before", f"-{patch_line}", "+replaced", " " + patch_line.replace("1", "2")),
        ToolContext(repo),
    )
    assert (repo / "p.txt").read_text() == f"before\nreplaced\n{kept}\nafter\n"


def test_unicode_look_alikes_are_only_a_last_resort(tmp_path):
    repo = init_repo(tmp_path / "r", {"q.txt": 'say \u201chi\u201d\nsay "hi"\n'})
    apply_patch(patch("*** Update File: q.txt", '-say "hi"', "+said"), ToolContext(repo))
    assert (repo / "q.txt").read_text() == "say \u201chi\u201d\nsaid\n"


def test_an_at_at_line_is_found_through_unicode_look_alikes(tmp_path):
    repo = init_repo(tmp_path / "r", {"h.md": "# Intro \u2014 part 1\nold\n# Next\nold\n"})
    apply_patch(patch("*** Update File: h.md", "@@ # Next", "-old", "+new"), ToolContext(repo))
    apply_patch(patch("*** Update File: h.md", "@@ # Intro - part 1", "-old", "+first"), ToolContext(repo))
    assert (repo / "h.md").read_text() == "# Intro \u2014 part 1\nfirst\n# Next\nnew\n"
