"""Checkpoints on real repositories: snapshots are exact, restores bring back exactly what was
there, and nothing of the user's (index, HEAD, branches, stash, reflogs) is written."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.checkpoint_store import CheckpointError, CheckpointStore, init_repository
from tests.agent.conftest import make_repo
from tests.agent.test_git import _ran, hostile_repo  # noqa: F401 (a fixture)

IDENTITY = ["-c", "user.name=t", "-c", "user.email=t@example.invalid"]


def git(repo: Path, *args: str, input: bytes | None = None) -> str:
    result = subprocess.run(["git", *args], cwd=repo, capture_output=True, check=True, input=input)
    return result.stdout.decode(errors="surrogateescape").strip()


def tree(repo: Path, commit: str) -> str:
    return git(repo, "rev-parse", f"{commit}^{{tree}}")


OpenStore = Callable[..., CheckpointStore]


@pytest.fixture
def open_store(tmp_path: Path) -> Iterator[OpenStore]:
    """Open stores (closed at the end of the test) with their private index under `tmp_path`."""
    opened: list[CheckpointStore] = []

    def at(repo: Path, session: str = "s1", **options: int) -> CheckpointStore:
        store = CheckpointStore.open(repo, session, index_dir=tmp_path / "checkpoints", **options)
        assert store is not None
        opened.append(store)
        return store

    yield at
    for store in opened:
        store.close()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    files = {
        "a.py": "print('hello')\n",
        "pkg/b.py": "X = 1\n",
        "pkg/deep/c.txt": "deep\n",
        "old name.txt": "to be renamed\n" * 20,
        "run.sh": "#!/bin/sh\necho hi\n",
        ".gitignore": "*.log\nbuild/\n",
    }
    return make_repo(tmp_path / "repo", files)


def mutate(repo: Path) -> None:
    (repo / "a.py").write_text("print('changed')\n")
    (repo / "new dir").mkdir()
    (repo / "new dir" / "created.txt").write_text("new\n")
    (repo / "pkg" / "deep" / "c.txt").unlink()
    os.rename(repo / "old name.txt", repo / "new name.txt")
    (repo / "run.sh").chmod(0o755)
    os.symlink("a.py", repo / "link")
    (repo / "pkg" / "b.py").unlink()
    os.symlink("../a.py", repo / "pkg" / "b.py")


def test_a_turn_is_undone_and_redone_exactly(repo: Path, open_store: OpenStore) -> None:
    store = open_store(repo)
    before = store.snapshot("1-before", "before turn 1")
    mutate(repo)
    after = store.snapshot("1-after", "after turn 1")
    paths = store.changed_paths(before.commit, after.commit)
    assert {"a.py", "new dir/created.txt", "pkg/deep/c.txt", "old name.txt", "new name.txt", "run.sh", "link"} <= set(
        paths
    )

    undone = store.restore(before.commit, paths)
    assert tree(repo, store.snapshot(None, "undone").commit) == tree(repo, before.commit)
    assert not (repo / "new dir").exists() and not (repo / "link").exists()
    assert (repo / "pkg" / "deep" / "c.txt").read_text() == "deep\n"
    assert not os.access(repo / "run.sh", os.X_OK) and not (repo / "pkg" / "b.py").is_symlink()
    assert set(undone.deleted) == {"new dir/created.txt", "new name.txt", "link"} and undone.problems == ()

    store.restore(after.commit, paths)
    assert tree(repo, store.snapshot(None, "redone").commit) == tree(repo, after.commit)
    assert os.access(repo / "run.sh", os.X_OK) and os.readlink(repo / "pkg" / "b.py") == "../a.py"


def test_changes_made_by_a_shell_are_restored(repo: Path, open_store: OpenStore) -> None:
    store = open_store(repo)
    before = store.snapshot("1-before", "m")
    script = "echo more >> a.py; rm -r pkg; mkdir -p out/x; printf 'bin\\0ary' > out/x/blob; chmod +x out/x/blob"
    subprocess.run(["sh", "-c", script], cwd=repo, check=True)
    after = store.snapshot("1-after", "m")

    store.restore(before.commit, store.changed_paths(before.commit, after.commit))

    assert tree(repo, store.snapshot(None, "m").commit) == tree(repo, before.commit)
    assert (repo / "pkg" / "b.py").read_text() == "X = 1\n" and not (repo / "out").exists()


def test_changes_report_each_kind(repo: Path, open_store: OpenStore) -> None:
    store = open_store(repo)
    before = store.snapshot("1-before", "m")
    mutate(repo)
    (repo / "image.bin").write_bytes(b"\0\1\2" * 100)
    after = store.snapshot("1-after", "m")

    found = {change.path: change for change in store.changes(before.commit, after.commit)}

    assert found["a.py"].status == "modified" and (found["a.py"].added, found["a.py"].removed) == (1, 1)
    assert found["new name.txt"].status == "renamed" and found["new name.txt"].old_path == "old name.txt"
    assert found["run.sh"].status == "mode"
    assert found["pkg/b.py"].status == "type"
    assert found["pkg/deep/c.txt"].status == "deleted" and found["pkg/deep/c.txt"].removed == 1
    assert found["new dir/created.txt"].status == "added"
    assert found["image.bin"].binary and found["image.bin"].added == 0
    assert [change.path for change in store.changes(before.commit, after.commit, ["a.py"])] == ["a.py"]
    patch = store.patch(before.commit, after.commit)
    assert "+print('changed')" in patch and "Binary files" in patch and "rename from old name.txt" in patch
    assert store.patch(before.commit, after.commit, ["run.sh"]).count("diff --git") == 1


USER_STATE = ("index", "HEAD", "packed-refs", "refs/heads", "refs/stash", "logs", "ORIG_HEAD", "config")


def user_state(repo: Path) -> dict[str, bytes]:
    found = {}
    for name in USER_STATE:
        path = repo / ".git" / name
        for file in [path] if path.is_file() else sorted(path.rglob("*")):
            if file.is_file():
                found[str(file.relative_to(repo))] = file.read_bytes()
    return found


def test_the_users_index_head_branches_stash_and_reflogs_are_never_written(repo: Path, open_store: OpenStore) -> None:
    git(repo, "branch", "feature")
    git(repo, "pack-refs", "--all")
    (repo / "a.py").write_text("stashed\n")
    git(repo, *IDENTITY, "stash")
    (repo / "pkg" / "b.py").write_text("staged\n")
    git(repo, "add", "pkg/b.py")
    (repo / "a.py").write_text("unstaged\n")
    state = user_state(repo)
    assert {".git/index", ".git/HEAD", ".git/packed-refs", ".git/refs/stash", ".git/logs/HEAD"} <= set(state)

    store = open_store(repo)
    before = store.snapshot("1-before", "m")
    mutate(repo)
    after = store.snapshot("1-after", "m")
    paths = store.changed_paths(before.commit, after.commit)
    store.changes(before.commit, after.commit)
    store.patch(before.commit, after.commit)
    store.differing(after.commit, paths)
    store.restore(before.commit, paths)
    store.restore(after.commit, paths)
    store.dirty_files()

    assert user_state(repo) == state
    assert git(repo, "for-each-ref", "--format=%(refname)", "refs/codeassist").split() == [
        "refs/codeassist/s1/1-after",
        "refs/codeassist/s1/1-before",
    ]
    assert not (repo / ".git" / "logs" / "refs" / "codeassist").exists()


def test_a_hand_edit_since_the_checkpoint_is_found(repo: Path, open_store: OpenStore) -> None:
    store = open_store(repo)
    before = store.snapshot("1-before", "m")
    mutate(repo)
    after = store.snapshot("1-after", "m")
    paths = store.changed_paths(before.commit, after.commit)
    assert store.differing(after.commit, paths) == []

    (repo / "a.py").write_text("by hand\n")
    (repo / "new dir" / "created.txt").unlink()
    (repo / "run.sh").chmod(0o644)
    os.unlink(repo / "link")
    os.symlink("elsewhere", repo / "link")

    assert set(store.differing(after.commit, paths)) == {"a.py", "new dir/created.txt", "run.sh", "link"}
    assert store.differing(before.commit, ["pkg/b.py", "never.txt"]) == ["pkg/b.py"]


def test_large_untracked_and_ignored_files_are_left_out_and_never_touched(repo: Path, open_store: OpenStore) -> None:
    store = open_store(repo, max_file_bytes=1000)
    (repo / "big.dat").write_bytes(b"x" * 2000)
    (repo / "debug.log").write_text("ignored\n")
    (repo / "build").mkdir()
    (repo / "build" / "out.o").write_text("ignored\n")
    before = store.snapshot("1-before", "m")
    assert before.skipped == ("big.dat",) and before.skipped_reasons == ("over 0.000953674 MiB",)
    assert "debug.log" not in git(repo, "ls-tree", "-r", "--name-only", before.commit)

    (repo / "big.dat").write_bytes(b"small")
    (repo / "debug.log").write_text("changed\n")
    after = store.snapshot("1-after", "m")
    paths = store.changed_paths(before.commit, after.commit)
    assert paths == ["big.dat"] and after.skipped == ()
    assert store.differing(before.commit, paths) == []

    result = store.restore(before.commit, paths)

    assert (repo / "big.dat").read_bytes() == b"small" and (repo / "debug.log").read_text() == "changed\n"
    assert result.skipped == ("big.dat",) and result.deleted == () and len(result.problems) == 1


def test_the_size_reason_names_the_cap(repo: Path, open_store: OpenStore) -> None:
    store = open_store(repo, max_file_bytes=10 * 1024 * 1024)
    (repo / "huge.bin").write_bytes(b"\0" * (10 * 1024 * 1024 + 1))

    assert store.snapshot(None, "m").skipped_reasons == ("over 10 MiB",)


def test_submodules_and_nested_repositories_do_not_break_it(repo: Path, tmp_path: Path, open_store: OpenStore) -> None:
    library = make_repo(tmp_path / "library", {"lib.txt": "lib\n"})
    git(repo, "-c", "protocol.file.allow=always", "submodule", "add", "-q", str(library), "vendor/lib")
    git(repo, *IDENTITY, "commit", "-qm", "add submodule")
    nested = make_repo(repo / "nested", {"n.txt": "n\n"})
    store = open_store(repo)
    before = store.snapshot("1-before", "m")
    assert before.skipped == ("nested",) and before.skipped_reasons == ("nested repository",)

    (repo / "vendor" / "lib" / "lib.txt").write_text("changed inside\n")
    git(repo / "vendor" / "lib", *IDENTITY, "commit", "-qam", "inside")
    (nested / "n.txt").write_text("changed\n")
    (repo / "a.py").write_text("changed\n")
    after = store.snapshot("1-after", "m")
    assert dict(zip(after.skipped, after.skipped_reasons, strict=True)) == {
        "nested": "nested repository",
        "vendor/lib": "submodule",
    }
    assert git(repo, "ls-tree", after.commit, "vendor/lib").startswith("160000 commit")

    paths = [*store.changed_paths(before.commit, after.commit), "vendor/lib"]
    assert store.differing(after.commit, paths) == []
    result = store.restore(before.commit, paths)

    assert "vendor/lib" in result.skipped and result.written == ("a.py",)
    assert (repo / "vendor" / "lib" / "lib.txt").read_text() == "changed inside\n"
    assert (nested / "n.txt").read_text() == "changed\n"


def test_lfs_pointer_files_round_trip_and_no_filter_runs(
    repo: Path, tmp_path: Path, open_store: OpenStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    pointer = "version https://git-lfs.github.com/spec/v1\noid sha256:" + "a" * 64 + "\nsize 12345\n"
    (repo / ".gitattributes").write_text("*.bin filter=lfs diff=lfs merge=lfs -text\n")
    (repo / "model.bin").write_text(pointer)
    git(repo, "add", "-A")
    git(repo, *IDENTITY, "commit", "-qm", "lfs")
    marker = tmp_path / "lfs-ran"
    global_config = tmp_path / "global.gitconfig"
    global_config.write_text(
        f'[filter "lfs"]\n\tclean = touch {marker}; cat\n\tsmudge = touch {marker}; cat\n\trequired = true\n'
    )
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(global_config))
    store = open_store(repo)
    before = store.snapshot("1-before", "m")
    (repo / "model.bin").write_text(pointer.replace("12345", "999"))
    (repo / "other.bin").write_text(pointer)
    after = store.snapshot("1-after", "m")

    store.restore(before.commit, store.changed_paths(before.commit, after.commit))

    assert (repo / "model.bin").read_text() == pointer and not (repo / "other.bin").exists()
    assert tree(repo, store.snapshot(None, "m").commit) == tree(repo, before.commit)
    assert not marker.exists()


def test_crlf_files_under_text_auto_round_trip_byte_for_byte(repo: Path, open_store: OpenStore) -> None:
    (repo / ".gitattributes").write_text("* text=auto\n")
    (repo / "dos.txt").write_bytes(b"one\r\ntwo\r\n")
    git(repo, "add", "-A")
    git(repo, *IDENTITY, "commit", "-qm", "crlf")
    assert git(repo, "cat-file", "-p", "HEAD:dos.txt") == "one\ntwo"  # normalised in git, CRLF on disk
    store = open_store(repo)
    before = store.snapshot("1-before", "m")
    assert git(repo, "cat-file", "blob", f"{before.commit}:dos.txt").encode() == b"one\r\ntwo"

    (repo / "dos.txt").write_bytes(b"one\r\nthree\r\n")
    (repo / "new.txt").write_bytes(b"x\r\n")
    after = store.snapshot("1-after", "m")
    store.restore(before.commit, store.changed_paths(before.commit, after.commit))

    assert (repo / "dos.txt").read_bytes() == b"one\r\ntwo\r\n" and not (repo / "new.txt").exists()
    store.restore(after.commit, store.changed_paths(before.commit, after.commit))
    assert (repo / "new.txt").read_bytes() == b"x\r\n" and (repo / "dos.txt").read_bytes() == b"one\r\nthree\r\n"
    assert store.differing(after.commit, ["dos.txt", "new.txt"]) == []


def test_a_detached_head_and_an_unborn_branch(repo: Path, tmp_path: Path, open_store: OpenStore) -> None:
    git(repo, "checkout", "-q", "--detach")
    head = git(repo, "rev-parse", "HEAD")
    detached = open_store(repo).snapshot("1-before", "m")
    assert git(repo, "rev-parse", f"{detached.commit}^") == head

    empty = tmp_path / "unborn"
    empty.mkdir()
    git(empty, "init", "-q", "-b", "main")
    (empty / "first.txt").write_text("first\n")
    store = open_store(empty)
    before = store.snapshot("1-before", "m")
    (empty / "first.txt").unlink()
    after = store.snapshot("1-after", "m")
    assert git(empty, "rev-list", "--parents", "-1", before.commit) == before.commit

    store.restore(before.commit, store.changed_paths(before.commit, after.commit))
    assert (empty / "first.txt").read_text() == "first\n"
    assert not (empty / ".git" / "index").exists()


def test_outside_git_there_is_no_store(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()

    assert CheckpointStore.open(tmp_path / "plain", "s1", index_dir=tmp_path / "checkpoints") is None


def test_init_repository_makes_one(tmp_path: Path) -> None:
    init_repository(tmp_path)

    assert (tmp_path / ".git").is_dir()
    assert CheckpointStore.open(tmp_path, "s1", index_dir=tmp_path / "c") is not None
    with pytest.raises(CheckpointError):
        init_repository(tmp_path / "missing" / "dir")


HOSTILE = ["with space.txt", "new\nline.txt", "-leading-dash.txt", '"quoted".txt', "back\\slash.txt", "tab\tname.txt"]


def test_hostile_names_work(repo: Path, open_store: OpenStore) -> None:
    names = [*HOSTILE, os.fsdecode(b"latin1-\xe9.txt"), "trailing\r"]
    store = open_store(repo)
    before = store.snapshot("1-before", "m")
    for name in names:
        (repo / name).write_bytes(b"content\n")
    after = store.snapshot("1-after", "m")
    paths = store.changed_paths(before.commit, after.commit)
    assert set(paths) == set(names)
    assert {change.path for change in store.changes(before.commit, after.commit)} == set(names)
    assert store.differing(after.commit, paths) == []

    store.restore(before.commit, paths)
    assert not any((repo / name).exists() for name in names)
    store.restore(after.commit, paths)
    assert all((repo / name).read_bytes() == b"content\n" for name in names)

    store.commit(paths, "hostile names")
    assert git(repo, "status", "--porcelain") == ""


def test_a_session_id_that_cannot_name_a_ref_is_refused(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError):
        CheckpointStore.open(repo, "../escape", index_dir=tmp_path / "c")


def test_exists_and_dirty_files(repo: Path, open_store: OpenStore) -> None:
    store = open_store(repo)
    snapshot = store.snapshot("1-before", "m")
    (repo / "a.py").write_text("dirty\n")
    (repo / "untracked.txt").write_text("u\n")
    (repo / "debug.log").write_text("ignored\n")

    assert store.exists(snapshot.commit) and store.exists(git(repo, "rev-parse", "HEAD"))
    assert not store.exists("0" * 40) and not store.exists("not hex")
    assert not store.exists(git(repo, "rev-parse", "HEAD^{tree}"))
    assert store.dirty_files() == ["a.py", "untracked.txt"]


def test_a_file_that_cannot_be_written_is_a_problem_not_an_exception(repo: Path, open_store: OpenStore) -> None:
    store = open_store(repo)
    before = store.snapshot("1-before", "m")
    (repo / "pkg" / "deep" / "c.txt").unlink()
    (repo / "pkg" / "deep").rmdir()
    (repo / "pkg" / "deep").write_text("a file where a directory was\n")

    result = store.restore(before.commit, ["pkg/deep/c.txt", "a.py"])

    assert result.skipped == ("pkg/deep/c.txt",) and "could not write" in result.problems[0]
    assert (repo / "pkg" / "deep").read_text() == "a file where a directory was\n"


def test_a_repository_configuration_runs_nothing(hostile_repo: Path, open_store: OpenStore) -> None:  # noqa: F811
    store = open_store(hostile_repo)
    before = store.snapshot("1-before", "m")
    (hostile_repo / "notes.txt").write_text("three\n")
    (hostile_repo / "more.txt").write_text("more\n")
    after = store.snapshot("1-after", "m")
    paths = store.changed_paths(before.commit, after.commit)
    store.changes(before.commit, after.commit)
    assert "+three" in store.patch(before.commit, after.commit)
    store.differing(after.commit, paths)
    store.restore(before.commit, paths)
    assert (hostile_repo / "notes.txt").read_text() == "two\n"
    store.restore(after.commit, paths)
    store.dirty_files()
    store.commit(paths, "Notes")
    store.snapshot(None, "m")

    assert _ran(hostile_repo) == []
    assert git(hostile_repo, "show", "HEAD:notes.txt") == "three"


def test_a_resumed_session_keeps_its_index_and_stays_exact(repo: Path, tmp_path: Path, open_store: OpenStore) -> None:
    (repo / ".gitattributes").write_text("*.txt text=auto\n")
    (repo / "dos.txt").write_bytes(b"a\r\n")
    git(repo, "add", "-A")
    git(repo, *IDENTITY, "commit", "-qm", "crlf")
    open_store(repo, "resumed").snapshot("1-before", "m")
    resumed = open_store(repo, "resumed")
    (repo / "dos.txt").write_bytes(b"a\r\nb\r\n")

    after = resumed.snapshot("1-after", "m")

    assert (
        subprocess.run(["git", "cat-file", "blob", f"{after.commit}:dos.txt"], cwd=repo, capture_output=True).stdout
        == b"a\r\nb\r\n"
    )


def test_a_damaged_private_index_is_started_again(repo: Path, tmp_path: Path, open_store: OpenStore) -> None:
    store = open_store(repo)
    before = store.snapshot("1-before", "m")
    (tmp_path / "checkpoints" / "s1.index").write_bytes(b"DIRC garbage")
    (repo / "a.py").write_text("after\n")

    after = store.snapshot("1-after", "m")

    assert store.changed_paths(before.commit, after.commit) == ["a.py"]


def test_paths_outside_the_work_tree_are_never_touched(repo: Path, open_store: OpenStore) -> None:
    store = open_store(repo)
    snapshot = store.snapshot("1-before", "m")
    config = (repo / ".git" / "config").read_bytes()
    nested = make_repo(repo / "nested", {"keep.txt": "keep\n"})
    with_nested = store.snapshot("2-before", "m")

    result = store.restore(snapshot.commit, [".git/config", "../repo/a.py", "/etc/passwd", "pkg/../a.py"])
    assert len(result.skipped) == 4 and result.deleted == () and result.written == ()
    assert (repo / ".git" / "config").read_bytes() == config
    assert store.restore(with_nested.commit, ["nested/keep.txt"]).deleted == ()
    assert (nested / "keep.txt").exists()
    assert store.differing(with_nested.commit, [".git/config", "nested/keep.txt"]) == []


@pytest.mark.parametrize("included", [False, True])
def test_a_driver_configured_during_the_session_runs_nothing(
    repo: Path, tmp_path: Path, open_store: OpenStore, included: bool
) -> None:
    store = open_store(repo)
    before = store.snapshot("1-before", "m")
    marker = tmp_path / "late-ran"
    extra = tmp_path / "extra.gitconfig"
    extra.write_text("")
    if included:
        subprocess.run(["git", "config", "include.path", str(extra)], cwd=repo, check=True)
        store.snapshot(None, "m")
    target = ["--file", str(extra)] if included else []
    for key in ("clean", "smudge"):
        subprocess.run(["git", "config", *target, f"filter.late.{key}", f"touch {marker}; cat"], cwd=repo, check=True)
    (repo / ".gitattributes").write_text("*.py filter=late\n")
    (repo / "a.py").write_text("print('late')\n")

    after = store.snapshot("1-after", "m")
    store.restore(before.commit, store.changed_paths(before.commit, after.commit))
    store.restore(after.commit, store.changed_paths(before.commit, after.commit))
    store.commit(["a.py", ".gitattributes"], "Late")

    assert not marker.exists()
