"""Workspace containment: no path a model can write escapes the workspace."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from agent.tools import ToolContext, ToolError
from agent.tools.paths import resolve_path
from agent.tools.write_file import WriteFile, WriteFileArgs
from tests.agent.tools.conftest import tree_digest


@pytest.fixture
def sandbox(tmp_path: Path) -> tuple[Path, Path]:
    """A workspace next to a sibling whose name starts the same, plus symlinks pointing out."""
    workspace = tmp_path / "proj"
    outside = tmp_path / "proj-evil"
    (workspace / "src").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.txt").write_text("keep me")
    (workspace / "src/ok.py").write_text("x = 1\n")
    os.symlink(outside, workspace / "escape")
    os.symlink(outside / "secret.txt", workspace / "src/link.txt")
    os.symlink("/etc", workspace / "etc-link")
    return workspace, outside


@pytest.mark.parametrize(
    "raw",
    [
        "../proj-evil/secret.txt",
        "/etc/passwd",
        "src/../../proj-evil/x",
        "escape/secret.txt",
        "src/link.txt",
        "etc-link/hosts",
        "~/.bashrc",
        "escape/new.txt",
    ],
)
def test_escapes_are_refused(sandbox, raw):
    workspace, _ = sandbox
    with pytest.raises(ToolError, match="outside the workspace"):
        resolve_path(ToolContext(workspace=workspace), raw)


def test_a_home_directory_of_an_unknown_user_is_a_clear_error(sandbox):
    workspace, _ = sandbox
    with pytest.raises(ToolError, match="home directory"):
        resolve_path(ToolContext(workspace=workspace), "~no-such-user-0/x")


def test_inside_paths_resolve(sandbox):
    workspace, _ = sandbox
    ctx = ToolContext(workspace=workspace)
    assert resolve_path(ctx, "src/ok.py") == workspace / "src/ok.py"
    assert resolve_path(ctx, "src/new/deeper.py") == workspace / "src/new/deeper.py"
    assert resolve_path(ctx, str(workspace / "src/ok.py")) == workspace / "src/ok.py"
    with pytest.raises(ToolError):
        resolve_path(ctx, "")
    with pytest.raises(ToolError, match="NUL"):
        resolve_path(ctx, "a\x00b")


segments = st.sampled_from(["..", ".", "src", "escape", "etc-link", "proj-evil", "proj", "x.txt", "link.txt", "~", ""])
paths = st.one_of(
    st.lists(segments, min_size=1, max_size=6).map("/".join),
    st.lists(segments, min_size=1, max_size=6).map(lambda parts: "/" + "/".join(parts)),
    st.text(max_size=20),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=paths)
@example(raw="~0")
def test_any_accepted_write_lands_inside_and_nothing_outside_changes(sandbox, raw):
    import asyncio

    workspace, outside = sandbox
    before = tree_digest(outside)
    ctx = ToolContext(workspace=workspace)
    try:
        target = resolve_path(ctx, raw, for_write=True)
    except ToolError:
        target = None
    if target is not None:
        assert target.is_relative_to(workspace.resolve())
    with contextlib.suppress(ToolError):
        asyncio.run(WriteFile().run(WriteFileArgs(path=raw, content="data\n"), ctx))
    assert tree_digest(outside) == before
    assert (outside / "secret.txt").read_text() == "keep me"
