"""The offline demo's setup, without any UI: a sample repository, the embedded server, settings.

`prepare_demo(root)` gives everything `codeassist demo` needs before it opens the app:

1. the bundled sample project (`server/scenarios/demo_project/`, a tiny `wordcount` package whose
   `count_words` has a real bug that makes exactly one of its six tests fail) copied to
   `root/wordcount` as a fresh git repository with one commit on `main`, so the header shows a
   branch and a clean tree;
2. the embedded server playing the bundled `demo` scenario, in-process on 127.0.0.1 (a free port);
3. `Settings` aimed at that server (model `codeassist-demo-scripted`, approval `ask`, warm-up on,
   no reasoning settings).

The scripted model then does what `DEMO_PROMPT` asks with the real tools: lists the files, runs
the tests (`python3 -m unittest -v`, a shell approval), reads `wordcount/core.py`, fixes it with
`edit_file` (a diff approval), runs the tests again (a second shell approval, unless the first
was "approve always") and summarises. Every scripted turn checks the real output of the
previous one (`expect`), so a denied or failing step ends the demo with the server's
`scenario_mismatch` error instead of a made-up story.

How the sample's tests run — the PATH choice: the sample is standard library only and its tests
are plain `unittest` (pytest runs them too), so they need no third-party package, only a
`python3`. The shell tool runs `bash -c` with this process's environment, so by default
`prepare_demo` puts the directory of the running interpreter (`sys.executable`, e.g. `.venv/bin`)
first on `PATH` while the demo is open, the way activating a virtualenv does: `python3` is then
the interpreter codeassist runs on, whatever else is (or is not) on the user's PATH. `close()`
puts `PATH` back. With `use_running_python=False` (or when that directory has no `python3`)
PATH is left alone and whichever `python3` it finds runs the tests.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from agent.config import Settings
from server.runner import ServerThread, build_state
from server.scenario import bundled_scenario_path, load_scenario

__all__ = [
    "DEMO_API_KEY",
    "DEMO_BANNER",
    "DEMO_MODEL",
    "DEMO_PROJECT_NAME",
    "DEMO_PROMPT",
    "DEMO_TEST_COMMAND",
    "DemoEnvironment",
    "copy_demo_project",
    "demo_project_files",
    "prepare_demo",
]

DEMO_PROMPT = "The tests are failing. Find the bug and fix it."
"""The prompt the demo is scripted for (the app can pre-fill or send it)."""

DEMO_MODEL = "codeassist-demo-scripted"
DEMO_API_KEY = "demo"
DEMO_PROJECT_NAME = "wordcount"
"""The directory the sample project is copied to, under `root`."""
DEMO_TEST_COMMAND = "python3 -m unittest -v"
"""The command the scripted model runs (twice), as AGENTS.md in the sample says."""
DEMO_BANNER = (
    "Scripted demo model: its answers were written in advance and it runs offline on loopback, "
    "but every tool call really runs on a temporary copy of a sample project."
)
"""One line for the app's banner."""

_SKIPPED_NAMES = frozenset({"__pycache__", ".pytest_cache"})
_SKIPPED_SUFFIXES = (".pyc", ".pyo")
_GIT_IDENTITY = ("-c", "user.name=codeassist demo", "-c", "user.email=demo@codeassist.invalid")


def demo_project_files() -> Traversable:
    """The bundled sample project (package data of `server`)."""
    return resources.files("server") / "scenarios" / "demo_project"


