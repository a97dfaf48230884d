"""The git safety net's cost: creating a checkpoint, undoing a turn and diffing it, against plain
git doing the same work in the same run.

Repositories of 1k, 10k and 50k files are generated: nested directories of small source files
(about 0.7 KB each, 20 to a directory, three levels deep), a `.gitignore` and an ignored `build/`
directory, one commit, the objects packed, and the user's index present and fresh (files dated
an hour back, so no entry is "racily clean"). In every repetition the tree starts clean, then
gets `--changes` changes (by default 10: eight edits in different directories, one new file, one
deletion, new content every repetition).

Two arms, alternated (the first arm to run changes every repetition):

- `codeassist`: `agent.checkpoint_store.CheckpointStore`, as a turn uses it:
  - `create_unchanged`: a session's first checkpoint, on the clean tree (a turn's "before");
  - `create`: the next checkpoint, after the changes (a turn's "after": the session's private
    index already exists);
  - `create_first`: a fresh session's first checkpoint on the tree with the changes (its
    private index copied from the user's);
  - `diff`: `changes()` (per-file stats) plus `patch()` (the unified diff) between the two;
  - `undo`: `changed_paths()` plus `restore()` of those paths from the "before" checkpoint;
  - `conflict_check`: `differing()` on those paths (what `/undo` checks first; no plain-git arm);
  - `open`: `CheckpointStore.open()` (no plain-git arm).
- `git`: plain git commands in the same environment (`agent.git.git_environment`, computed once):
  - `create_unchanged` and `create`: copy the user's index to a temporary index file,
    `git add -A`, `git write-tree` and `git commit-tree -p HEAD` with `GIT_INDEX_FILE`;
  - `diff`: `git diff -M --numstat` plus `git diff -M` between the two commits;
  - `undo`: `git diff --name-only` between them plus `git restore --source=<before> --worktree`
    of those paths, with the "after" temporary index (so the new file is removed).

Each operation is timed with `time.perf_counter` around the call(s); the figures are medians (and
min, max) over `--repeats` repetitions. Ratios are codeassist's median over git's. Checks: both
arms' "after" trees are identical, both undos bring back exactly the original files, and the two
diffs agree on the files and line counts. Goals: every ratio within 1.5x, and `create` under
300 ms for 10k files with 10 changes.

    python -m bench.checkpoint [--sizes 1000,10000,50000] [--changes 10] [--repeats 11]
                               [--arms codeassist,git] [--quick] [--out FILE]

`--quick` is sizes 40,120 with 2 repetitions (the smoke test). The JSON is printed and written
to `--out` (default `bench/results/checkpoint-<date>.json`).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agent.checkpoint_store import CheckpointStore
from agent.git import git_environment
from bench.machine import describe

ROOT = Path(__file__).resolve().parent.parent
SIZES = (1000, 10000, 50000)
QUICK_SIZES = (40, 120)
GOAL_RATIO = 1.5
GOAL_CREATE_MS = 300.0
GOAL_CREATE_FILES = 10000
FILES_PER_DIRECTORY = 20
ARMS = ("codeassist", "git")
OPERATIONS = {
    "codeassist": ("open", "create_unchanged", "create", "create_first", "diff", "undo", "conflict_check"),
    "git": ("create_unchanged", "create", "diff", "undo"),
}
COMPARED = ("create_unchanged", "create", "diff", "undo")
AUTHOR = {
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@example.invalid",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@example.invalid",
}

_SOURCE = '''"""Module {name}: part of a generated project."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass
class {cls}:
    """A record with a few fields."""

    identifier: int = {number}
    label: str = "{name}"
    weight: float = {weight}

    def describe(self) -> str:
        return f"{{self.label}} #{{self.identifier}} ({{self.weight:.2f}})"


def build_{name}(count: int) -> list[{cls}]:
    """{count} records, numbered from {number}."""
    return [{cls}(identifier={number} + index) for index in range(count)]


def total_{name}(records: list[{cls}]) -> float:
    return sum(record.weight for record in records)
