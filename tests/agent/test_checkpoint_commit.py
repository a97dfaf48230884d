"""`CheckpointStore.commit`: the given paths as they are in the work tree, on top of HEAD and
nothing else; the branch moves; whatever else the user staged stays staged."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from agent.checkpoint_store import CheckpointError
from tests.agent.test_checkpoint_store import IDENTITY, OpenStore, git, open_store, repo  # noqa: F401 (fixtures)


def staged_setup(root: Path) -> None:
    (root / "pkg" / "b.py").write_text("staged by the user\n")
    git(root, "add", "pkg/b.py")
    (root / "run.sh").write_text("#!/bin/sh\necho unstaged\n")


def test_commit_holds_exactly_the_given_paths_and_keeps_the_users_staging(repo: Path, open_store: OpenStore) -> None:  # noqa: F811
    staged_setup(repo)
    head = git(repo, "rev-parse", "HEAD")
    store = open_store(repo)
    (repo / "a.py").write_text("print('committed')\n")
    (repo / "new dir").mkdir()
    (repo / "new dir" / "created.txt").write_text("new\n")
    (repo / "pkg" / "deep" / "c.txt").unlink()
    files = ["a.py", "new dir/created.txt", "pkg/deep/c.txt"]

    result = store.commit(files, "Change a, add created, drop c")

    assert result.branch == "main" and result.files == tuple(files)
    assert git(repo, "rev-parse", "main") == result.commit and git(repo, "rev-parse", "HEAD^") == head
    changed = git(repo, "diff-tree", "-r", "--name-status", "--no-renames", "HEAD^", "HEAD").splitlines()
    assert changed == ["M\ta.py", "A\tnew dir/created.txt", "D\tpkg/deep/c.txt"]
    assert git(repo, "show", "HEAD:a.py") == "print('committed')"
    assert git(repo, "log", "-1", "--format=%B").endswith("Assisted-by: codeassist")
    assert git(repo, "reflog", "-1", "--format=%gs", "main") == "commit: Change a, add created, drop c"
    assert git(repo, "diff", "--cached", "--name-only") == "pkg/b.py"
    assert git(repo, "diff", "--name-only") == "run.sh"
    assert git(repo, "ls-files", "-s", "a.py").split()[1] == git(repo, "rev-parse", "HEAD:a.py")
    assert git(repo, "ls-files", "pkg/deep/c.txt") == ""
    assert git(repo, "status", "--porcelain", "--", *files) == ""


def test_commit_on_a_detached_head_and_on_an_unborn_branch(repo: Path, tmp_path: Path, open_store: OpenStore) -> None:  # noqa: F811
    git(repo, "checkout", "-q", "--detach")
    main = git(repo, "rev-parse", "main")
    (repo / "a.py").write_text("detached\n")
    result = open_store(repo).commit(["a.py"], "On a detached HEAD\n\nAssisted-by: codeassist\n")
    assert result.branch is None and git(repo, "rev-parse", "HEAD") == result.commit
    assert git(repo, "rev-parse", "main") == main
    assert git(repo, "log", "-1", "--format=%B").count("Assisted-by") == 1

    empty = tmp_path / "unborn"
    empty.mkdir()
    git(empty, "init", "-q", "-b", "trunk")
    (empty / "first.txt").write_text("first\n")
    (empty / "second.txt").write_text("second\n")
    result = open_store(empty).commit(["first.txt"], "First")
    assert result.branch == "trunk" and git(empty, "rev-list", "--parents", "trunk") == result.commit
    assert git(empty, "ls-tree", "-r", "--name-only", "trunk") == "first.txt"
    assert git(empty, "status", "--porcelain") == "?? second.txt"


def test_commit_uses_the_repositorys_normal_filters(repo: Path, open_store: OpenStore) -> None:  # noqa: F811
    (repo / ".gitattributes").write_text("* text=auto\n")
    (repo / "dos.txt").write_bytes(b"one\r\ntwo\r\n")

    open_store(repo).commit([".gitattributes", "dos.txt"], "Add a DOS file")

    assert (
        subprocess.run(["git", "cat-file", "blob", "HEAD:dos.txt"], cwd=repo, capture_output=True).stdout
        == b"one\ntwo\n"
    )
    assert git(repo, "status", "--porcelain") == ""


def test_nothing_to_commit_is_an_error(repo: Path, open_store: OpenStore) -> None:  # noqa: F811
    store = open_store(repo)
    with pytest.raises(CheckpointError, match="nothing to commit"):
        store.commit(["a.py"], "Nothing")
    with pytest.raises(CheckpointError, match="nothing to commit"):
        store.commit([], "Nothing")


def test_commit_refuses_during_a_merge_and_explains_a_missing_identity(
    repo: Path,  # noqa: F811
    open_store: OpenStore,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = open_store(repo)
    (repo / "a.py").write_text("changed\n")
    (repo / ".git" / "MERGE_HEAD").write_text(git(repo, "rev-parse", "HEAD") + "\n")
    with pytest.raises(CheckpointError, match="a merge is in progress"):
        store.commit(["a.py"], "During a merge")
    (repo / ".git" / "MERGE_HEAD").unlink()
    head = git(repo, "rev-parse", "HEAD")

    empty = repo.parent / "empty-home"
    empty.mkdir()
    for name in ("GIT_AUTHOR_NAME", "GIT_AUTHOR_EMAIL", "GIT_COMMITTER_NAME", "GIT_COMMITTER_EMAIL", "EMAIL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(empty))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty / "none"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    subprocess.run(["git", "config", "user.useConfigOnly", "true"], cwd=repo, check=True)
    with pytest.raises(CheckpointError, match="does not know who you are"):
        store.commit(["a.py"], "Without a name")
    assert git(repo, "rev-parse", "HEAD") == head


def test_commit_while_another_git_command_holds_the_index_changes_nothing(repo: Path, open_store: OpenStore) -> None:  # noqa: F811
    head = git(repo, "rev-parse", "HEAD")
    index = (repo / ".git" / "index").read_bytes()
    store = open_store(repo)
    (repo / "a.py").write_text("print('committed')\n")
    (repo / ".git" / "index.lock").write_bytes(b"")  # e.g. an editor's git command running
    with pytest.raises(CheckpointError) as raised:
        store.commit(["a.py"], "Change a")
    assert "index.lock': File exists" in str(raised.value) and str(raised.value).startswith("git update-index failed")
    assert git(repo, "rev-parse", "HEAD") == head, "the branch did not move"
    assert (repo / ".git" / "index").read_bytes() == index

    (repo / ".git" / "index.lock").unlink()
    result = store.commit(["a.py"], "Change a")
    assert git(repo, "rev-parse", "HEAD") == result.commit and git(repo, "status", "--porcelain") == ""


def test_commit_whose_branch_cannot_move_puts_the_index_back(repo: Path, open_store: OpenStore) -> None:  # noqa: F811
    staged_setup(repo)
    (repo / "a.py").write_text("print('committed')\n")
    head = git(repo, "rev-parse", "HEAD")
    staged = git(repo, "ls-files", "-s")
    store = open_store(repo)
    (repo / ".git" / "refs" / "heads" / "main.lock").write_bytes(b"")
    with pytest.raises(CheckpointError, match="cannot lock ref"):
        store.commit(["a.py", "pkg/b.py"], "Change a")
    assert git(repo, "rev-parse", "HEAD") == head and git(repo, "ls-files", "-s") == staged
