"""How a turn's tool calls are timed, and how a turn ends when its caller stops iterating."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import Field

import agent.loop
import agent.loop_calls
from agent.approvals import Decision
from agent.events import (
    AgentEvent,
    ApprovalDecided,
    ApprovalRequested,
    GitBaseline,
    ToolFinished,
    TurnEnded,
    TurnStarted,
)
from agent.session import Session
from agent.session_record import EventEntry, ItemsEntry, read_session
from agent.tools import ToolArgs, ToolContext, ToolResult
from agent.tools.base import Tool
from agent.transport.scripted import function_call, message, response_events
from tests.agent.conftest import settings_for
from tests.agent.scripted import scripted_agent
from tests.agent.test_loop import TouchFile, call, scenario


class Clock:
    """`time` for the loop: stands still until a test (or a tool) moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


class WorkArgs(ToolArgs):
    seconds: float = Field(description="How long the work takes")


class Work(Tool[WorkArgs]):
    """A mutating tool that takes `seconds` on the loop's clock; with `hang`, it then runs until cancelled."""

    name = "work"
    description = "Work."
    Args = WorkArgs
    kind = "edit"
    mutating = True

    def __init__(self, clock: Clock, *, hang: bool = False) -> None:
        self.clock = clock
        self.hang = hang
        self.running = asyncio.Event()

    async def run(self, args: WorkArgs, ctx: ToolContext) -> ToolResult:
        self.clock.now += args.seconds
        self.running.set()
        if self.hang:
            await asyncio.Event().wait()
        return ToolResult(output="worked")


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(agent.loop, "time", fake)
    monkeypatch.setattr(agent.loop_calls, "time", fake)
    return fake


async def test_a_call_lasts_as_long_as_it_ran_not_as_long_as_its_approval_waited(repo: Path, clock: Clock) -> None:
    agent_, _ = scripted_agent(
        repo,
        response_events(
            function_call("work", "c_ok", {"seconds": 0.25}),
            function_call("work", "c_denied", {"seconds": 5}),
            function_call("work", "c_invalid", {"minutes": 1}),
        ),
        response_events(message("done")),
        tools=[Work(clock)],
    )
    events: list[AgentEvent] = []
    async for event in agent_.run_turn("work"):
        events.append(event)
        if isinstance(event, ApprovalRequested):
            clock.now += 7.0  # the user thinks for 7 s
            kind = "approve_once" if event.request.call_id == "c_ok" else "deny"
            assert agent_.answer_approval(event.request.call_id, Decision(kind=kind))
    durations = {e.call_id: (e.status, e.duration_s) for e in events if isinstance(e, ToolFinished)}
    assert durations == {"c_ok": ("ok", 0.25), "c_denied": ("denied", 0.0), "c_invalid": ("invalid", 0.0)}
    assert [e.waited_s for e in events if isinstance(e, ApprovalDecided)] == [7.0, 7.0]
    [ended] = [e for e in events if isinstance(e, TurnEnded)]
    assert ended.stats.approval_wait_s == 14.0 and ended.stats.tool_s == 0.25


async def test_an_aborted_call_lasts_as_long_as_it_ran_before_the_cancel(repo: Path, clock: Clock) -> None:
    work = Work(clock, hang=True)
    agent_, _ = scripted_agent(
        repo,
        response_events(function_call("work", "c_running", {"seconds": 3}), function_call("work", "c_next", {})),
        tools=[work],
    )

    async def cancel_once_running() -> None:
        await work.running.wait()
        await agent_.cancel()

    canceller = asyncio.ensure_future(cancel_once_running())
    events: list[AgentEvent] = []
    async for event in agent_.run_turn("work"):
        events.append(event)
        if isinstance(event, ApprovalRequested):
            assert agent_.answer_approval(event.request.call_id, Decision(kind="approve_once"))
    await canceller
    durations = {e.call_id: (e.status, e.duration_s) for e in events if isinstance(e, ToolFinished)}
    assert durations == {"c_running": ("aborted", 3.0), "c_next": ("aborted", 0.0)}
    assert events[-1].reason == "cancelled"


def recorded(path: Path) -> tuple[list[AgentEvent], list[dict]]:
    entries = list(read_session(path).entries)
    events = [entry.event for entry in entries if isinstance(entry, EventEntry)]
    items = [item for entry in entries if isinstance(entry, ItemsEntry) for item in entry.items]
    return events, items


async def test_a_turn_its_caller_stops_at_an_approval_is_recorded_cancelled_and_withdraws_it(
    start_server, repo, tmp_path
):
    server = start_server(
        scenario(
            {"output": [call("touch_file", "c1", path="new.txt"), call("read_file", "c2", path="a.py")]},
            {
                "expect": [{"type": "function_call_output", "call_id": "c1", "contains": "aborted"}],
                "output": [{"type": "message", "text": "fresh"}],
            },
        )
    )
    handle = Session.open(settings_for(server), cwd=repo, tools=[TouchFile()], log_root=tmp_path / "sessions")
    turn = handle.run_turn("make a file")
    async for event in turn:
        if isinstance(event, ApprovalRequested):
            break
    assert handle.agent.approvals.pending == ["c1"]
    await turn.aclose()  # type: ignore[attr-defined]
    assert handle.agent.approvals.pending == []
    assert not handle.answer_approval("c1", Decision(kind="approve_once")), "its turn is over"
    assert handle.recorder is not None
    handle.recorder.flush(durable=True)
    events, items = recorded(handle.recorder.path)
    finished = [(e.call_id, e.status) for e in events if isinstance(e, ToolFinished)]
    assert finished == [("c1", "aborted"), ("c2", "aborted")]
    assert [e.reason for e in events if isinstance(e, TurnEnded)] == ["cancelled"]
    outputs = [item["call_id"] for item in items if item["type"] == "function_call_output"]
    assert outputs == ["c1", "c2"]
    assert not (repo / "new.txt").exists()

    again = [event async for event in handle.run_turn("again")]
    assert again[-1].reason == "completed", "the conversation stays valid"
    assert [e.turn for e in again if isinstance(e, TurnStarted)] == [2]
    await handle.close()


async def test_a_turn_its_caller_stops_at_its_start_is_recorded_cancelled(start_server, repo, tmp_path):
    server = start_server(scenario({"output": [{"type": "message", "text": "hi"}]}))
    handle = Session.open(settings_for(server), cwd=repo, log_root=tmp_path / "sessions")
    turn = handle.run_turn("hello")
    first = await anext(turn)
    assert isinstance(first, TurnStarted)
    await turn.aclose()  # type: ignore[attr-defined]
    assert handle.recorder is not None
    handle.recorder.flush(durable=True)
    events, _ = recorded(handle.recorder.path)
    assert [type(e) for e in events] == [GitBaseline, TurnStarted, TurnEnded]
    assert events[-1].reason == "cancelled" and len(handle.turns) == 1
    await handle.close()