'''


def file_text(number: int) -> str:
    """The content of generated file `number` (about 0.7 KB)."""
    name = f"unit{number}"
    return _SOURCE.format(name=name, cls=f"Unit{number}", number=number, weight=number % 97 / 7, count=number % 13 + 1)


def file_path(number: int) -> str:
    """Where generated file `number` lives: three levels of directories, 20 files in each leaf."""
    leaf = number // FILES_PER_DIRECTORY
    return f"src/mod{leaf // 100}/pkg{leaf // 10 % 10}/sub{leaf % 10}/unit{number}.py"


def run(args: list[str], cwd: Path, env: dict[str, str], stdin: bytes | None = None) -> bytes:
    """`git <args>`; its output. Raises `RuntimeError` on failure."""
    done = subprocess.run(["git", *args], cwd=cwd, env=env, input=stdin, capture_output=True)
    if done.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {done.stderr.decode(errors='replace')}")
    return done.stdout


def generate_repository(folder: Path, files: int) -> dict[str, Any]:
    """A committed, packed repository of `files` generated files with a fresh index."""
    started = time.perf_counter()
    folder.mkdir(parents=True)
    long_ago = time.time() - 3600
    written = {
        ".gitignore": "build/\n__pycache__/\n*.log\n",
        "README.md": "# A generated project\n",
        "pyproject.toml": '[project]\nname = "generated"\nversion = "0.1"\n',
    }
    written.update({file_path(number): file_text(number) for number in range(files - len(written))})
    written.update({f"build/out{number}.o": "object\n" * 20 for number in range(50)})  # ignored
    size = 0
    for relative, text in written.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        os.utime(path, (long_ago, long_ago))
        size += len(text)
    env = {**git_environment(folder.parent), **AUTHOR}
    run(["init", "-q", "-b", "main"], folder, env)
    run(["add", "-A"], folder, env)
    run(["commit", "-q", "-m", "Generated project"], folder, env)
    run(["repack", "-a", "-d", "-q"], folder, env)
    run(["prune-packed"], folder, env)
    tracked = len(run(["ls-files", "-z"], folder, env).split(b"\0")) - 1
    return {
        "tracked_files": tracked,
        "megabytes": round(size / 1e6, 2),
        "seconds": round(time.perf_counter() - started, 1),
    }


class Changes:
    """A turn's changes in a generated repository: edits, one new file, one deletion; applied
    and reverted (the originals are kept in memory)."""

    def __init__(self, root: Path, tracked: list[str], count: int, seed: int) -> None:
        shuffled = random.Random(seed).sample(tracked, len(tracked))
        directories: dict[str, str] = {}
        for path in shuffled:  # one path per directory first, then any
            directories.setdefault(path.rsplit("/", 1)[0], path)
        spread = list(directories.values())
        first = set(spread)
        picked = (spread + [path for path in shuffled if path not in first])[: count - 1]
        self.root = root
        self.deleted = picked[0]
        self.edited = picked[1 : count - 1]
        self.created = f"{self.deleted.rsplit('/', 1)[0]}/fresh_{seed}.py"
        self.original = {path: (root / path).read_bytes() for path in picked}
        self.seed = seed

    @property
    def paths(self) -> list[str]:
        return sorted([self.deleted, self.created, *self.edited])

    def apply(self) -> None:
        for number, path in enumerate(self.edited):
            lines = self.original[path].decode().splitlines(keepends=True)
            lines[10:12] = [f"# changed in turn {self.seed}, edit {number}\n", "    retries: int = 3\n"]
            (self.root / path).write_text("".join(lines))
        (self.root / self.created).write_text(f'"""Added in turn {self.seed}."""\n\nVALUE = {self.seed}\n')
        (self.root / self.deleted).unlink()

    def revert(self) -> None:
        for path, content in self.original.items():
            (self.root / path).write_bytes(content)
        (self.root / self.created).unlink(missing_ok=True)

    def undone(self) -> bool:
        """Whether the tree holds exactly the originals again."""
        return not (self.root / self.created).exists() and all(
            (self.root / path).is_file() and (self.root / path).read_bytes() == content
            for path, content in self.original.items()
        )


class PlainGit:
    """The baseline arm: what plain git commands need for the same work."""

    def __init__(self, root: Path, scratch: Path) -> None:
        self.root = root
        self.env = {**git_environment(root), **AUTHOR}
        self.scratch = scratch
        self.count = 0

    def snapshot(self) -> tuple[str, Path]:
        """A commit of the whole tree, through a copy of the user's index; its id and that index."""
        self.count += 1
        index = self.scratch / f"plain-{self.count}.index"
        shutil.copyfile(self.root / ".git" / "index", index)
        env = {**self.env, "GIT_INDEX_FILE": str(index)}
        run(["add", "-A"], self.root, env)
        tree = run(["write-tree"], self.root, env).decode().strip()
        commit = run(["commit-tree", tree, "-p", "HEAD", "-m", "checkpoint"], self.root, env).decode().strip()
        return commit, index

    def diff(self, before: str, after: str) -> tuple[bytes, bytes]:
        numstat = run(["diff", "--no-ext-diff", "-M", "--numstat", "-z", before, after], self.root, self.env)
        patch = run(["diff", "--no-ext-diff", "-M", before, after], self.root, self.env)
        return numstat, patch

    def undo(self, before: str, after: str, index: Path) -> list[str]:
        names = run(["diff", "--name-only", "--no-renames", "-z", before, after], self.root, self.env)
        paths = [name.decode() for name in names.split(b"\0") if name]
        env = {**self.env, "GIT_INDEX_FILE": str(index)}
        run(["restore", f"--source={before}", "--worktree", "--", *paths], self.root, env)
        return paths


@contextmanager
def timed(samples: dict[str, list[float]], operation: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    samples.setdefault(operation, []).append((time.perf_counter() - started) * 1000)


def parse_numstat(numstat: bytes) -> dict[str, tuple[int, int]]:
    """`git diff --numstat -z` as path → (added, removed); a rename under its new path."""
    fields = numstat.split(b"\0")
    figures, position = {}, 0
    while position < len(fields) and fields[position]:
        added, removed, path = fields[position].split(b"\t", 2)
        if not path:  # a rename: the old and new paths follow
            path, position = fields[position + 2], position + 2
        figures[path.decode()] = (int(added) if added != b"-" else 0, int(removed) if removed != b"-" else 0)
        position += 1
    return figures


def repetition(
    root: Path, scratch: Path, plain: PlainGit, changes: Changes, number: int, arms: tuple[str, ...]
) -> tuple[dict[str, dict[str, list[float]]], dict[str, Any]]:
    """One repetition of every operation in both arms; the times and the checks."""
    times: dict[str, dict[str, list[float]]] = {arm: {} for arm in arms}
    order = arms if number % 2 == 0 else arms[::-1]
    index_dir = scratch / "indexes"
    state: dict[str, Any] = {}

    def each(step: Callable[[str], None]) -> None:
        for arm in order:
            step(arm)

    def before(arm: str) -> None:
        if arm == "codeassist":
            with timed(times[arm], "open"):
                store = CheckpointStore.open(root, f"bench-{number}", index_dir=index_dir)
            assert store is not None, "the generated repository was not recognised"
            state["store"] = store
            with timed(times[arm], "create_unchanged"):
                state["ca_before"] = store.snapshot(f"{number}-before", "before the turn").commit
        else:
            with timed(times[arm], "create_unchanged"):
                state["git_before"], _ = plain.snapshot()

    def after(arm: str) -> None:
        if arm == "codeassist":
            with timed(times[arm], "create"):
                state["ca_after"] = state["store"].snapshot(f"{number}-after", "after the turn").commit
            fresh = CheckpointStore.open(root, f"bench-{number}-fresh", index_dir=index_dir)
            assert fresh is not None
            with timed(times[arm], "create_first"):
                state["ca_first"] = fresh.snapshot(f"{number}-first", "first of a session").commit
            fresh.close()
        else:
            with timed(times[arm], "create"):
                state["git_after"], state["git_index"] = plain.snapshot()

    def diff(arm: str) -> None:
        if arm == "codeassist":
            store = state["store"]
            with timed(times[arm], "diff"):
                files = store.changes(state["ca_before"], state["ca_after"])
                patch = store.patch(state["ca_before"], state["ca_after"])
            state["ca_diff"] = ({change.path: (change.added, change.removed) for change in files}, len(patch))
        else:
            with timed(times[arm], "diff"):
                numstat, patch = plain.diff(state["git_before"], state["git_after"])
            state["git_diff"] = (parse_numstat(numstat), len(patch))

    def undo(arm: str) -> None:
        if not (root / changes.created).exists():
            changes.apply()  # the other arm undid them
        if arm == "codeassist":
            store = state["store"]
            with timed(times[arm], "conflict_check"):
                conflicts = store.differing(state["ca_after"], changes.paths)
            with timed(times[arm], "undo"):
                paths = store.changed_paths(state["ca_before"], state["ca_after"])
                result = store.restore(state["ca_before"], paths)
            state["ca_undo"] = (changes.undone(), sorted(paths), conflicts, list(result.problems))
        else:
            with timed(times[arm], "undo"):
                paths = plain.undo(state["git_before"], state["git_after"], state["git_index"])
            state["git_undo"] = (changes.undone(), sorted(paths))

    run(["update-index", "-q", "--refresh"], root, plain.env)  # what the user's `git status` does
    each(before)
    changes.apply()
    each(after)
    each(diff)
    each(undo)
    if "store" in state:
        state["store"].close()
    return times, checks(root, plain, changes, state)


def checks(root: Path, plain: PlainGit, changes: Changes, state: dict[str, Any]) -> dict[str, Any]:
    """What each arm did, compared with the changes made and with the other arm."""

    def tree(commit: str) -> str:
        return run(["rev-parse", f"{commit}^{{tree}}"], root, plain.env).decode().strip()

    found: dict[str, Any] = {}
    if "ca_undo" in state:
        exact, paths, conflicts, problems = state["ca_undo"]
        found["codeassist"] = {
            "undo_exact": exact,
            "undo_paths": paths == changes.paths,
            "conflicts": len(conflicts),
            "problems": problems,
            "diff_files": len(state["ca_diff"][0]),
            "first_equals_after": tree(state["ca_first"]) == tree(state["ca_after"]),
        }
    if "git_undo" in state:
        exact, paths = state["git_undo"]
        found["git"] = {
            "undo_exact": exact,
            "undo_paths": paths == changes.paths,
            "diff_files": len(state["git_diff"][0]),
        }
    if "ca_undo" in state and "git_undo" in state:
        found["same_tree"] = tree(state["ca_after"]) == tree(state["git_after"])
        found["same_diff"] = state["ca_diff"][0] == state["git_diff"][0]
    return found


def summary(samples: list[float]) -> dict[str, Any]:
    return {
        "median_ms": round(statistics.median(samples), 1),
        "min_ms": round(min(samples), 1),
        "max_ms": round(max(samples), 1),
        "runs_ms": [round(sample, 1) for sample in samples],
    }


def measure_size(files: int, change_count: int, repeats: int, arms: tuple[str, ...], workdir: Path) -> dict[str, Any]:
    """Every operation of both arms on one generated repository, `repeats` times."""
    root = workdir / f"repo-{files}"
    generated = generate_repository(root, files)
    scratch = workdir / f"scratch-{files}"
    scratch.mkdir()
    plain = PlainGit(root, scratch)
    tracked = [name.decode() for name in run(["ls-files", "-z", "src"], root, plain.env).split(b"\0") if name]
    samples: dict[str, dict[str, list[float]]] = {arm: {} for arm in arms}
    all_checks = []
    for number in range(repeats):
        changes = Changes(root, tracked, change_count, seed=number)
        times, found = repetition(root, scratch, plain, changes, number, arms)
        for arm in arms:
            for operation, values in times[arm].items():
                samples[arm].setdefault(operation, []).extend(values)
        all_checks.append(found)
        changes.revert()
    figures: dict[str, Any] = {
        "files": generated["tracked_files"],
        "megabytes": generated["megabytes"],
        "generate_s": generated["seconds"],
        "arms": {arm: {op: summary(samples[arm][op]) for op in OPERATIONS[arm]} for arm in arms},
        "checks": merge_checks(all_checks),
    }
    if set(arms) == set(ARMS):
        figures["ratios"] = {
            operation: round(
                figures["arms"]["codeassist"][operation]["median_ms"] / figures["arms"]["git"][operation]["median_ms"],
                2,
            )
            for operation in COMPARED
        }
        figures["ratios"]["create_first"] = round(
            figures["arms"]["codeassist"]["create_first"]["median_ms"] / figures["arms"]["git"]["create"]["median_ms"],
            2,
        )
    return figures


def merge_checks(found: list[dict[str, Any]]) -> dict[str, Any]:
    """The checks of every repetition: booleans must hold in all, counts and lists collected."""
    merged: dict[str, Any] = {}
    for key in found[0]:
        values = [each[key] for each in found]
        if isinstance(values[0], dict):
            merged[key] = merge_checks(values)
        elif isinstance(values[0], bool):
            merged[key] = all(values)
        elif isinstance(values[0], list):
            merged[key] = sorted({item for value in values for item in value})
        else:
            merged[key] = sorted(set(values))
    return merged


def goals(results: dict[str, Any]) -> dict[str, bool]:
    """Which goals the figures meet (only the ones both arms were measured for)."""
    met: dict[str, bool] = {}
    compared = [figures for figures in results.values() if "ratios" in figures]
    if compared:
        for operation in ("create", "create_first", "undo", "diff"):
            met[f"{operation}_within_{GOAL_RATIO}x"] = all(f["ratios"][operation] <= GOAL_RATIO for f in compared)
    if str(GOAL_CREATE_FILES) in results and "codeassist" in results[str(GOAL_CREATE_FILES)]["arms"]:
        created = results[str(GOAL_CREATE_FILES)]["arms"]["codeassist"]["create"]["median_ms"]
        met[f"create_under_{GOAL_CREATE_MS:.0f}ms_at_10k"] = created < GOAL_CREATE_MS
    return met


def git_version() -> str:
    return subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="files per generated repository")
    parser.add_argument("--changes", type=int, default=10, help="changes per turn (at least 3)")
    parser.add_argument("--repeats", type=int, default=11)
    parser.add_argument("--arms", default=",".join(ARMS))
    parser.add_argument("--quick", action="store_true", help="sizes 40,120, 2 repetitions (the smoke test)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    sizes = QUICK_SIZES if args.quick else tuple(int(size) for size in args.sizes.split(","))
    repeats = 2 if args.quick else args.repeats
    arms = tuple(arm for arm in ARMS if arm in args.arms.split(","))
    if args.changes < 3 or repeats < 1 or not arms:
        parser.error("--changes must be at least 3, --repeats at least 1, --arms one of codeassist,git")
    workdir = Path(tempfile.mkdtemp(prefix="codeassist-bench-checkpoint-"))
    try:
        results = {str(files): measure_size(files, args.changes, repeats, arms, workdir) for files in sizes}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    met = goals(results)
    result = {
        "benchmark": "checkpoint",
        "machine": {**describe("gitpython"), "git": git_version()},
        "sizes": list(sizes),
        "changes": args.changes,
        "repeats": repeats,
        "arms": list(arms),
        "results": results,
        "goals": {"ratio": GOAL_RATIO, "create_ms_at_10k_files": GOAL_CREATE_MS},
        "goals_met": met,
        "within_goals": bool(met) and all(met.values()),
    }
    text = json.dumps(result, indent=2)
    print(text)
    out = args.out or ROOT / "bench" / "results" / f"checkpoint-{datetime.date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    return result


if __name__ == "__main__":
    main()
