"""The checkpoint engine on trees that change shape: a directory replaced by a symlink or a file
(and back), with and without attributes in the repository; snapshots keep working, undo and redo
are exact, and nothing of the user's is written."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.agent.conftest import make_repo
from tests.agent.test_checkpoint_store import OpenStore, git, open_store  # noqa: F401 (a fixture)


def worktree_tree(repo: Path, scratch: Path) -> str:
    """The work tree's content (modes and symlinks included) as a tree id, via a throwaway index."""
    env = {**os.environ, "GIT_INDEX_FILE": str(scratch / "compare.index")}
    for args in (["read-tree", "--empty"], ["add", "-A"]):
        subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True)
    return subprocess.run(
        ["git", "write-tree"], cwd=repo, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def user_state(repo: Path) -> tuple[bytes, str, str, str, list[str]]:
    """The user's index, HEAD and refs (checkpoint refs aside), reflogs and stash."""
    index = repo / ".git" / "index"
    refs = git(repo, "for-each-ref", "--format=%(refname) %(objectname)", "refs/heads", "refs/tags", "refs/stash")
    logs = sorted(
        str(path.relative_to(repo / ".git")) for path in (repo / ".git" / "logs").rglob("*") if path.is_file()
    )
    return (
        index.read_bytes(),
        git(repo, "symbolic-ref", "HEAD") + refs,
        git(repo, "reflog", "--all"),
        git(repo, "stash", "list"),
        logs,
    )


@pytest.mark.parametrize("attributes", [False, True], ids=["plain", "with-attributes"])
def test_a_directory_that_became_a_symlink_is_snapshotted_undone_and_redone(
    tmp_path: Path,
    open_store: OpenStore,  # noqa: F811
    attributes: bool,
) -> None:
    files = {"e/z": "z\n", "other/z": "other\n", "x": "file\n", "d/y": "y\n"}
    if attributes:
        files[".gitattributes"] = "*.txt text\n"
    repo = make_repo(tmp_path / "repo", files)
    mine = user_state(repo)
    store = open_store(repo)
    before = store.snapshot("1-before", "before")
    start = worktree_tree(repo, tmp_path)

    shutil.rmtree(repo / "e")
    os.symlink("other", repo / "e")  # e/z now resolves to other/z: it must not be stored as e/z
    (repo / "x").unlink()
    (repo / "x").mkdir()
    (repo / "x" / "inner").write_text("in\n")
    shutil.rmtree(repo / "d")
    (repo / "d").write_text("a file now\n")
    after = store.snapshot("1-after", "after")
    changed = worktree_tree(repo, tmp_path)
    assert git(repo, "ls-tree", "-r", "--name-only", after.commit).split() == [
        *([".gitattributes"] if attributes else []),
        "d",
        "e",
        "other/z",
        "x/inner",
    ]
    assert git(repo, "cat-file", "-p", f"{after.commit}:e") == "other"
    assert store.snapshot(None, "again").commit, "later snapshots keep working"

    paths = store.changed_paths(before.commit, after.commit)
    assert store.differing(after.commit, paths) == []
    undone = store.restore(before.commit, paths)
    assert not undone.problems and worktree_tree(repo, tmp_path) == start
    assert (repo / "e").is_dir() and not (repo / "e").is_symlink() and (repo / "e" / "z").read_text() == "z\n"
    redone = store.restore(after.commit, paths)
    assert not redone.problems and worktree_tree(repo, tmp_path) == changed
    assert os.readlink(repo / "e") == "other" and (repo / "other" / "z").read_text() == "other\n"
    assert user_state(repo) == mine, "the user's index, refs, reflogs and stash are as they were"


def test_a_file_the_user_marked_assume_unchanged_is_still_snapshotted_and_undone(
    tmp_path: Path,
    open_store: OpenStore,  # noqa: F811
) -> None:
    repo = make_repo(tmp_path / "repo", {"a.txt": "a\n", "b.txt": "b\n"})
    git(repo, "update-index", "--assume-unchanged", "a.txt")
    mine = user_state(repo)
    store = open_store(repo)
    before = store.snapshot("1-before", "before")
    (repo / "a.txt").write_text("changed by the turn\n")
    after = store.snapshot("1-after", "after")
    assert store.changed_paths(before.commit, after.commit) == ["a.txt"]
    assert store.restore(before.commit, ["a.txt"]).written == ("a.txt",)
    assert (repo / "a.txt").read_text() == "a\n"
    assert user_state(repo) == mine and git(repo, "ls-files", "-v", "a.txt") == "h a.txt", "the user's mark stays"


def test_a_diff_over_more_paths_than_arguments_can_hold_works(tmp_path: Path, open_store: OpenStore) -> None:  # noqa: F811
    repo = make_repo(tmp_path / "repo", {"a.txt": "a\n", "keep.txt": "keep\n"})
    store = open_store(repo)
    before = store.snapshot("1-before", "before")
    made = repo / "node_modules"
    made.mkdir()
    names = [f"node_modules/{'p' * 200}{number:05}.js" for number in range(12_000)]  # 2.5 MB of names
    for name in names:
        (repo / name).write_text("x\n")
    (repo / "a.txt").write_text("changed\n")
    (repo / "keep.txt").write_text("edited by hand, not asked for\n")
    after = store.snapshot("1-after", "after")
    paths = ["a.txt", *names]
    changes = store.changes(before.commit, after.commit, paths)
    assert len(changes) == len(paths) and {c.path for c in changes} == set(paths)
    patch = store.patch(before.commit, after.commit, paths)
    assert "+changed" in patch and f"+++ b/{names[-1]}" in patch
