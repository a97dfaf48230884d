"""Display diffs as small as `git diff`'s, checked against real git on generated files."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

from agent.tools import ToolContext
from agent.tools.atomic import unified_diff
from agent.tools.edit_file import EditFile, EditFileArgs
from agent.tools.line_diff import unified_lines
from agent.tools.read_file import ReadFile, ReadFileArgs
from agent.tools.write_file import WriteFile, WriteFileArgs
from tests.agent.conftest import make_repo

POPULAR = ["", "", "    return None", "}", "    pass", "else:"]


def code_like(rng: random.Random, count: int) -> list[str]:
    """Lines with many repeats (blank lines, `}`), the kind difflib's auto-junk mangles."""
    return [
        rng.choice(POPULAR) if rng.random() < 0.3 else f"    value_{rng.randrange(400)} = compute({i % 37})"
        for i in range(count)
    ]


def rewrite(rng: random.Random, lines: list[str], changed: int) -> list[str]:
    new = list(lines)
    for index in rng.sample(range(len(lines)), changed):
        new[index] = f"    changed_{index} = {rng.randrange(10**6)}"
    return new


def counted(diff: str) -> tuple[int, int]:
    """(added, removed) lines of a unified diff."""
    lines = diff.splitlines()
    added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++ "))
    removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("--- "))
    return added, removed


def git_numstat(old: Path, new: Path) -> tuple[int, int]:
    out = subprocess.run(
        ["git", "diff", "--no-index", "--numstat", str(old), str(new)], capture_output=True, text=True, check=False
    ).stdout.split()
    return int(out[0]), int(out[1])


async def test_a_write_changing_889_of_2019_lines_shows_889_removed_and_added(tmp_path):
    rng = random.Random(2019)
    before = code_like(rng, 2019)
    after = rewrite(rng, before, 889)
    workspace = make_repo(tmp_path / "ws", {"big.py": "\n".join(before) + "\n"})
    ctx = ToolContext(workspace=workspace)
    await ReadFile().run(ReadFileArgs(path="big.py", limit=2019), ctx)
    args = WriteFileArgs(path="big.py", content="\n".join(after) + "\n")
    asked = WriteFile().approval_request("c1", args, ctx).diff or ""
    result = await WriteFile().run(args, ctx)
    shown = str((result.display or {})["diff"])
    assert counted(asked) == counted(shown) == (889, 889)
    numstat = subprocess.run(
        ["git", "diff", "--numstat", "big.py"], cwd=workspace, capture_output=True, text=True, check=True
    ).stdout.split()
    git_added, git_removed = int(numstat[0]), int(numstat[1])
    assert 889 <= git_added < 1_000 and 889 <= git_removed < 1_000
    assert counted(shown) <= (git_added, git_removed)


def test_generated_rewrites_are_never_larger_than_git_diffs_and_apply_with_git(tmp_path):
    rng = random.Random(7)
    for case in range(12):
        before = code_like(rng, rng.randrange(0, 600))
        after = rewrite(rng, before, rng.randrange(0, len(before) + 1)) if before else code_like(rng, 40)
        rng.shuffle(after[: len(after) // 5])
        if case % 3 == 0:
            after = after[: len(after) // 2] + code_like(rng, 30) + after[len(after) // 2 :]
        old_text, new_text = "\n".join(before) + "\n", "\n".join(after) + "\n"
        old, new = tmp_path / f"old{case}.py", tmp_path / f"new{case}.py"
        old.write_text(old_text)
        new.write_text(new_text)
        diff = unified_diff(old_text, new_text, "f.py")
        if old_text == new_text:
            assert diff == ""
            continue
        assert counted(diff) <= git_numstat(old, new)
        repo = make_repo(tmp_path / f"repo{case}", {"f.py": old_text})
        (repo / "change.diff").write_text(diff)
        subprocess.run(["git", "apply", "change.diff"], cwd=repo, check=True, capture_output=True)
        assert (repo / "f.py").read_text() == new_text


def test_files_of_few_distinct_lines_fall_back_to_a_correct_diff(tmp_path):
    rng = random.Random(3)
    old = "".join(f"{rng.randrange(3)}\n" for _ in range(20_000))
    new = "".join(f"{rng.randrange(3)}\n" for _ in range(20_000))
    repo = make_repo(tmp_path / "repo", {"f.txt": old})
    (repo / "change.diff").write_text(
        "".join(unified_lines(old.splitlines(True), new.splitlines(True), "a/f.txt", "b/f.txt"))
    )
    subprocess.run(["git", "apply", "change.diff"], cwd=repo, check=True, capture_output=True)
    assert (repo / "f.txt").read_text() == new


async def test_edit_file_diffs_are_minimal_too(ctx, workspace):
    rng = random.Random(11)
    lines = code_like(rng, 400)
    lines[200] = "TARGET = 1"
    (workspace / "mid.py").write_text("\n".join(lines) + "\n")
    await ReadFile().run(ReadFileArgs(path="mid.py"), ctx)
    result = await EditFile().run(EditFileArgs(path="mid.py", old="TARGET = 1", new="TARGET = 2"), ctx)
    assert counted(str((result.display or {})["diff"])) == (1, 1)


async def test_apply_patch_diffs_match_git_too(ctx, workspace):
    from agent.tools.apply_patch import apply_patch

    rng = random.Random(5)
    lines = code_like(rng, 1200)
    lines[600] = "MARKER = 1"
    (workspace / "big.py").write_text("\n".join(lines) + "\n")
    subprocess.run(["git", "add", "big.py"], cwd=workspace, check=True)
    await ReadFile().run(ReadFileArgs(path="big.py"), ctx)
    body = ["*** Begin Patch", "*** Update File: big.py", "@@", "-MARKER = 1", "+MARKER = 2", "*** End Patch"]
    result = apply_patch("\n".join(body) + "\n", ctx)
    numstat = subprocess.run(
        ["git", "diff", "--numstat", "big.py"], cwd=workspace, capture_output=True, text=True, check=True
    ).stdout.split()
    assert counted(str((result.display or {})["diff"])) == (int(numstat[0]), int(numstat[1])) == (1, 1)