def _copy_tree(source: Traversable, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    for entry in sorted(source.iterdir(), key=lambda e: e.name):
        if entry.name in _SKIPPED_NAMES or entry.name.endswith(_SKIPPED_SUFFIXES):
            continue
        if entry.is_dir():
            _copy_tree(entry, target / entry.name)
        else:
            (target / entry.name).write_bytes(entry.read_bytes())


def _git(workspace: Path, *args: str) -> None:
    subprocess.run(
        ["git", *args],
        cwd=workspace,
        check=True,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=60,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
    )


def copy_demo_project(root: Path, name: str = DEMO_PROJECT_NAME, *, git: bool = True) -> tuple[Path, bool]:
    """Copy the sample project to `root/name` and make it a git repository with one commit.

    The commit is made on `main` with a fixed demo identity, without hooks or signing, so the
    user's git configuration cannot make it fail. Without git on PATH (or with `git=False`) the
    files are copied and nothing else happens.

    Returns:
        The workspace, and whether it is a git repository.

    Raises:
        FileExistsError: `root/name` already exists.
    """
    workspace = Path(root) / name
    if workspace.exists():
        raise FileExistsError(f"{workspace} already exists; the demo needs a fresh directory")
    _copy_tree(demo_project_files(), workspace)
    if not git or shutil.which("git") is None:
        return workspace, False
    _git(workspace, "init", "-q")
    _git(workspace, "symbolic-ref", "HEAD", "refs/heads/main")  # any git version, any init.defaultBranch
    _git(workspace, "add", "-A")
    _git(
        workspace,
        *_GIT_IDENTITY,
        "-c",
        "commit.gpgsign=false",
        "commit",
        "-q",
        "--no-verify",
        "-m",
        "wordcount: count lines, words and characters",
    )
    return workspace, True


@dataclass
class DemoEnvironment:
    """A prepared demo: where to open the app, the running server and the settings for it."""

    workspace: Path
    """The sample project's copy (the repository root to open the app in)."""
    server: ServerThread
    """The embedded server playing the demo scenario (already started)."""
    settings: Settings
    """Settings aimed at `server`."""
    git: bool = True
    """Whether `workspace` is a git repository (False only when git is not installed)."""
    path_prepended: str | None = None
    """The directory put first on `PATH` for the sample's tests, or None when PATH is untouched."""
    _previous_path: str | None = field(default=None, repr=False)
    _closed: bool = field(default=False, repr=False)

    @property
    def base_url(self) -> str:
        return self.server.address.base_url

    def close(self) -> None:
        """Stop the server and restore `PATH` (if it still is what `prepare_demo` set).

        The workspace is left in place: it belongs to `root`, which the caller owns.
        """
        if self._closed:
            return
        self._closed = True
        self.server.stop()
        if self.path_prepended is not None and os.environ.get("PATH") == _with_first(
            self.path_prepended, self._previous_path
        ):
            if self._previous_path is None:
                os.environ.pop("PATH", None)
            else:
                os.environ["PATH"] = self._previous_path

    def __enter__(self) -> DemoEnvironment:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _with_first(directory: str, path: str | None) -> str:
    return directory if not path else f"{directory}{os.pathsep}{path}"


def _interpreter_bin() -> str | None:
    """The directory of the running interpreter if it provides `python3`, else None."""
    directory = os.path.dirname(sys.executable)  # not resolved: a venv's bin, not its base Python's
    candidate = os.path.join(directory, "python3")
    return directory if directory and os.access(candidate, os.X_OK) else None


def prepare_demo(
    root: Path,
    *,
    name: str = DEMO_PROJECT_NAME,
    use_running_python: bool = True,
    tokens_per_second: float | None = None,
) -> DemoEnvironment:
    """Copy the sample into `root/name` as a git repository, start the server, build settings.

    Args:
        root: an existing (normally temporary) directory the caller owns and removes.
        name: the sample's directory name under `root`.
        use_running_python: put the running interpreter's directory first on `PATH` so the
            scripted `python3 -m unittest -v` runs on it (see the module docstring).
        tokens_per_second: override the scenario's streaming pace (0: as fast as possible, e.g.
            for tests and snapshots); None keeps the bundled, readable pace.

    Returns:
        The environment; call `close()` (or use it as a context manager) when done.
    """
    workspace, is_git = copy_demo_project(Path(root), name)
    scenario = load_scenario(bundled_scenario_path("demo"))
    if tokens_per_second is not None:
        scenario = scenario.model_copy(update={"tokens_per_second": tokens_per_second})
    server = ServerThread(build_state(scenario), "127.0.0.1", 0).start()
    settings = Settings(
        base_url=server.address.base_url,
        model=DEMO_MODEL,
        api_key=DEMO_API_KEY,
        approval="ask",
        warmup=True,
        reasoning_effort=None,
    )
    env = DemoEnvironment(workspace=workspace.resolve(), server=server, settings=settings, git=is_git)
    directory = _interpreter_bin() if use_running_python else None
    if directory is not None:
        previous = os.environ.get("PATH")
        first = previous.split(os.pathsep, 1)[0] if previous else None
        if first != directory:
            os.environ["PATH"] = _with_first(directory, previous)
            env.path_prepended, env._previous_path = directory, previous
    return env
