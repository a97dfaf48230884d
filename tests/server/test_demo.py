"""The offline demo, headless: the bundled sample, the demo scenario and real tools, end to end."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from agent.approvals import ApprovalRequest, Decision
from agent.events import ApprovalRequested, ReasoningDelta, ResponseStarted, TextDelta, ToolFinished, TurnEnded
from agent.git import repo_info
from agent.session import Session
from agent.tools import default_tools, strict_schema
from server.demo import (
    DEMO_MODEL,
    DEMO_PROMPT,
    DEMO_TEST_COMMAND,
    copy_demo_project,
    demo_project_files,
    prepare_demo,
)
from server.scenario import bundled_scenario_path, load_scenario
from tests.agent.conftest import answered_turn

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_SOURCE = REPO_ROOT / "server" / "scenarios" / "demo_project"
BUGGY_LINE = '    return len(text.split(" "))\n'
FIXED_LINE = "    return len(text.split())\n"


def run_sample_tests(workspace: Path, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *command],
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


def sample_files(directory: Path) -> set[str]:
    return {
        path.relative_to(directory).as_posix()
        for path in directory.rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and ".pytest_cache" not in path.parts
        and path.suffix != ".pyc"
    }


# ---- the sample project ------------------------------------------------------------------------


def test_the_sample_fails_exactly_one_test_before_the_fix(tmp_path):
    workspace, _ = copy_demo_project(tmp_path)
    assert BUGGY_LINE in (workspace / "wordcount/core.py").read_text()

    unittest_run = run_sample_tests(workspace, "-m", "unittest", "-v")
    assert unittest_run.returncode == 1
    assert "Ran 6 tests" in unittest_run.stderr and "FAILED (failures=1)" in unittest_run.stderr
    assert "test_count_words_any_whitespace" in unittest_run.stderr

    pytest_run = run_sample_tests(workspace, "-m", "pytest", "-q", "-p", "no:cacheprovider")
    assert pytest_run.returncode == 1
    assert "1 failed, 5 passed" in pytest_run.stdout


def test_the_scripted_fix_makes_the_sample_pass(tmp_path):
    workspace, _ = copy_demo_project(tmp_path)
    core = workspace / "wordcount/core.py"
    core.write_text(core.read_text().replace(BUGGY_LINE, FIXED_LINE))
    result = run_sample_tests(workspace, "-m", "unittest", "-v")
    assert result.returncode == 0, result.stderr
    assert "Ran 6 tests" in result.stderr and "\nOK" in result.stderr


def test_the_copy_is_a_clean_git_repository_on_main(tmp_path):
    workspace, is_git = copy_demo_project(tmp_path)
    assert workspace == tmp_path / "wordcount"
    assert is_git
    info = repo_info(workspace)
    assert info is not None and info.root.resolve() == workspace.resolve()
    assert info.branch == "main" and info.head is not None and not info.dirty
    assert sample_files(workspace) - {".git"} >= {
        "AGENTS.md",
        "README.md",
        ".gitignore",
        "wordcount/__init__.py",
        "wordcount/core.py",
        "wordcount/cli.py",
        "tests/__init__.py",
        "tests/test_wordcount.py",
    }
    with pytest.raises(FileExistsError):
        copy_demo_project(tmp_path)


def test_every_sample_file_is_package_data():
    """Each file of the sample matches a `[tool.setuptools.package-data]` glob of `server`."""
    globs = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["server"]
    packaged = {
        path.relative_to(SAMPLE_SOURCE).as_posix()
        for pattern in globs
        for path in (REPO_ROOT / "server").glob(pattern)
        if path.is_file() and path.is_relative_to(SAMPLE_SOURCE)
    }
    assert sample_files(SAMPLE_SOURCE) <= packaged
    assert {entry.name for entry in demo_project_files().iterdir()} >= {"wordcount", "tests", "AGENTS.md"}


def test_the_repository_test_run_does_not_collect_the_sample():
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "server"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "test_wordcount" not in result.stdout


# ---- the scenario ------------------------------------------------------------------------------


def test_every_scripted_call_has_the_strict_argument_shape():
    tools = {tool.name: tool for tool in default_tools()}
    calls = [
        o
        for turn in load_scenario(bundled_scenario_path("demo")).turns
        for played in (turn, *turn.alternatives)
        for o in played.output
        if o.type == "function_call"
    ]
    assert calls
    for call in calls:
        tool = tools[call.name]
        assert isinstance(call.arguments, dict)
        assert set(call.arguments) == set(strict_schema(tool.Args)["properties"]), call.call_id
        tool.Args.model_validate(call.arguments)
    commands = [c.arguments["command"] for c in calls if c.name == "shell"]
    assert commands == [DEMO_TEST_COMMAND, DEMO_TEST_COMMAND]


# ---- the whole demo --------------------------------------------------------------------------


class Recorder:
    """An approval callback that approves once and remembers what it was asked."""

    def __init__(self, answer: str = "approve_once") -> None:
        self.answer = answer
        self.requests: list[ApprovalRequest] = []

    def __call__(self, request: ApprovalRequest) -> Decision:
        self.requests.append(request)
        return Decision(kind=self.answer, reason="not now" if self.answer == "deny" else None)


async def run_demo(tmp_path: Path, decide: Recorder, **options: object):
    env = prepare_demo(tmp_path, **options)
    try:
        session = Session.open(env.settings, cwd=env.workspace, log_root=tmp_path / "sessions")
        try:
            await session.agent.warm_up()
            events = await answered_turn(session, DEMO_PROMPT, decide)
        finally:
            await session.close()
        return env, session, events
    finally:
        env.close()


async def test_the_demo_runs_end_to_end_with_real_tools(tmp_path):
    path_before = os.environ.get("PATH")
    decide = Recorder()
    env, session, events = await run_demo(tmp_path, decide)  # at the bundled pace, as users see it

    ended = events[-1]
    assert isinstance(ended, TurnEnded)
    assert ended.reason == "completed", ended.message

    # The approvals: the test command, the edit with its diff, the test command again.
    assert [(r.tool, r.kind) for r in decide.requests] == [
        ("shell", "command"),
        ("edit_file", "edit"),
        ("shell", "command"),
    ]
    first_run, edit, second_run = decide.requests
    assert first_run.command == second_run.command == DEMO_TEST_COMMAND and first_run.workdir == "."
    assert edit.summary == "edit wordcount/core.py"
    assert edit.diff is not None and f"-{BUGGY_LINE}" in edit.diff and f"+{FIXED_LINE}" in edit.diff
    assert [e.request.call_id for e in events if isinstance(e, ApprovalRequested)] == [
        r.call_id for r in decide.requests
    ]

    # Every tool really ran; the first test run failed, the second passed.
    finished = {e.call_id: e for e in events if isinstance(e, ToolFinished)}
    assert list(finished) == [
        "call_plan_start",
        "call_list",
        "call_tests_before",
        "call_plan_cause",
        "call_read",
        "call_fix",
        "call_plan_verify",
        "call_tests_after",
        "call_plan_done",
    ]
    assert finished["call_tests_before"].status == "error"
    assert "FAILED (failures=1)" in finished["call_tests_before"].output
    assert finished["call_tests_after"].status == "ok"
    assert "Ran 6 tests" in finished["call_tests_after"].output and "\nOK" in finished["call_tests_after"].output
    assert all(e.status == "ok" for call_id, e in finished.items() if call_id != "call_tests_before")
    assert finished["call_fix"].display is not None and finished["call_fix"].display["diff"] == edit.diff
    assert [step["status"] for step in finished["call_plan_done"].display["plan"]] == ["done"] * 4

    # The file is really fixed, and only that file changed.
    core = (env.workspace / "wordcount/core.py").read_text()
    assert FIXED_LINE in core and BUGGY_LINE not in core
    status = subprocess.run(
        ["git", "status", "--porcelain"], cwd=env.workspace, capture_output=True, text=True, check=True
    ).stdout
    assert status.splitlines() == [" M wordcount/core.py"]

    # The reasoning and the Markdown summary arrived.
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert "Fixed: all 6 tests pass now." in text and "```python\ndef count_words" in text
    assert "scripted demo model" in text
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta))

    # One warm-up, then seven scripted responses, each sent incrementally on the one socket.
    started = [e for e in events if isinstance(e, ResponseStarted)]
    assert len(started) == 7
    assert all(e.transport == "websocket" and e.incremental for e in started)
    bodies = [entry.body for entry in env.server.state.received]
    assert bodies[0]["generate"] is False and all(body["model"] == DEMO_MODEL for body in bodies)
    assert session.recorder is not None and session.recorder.path.is_file()
    assert os.environ.get("PATH") == path_before


async def test_commit_after_the_demo_shows_a_message_the_model_drafted_for_its_fix(tmp_path):
    """`/commit`'s drafting side request gets the scenario's commit message, not its opening line."""
    with prepare_demo(tmp_path, tokens_per_second=0) as env:
        session = Session.open(env.settings, cwd=env.workspace, log_root=tmp_path / "sessions")
        try:
            events = await answered_turn(session, DEMO_PROMPT, Recorder())
            assert isinstance(events[-1], TurnEnded) and events[-1].reason == "completed"
            draft = await session.draft_commit()
        finally:
            await session.close()
        drafting = env.server.state.received[-1].body
    assert "Write the commit message." in str(drafting["input"]) and drafting["stream"] is False
    assert draft.drafted_by == "model" and draft.files == ["wordcount/core.py"]
    lines = draft.message.splitlines()
    assert lines[0] == "Fix count_words for repeated spaces, tabs and newlines" and lines[1] == ""
    assert "text.split()" in draft.message and "I'll look at the project" not in draft.message
    assert lines[-2:] == ["", "Assisted-by: codeassist"]


async def test_a_denied_test_run_ends_the_scripted_demo_honestly(tmp_path):
    """The script branches on the denial: the turn completes with the scripted answer to it."""
    decide = Recorder("deny")
    env, _, events = await run_demo(tmp_path, decide, tokens_per_second=0)
    ended = events[-1]
    assert isinstance(ended, TurnEnded) and ended.reason == "completed", ended.message
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert "I won't run the tests" in text and "codeassist demo" in text
    assert [r.tool for r in decide.requests] == ["shell"]
    assert BUGGY_LINE in (env.workspace / "wordcount/core.py").read_text()


async def test_a_denied_edit_gets_the_scripted_answer_and_leaves_the_file_alone(tmp_path):
    class DenyEdits(Recorder):
        def __call__(self, request: ApprovalRequest) -> Decision:
            self.requests.append(request)
            return Decision(kind="deny" if request.tool == "edit_file" else "approve_once")

    decide = DenyEdits()
    env, _, events = await run_demo(tmp_path, decide, tokens_per_second=0)
    ended = events[-1]
    assert isinstance(ended, TurnEnded) and ended.reason == "completed", ended.message
    assert "left `wordcount/core.py` unchanged" in "".join(e.text for e in events if isinstance(e, TextDelta))
    assert [r.tool for r in decide.requests] == ["shell", "edit_file"]
    assert BUGGY_LINE in (env.workspace / "wordcount/core.py").read_text()


def test_prepare_demo_runs_python3_from_the_running_interpreter_while_open(tmp_path, monkeypatch):
    import shutil

    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    with prepare_demo(tmp_path, tokens_per_second=0) as env:
        assert env.path_prepended == os.path.dirname(sys.executable)
        assert os.environ["PATH"] == f"{env.path_prepended}{os.pathsep}/usr/bin:/bin"
        assert shutil.which("python3") == os.path.join(env.path_prepended, "python3")
        assert env.settings.base_url == env.base_url and env.settings.approval == "ask"
        assert env.settings.warmup and env.settings.reasoning_effort is None
        assert env.settings.api_key_value() == "demo" and env.settings.model == DEMO_MODEL
    assert os.environ["PATH"] == "/usr/bin:/bin"
