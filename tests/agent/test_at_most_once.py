"""At most once: whatever a server repeats, a tool call id runs once per session.

Each test plays scripted frames from the raw WebSocket server (`tests/agent/raw_server.py`) to a
real session — the real `ResponsesSocket`, model client, loop and session log — whose shell tool
appends a line to `ran.log` in a temporary git repository: the lines counted are the runs.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from agent.config import Settings
from agent.events import ResponseFinished, ToolCallReady, ToolFinished, TurnEnded
from agent.resume import INTERRUPTED_OUTPUT
from agent.session import Session
from agent.transport.scripted import function_call, message, response_events
from tests.agent.conftest import answered_turn, make_repo
from tests.agent.raw_server import RawServer, raw_server

CODEASSIST = str(Path(sys.executable).with_name("codeassist"))
KEY = "sk-test-abcdefghijklmnopqrstuvwxyz012345"


def append(word: str, call_id: str) -> dict[str, Any]:
    """A shell call that appends `word` as one line to ran.log."""
    return function_call("shell", call_id, {"command": f"echo {word} >> ran.log"})


def runs(repo: Path) -> list[str]:
    log = repo / "ran.log"
    return log.read_text().splitlines() if log.exists() else []


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"README.md": "hi\n"})


def settings_for(server: RawServer) -> Settings:
    base = server.url.removesuffix("/responses").replace("ws://", "http://")
    return Settings(
        base_url=base,
        model="scripted-test",
        api_key=KEY,
        warmup=False,
        idle_timeout_s=5.0,
        open_timeout_s=5.0,
        reasoning_effort=None,
        approval="full-auto",
        sandbox="off",
        max_retries=2,
    )


def open_session(server: RawServer, repo: Path, tmp_path: Path, resume: Path | None = None) -> Session:
    return Session.open(settings_for(server), cwd=repo, log_root=tmp_path / "sessions", resume=resume)


async def one_turn(session: Session, prompt: str = "go") -> list[Any]:
    events = await answered_turn(session, prompt)
    assert [e for e in events if isinstance(e, TurnEnded)] == [events[-1]]
    return events


def ignored(events: list[Any]) -> int:
    return sum(e.stats.ignored_events for e in events if isinstance(e, ResponseFinished))


def outputs(events: list[Any]) -> list[str]:
    return [e.call_id for e in events if isinstance(e, ToolFinished)]


async def test_a_duplicated_response_completed_runs_nothing_twice(repo, tmp_path):
    first = response_events(append("one", "c1"))
    async with raw_server([*first, copy.deepcopy(first[-1])], response_events(message("done"))) as server:
        session = open_session(server, repo, tmp_path)
        events = await one_turn(session)
        await session.close()
    assert runs(repo) == ["one"]
    assert events[-1].reason == "completed" and outputs(events) == ["c1"]
    assert ignored(events) == 1 and session.stats().ignored_events == 1


async def test_the_same_call_id_twice_in_one_response_runs_once(repo, tmp_path):
    async with raw_server(
        response_events(append("first", "c1"), append("second", "c1")), response_events(message("done"))
    ) as server:
        session = open_session(server, repo, tmp_path)
        events = await one_turn(session)
        await session.close()
        sent = server.requests[1]["input"]
    assert runs(repo) == ["first"] and outputs(events) == ["c1"]
    assert [item["call_id"] for item in sent if item["type"] == "function_call_output"] == ["c1"]
    assert ignored(events) >= 1


async def test_a_call_id_reused_by_the_next_response_does_not_run_again(repo, tmp_path):
    async with raw_server(
        response_events(append("one", "c1")),
        response_events(message("again"), append("two", "c1")),
        response_events(append("three", "c1")),
    ) as server:
        session = open_session(server, repo, tmp_path)
        events = await one_turn(session)
        assert events[-1].reason == "completed" and outputs(events) == ["c1"]
        later = await one_turn(session, "and now?")  # a later turn: the ledger still holds c1
        await session.close()
    assert runs(repo) == ["one"]
    assert later[-1].reason == "completed" and outputs(later) == []
    assert ignored(events) == 3 and ignored(later) == 3  # its added and done events, and the call itself
    assert [e.message for e in later if e.type == "notice"] == [
        "Repeated tool calls not run again (already answered): c1"
    ]


async def test_a_duplicated_output_item_done_with_an_empty_output_runs_once(repo, tmp_path):
    events = response_events(append("one", "c1"))
    done = next(index for index, event in enumerate(events) if event["type"] == "response.output_item.done")
    events.insert(done + 1, copy.deepcopy(events[done]))
    events[-1]["response"]["output"] = []
    async with raw_server(events, response_events(message("done"))) as server:
        session = open_session(server, repo, tmp_path)
        seen = await one_turn(session)
        await session.close()
    assert runs(repo) == ["one"] and outputs(seen) == ["c1"]
    assert ignored(seen) == 1


async def test_events_after_the_terminal_event_are_not_read_as_the_next_response(repo, tmp_path):
    first = response_events(append("one", "c1"))
    late = [event for event in first if event["type"].startswith("response.output_item")]
    second = response_events(message("done"))
    second[-1]["response"]["output"] = []  # its output is read from its streamed items
    async with raw_server([*first, *copy.deepcopy(late), copy.deepcopy(first[0])], second) as server:
        session = open_session(server, repo, tmp_path)
        events = await one_turn(session)
        await session.close()
    assert runs(repo) == ["one"] and outputs(events) == ["c1"]
    assert events[-1].reason == "completed"
    assert [e.text for e in events if e.type == "message_completed"] == ["done"]
    assert ignored(events) == len(late) + 1


def differing_copies() -> list[dict[str, Any]]:
    """A response whose streamed `output_item.done` and completed output disagree on the command."""
    events = response_events(append("final", "c1"))
    for event in events:
        if event["type"] == "response.output_item.done":
            event["item"] = {**event["item"], "arguments": json.dumps({"command": "echo streamed >> ran.log"})}
    return events


async def test_the_arguments_that_run_are_the_completed_ones_and_are_announced_first(repo, tmp_path):
    async with raw_server(differing_copies(), response_events(message("done"))) as server:
        session = open_session(server, repo, tmp_path)
        events = await one_turn(session)
        await session.close()
    assert runs(repo) == ["final"]
    [final] = [e for e in events if isinstance(e, ToolCallReady) and e.final]
    assert "echo final" in final.arguments
    assert events.index(final) < next(i for i, e in enumerate(events) if isinstance(e, ToolFinished))


def _environ(tmp_path: Path) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "CODEASSIST_"))}
    environ.update(
        {"XDG_CONFIG_HOME": str(tmp_path / "config"), "XDG_DATA_HOME": str(tmp_path / "data"), "OPENAI_API_KEY": KEY}
    )
    return environ


async def exec_turn(server: RawServer, repo: Path, tmp_path: Path, *args: str) -> tuple[int, str, str]:
    """`codeassist exec` as a subprocess (awaited, so the raw server in this loop keeps serving)."""
    base = server.url.removesuffix("/responses").replace("ws://", "http://")
    process = await asyncio.create_subprocess_exec(
        CODEASSIST,
        "exec",
        *args,
        "--base-url",
        base,
        "--approval",
        "full-auto",
        "--sandbox",
        "off",
        "--no-warmup",
        cwd=repo,
        env=_environ(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    return process.returncode or 0, out.decode(), err.decode()


async def test_exec_shows_exactly_the_arguments_that_run(repo, tmp_path):
    async with raw_server(differing_copies(), response_events(message("done"))) as server:
        code, _, err = await exec_turn(server, repo, tmp_path, "go")
    assert code == 0, err
    assert runs(repo) == ["final"]
    assert "echo final" in err and "echo streamed" not in err


async def test_continue_honours_the_ledger_of_the_saved_session(repo, tmp_path):
    async with raw_server(
        response_events(append("one", "c1")),
        response_events(message("done")),
        response_events(append("two", "c1"), append("three", "c2")),
        response_events(message("done again")),
    ) as server:
        code, _, err = await exec_turn(server, repo, tmp_path, "first")
        assert code == 0, err
        code, _, err = await exec_turn(server, repo, tmp_path, "--continue", "second")
        assert code == 0, err
        resent = server.requests[2]["input"]
    assert runs(repo) == ["one", "three"]
    assert [item.get("call_id") for item in resent if item.get("type") == "function_call_output"] == ["c1"]


async def test_an_interrupted_call_is_answered_on_resume_and_never_run(repo, tmp_path):
    async with raw_server(response_events(append("one", "c1")), response_events(message("done"))) as server:
        session = open_session(server, repo, tmp_path)
        await one_turn(session)
        await session.close()
    path = session.log_path
    assert path is not None
    # The process died after the call was committed and before its result was written.
    lines = path.read_text().splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines) if '"function_call_output"' in line or '"tool_finished"' in line)
    path.write_text("".join(lines[:cut]))
    (repo / "ran.log").unlink()
    async with raw_server(response_events(append("again", "c1")), response_events(message("ok"))) as server:
        resumed = open_session(server, repo, tmp_path, resume=path)
        events = await one_turn(resumed, "what happened?")
        await resumed.close()
        sent = server.requests[0]["input"]
    assert runs(repo) == [] and outputs(events) == []
    assert {"type": "function_call_output", "call_id": "c1", "output": INTERRUPTED_OUTPUT} in sent


async def test_a_response_abandoned_mid_stream_is_never_read_as_its_retry(repo, tmp_path):
    abandoned = response_events(append("abandoned", "c1"))
    abandoned.insert(2, {"type": "response.output_item.added", "item": "notadict"})
    async with raw_server(abandoned, response_events(message("fresh"))) as server:
        session = open_session(server, repo, tmp_path)
        events = await one_turn(session)
        await session.close()
    assert runs(repo) == [] and outputs(events) == []
    assert [e.cause for e in events if e.type == "reconnecting"] == ["malformed_event"]
    assert events[-1].reason == "completed"
    assert [e.text for e in events if e.type == "message_completed"] == ["fresh"]
