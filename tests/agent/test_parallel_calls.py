"""Calls of one response that only read and need nobody's approval run together.

The tools here nap and stamp `time.monotonic()` when they start and end: calls ran together when
every start comes before any end, one after another when each starts after the previous ended.
No test compares a duration with a threshold.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field

from agent.approvals import ApprovalRequest, Decision
from agent.events import AgentEvent, ApprovalRequested, ToolCallReady, ToolFinished, TurnEnded
from agent.session import Session
from agent.tools import ToolArgs, ToolContext, ToolError, ToolResult, read_only_tools
from agent.tools.base import Tool
from server.scenario import Scenario
from tests.agent.conftest import answered_turn, settings_at, settings_for
from tests.agent.fault_rig import ServeProcess, start_serve, stop_serve

NAP_S = 0.2
"""How long a nap lasts (only so that calls overlap visibly; no test measures it)."""


class NapArgs(ToolArgs):
    label: str = Field(description="Which nap this is")
    after: str | None = Field(default=None, description="A nap whose end this one waits for")


class Nap(Tool[NapArgs]):
    """Naps, and stamps its start and end; with `after`, it first waits for that nap's end."""

    name = "nap"
    description = "Nap."
    Args = NapArgs
    parallel_safe = True

    def __init__(self, spans: dict[str, tuple[float, float]], ended: dict[str, asyncio.Event]) -> None:
        self.spans = spans
        self.ended = ended

    async def run(self, args: NapArgs, ctx: ToolContext) -> ToolResult:
        started = time.monotonic()
        if args.after is not None:
            try:
                await asyncio.wait_for(self.ended.setdefault(args.after, asyncio.Event()).wait(), 10)
            except TimeoutError:
                raise ToolError(f"{args.after} never ended while {args.label} waited") from None
        await asyncio.sleep(NAP_S)
        self.spans[args.label] = (started, time.monotonic())
        self.ended.setdefault(args.label, asyncio.Event()).set()
        return ToolResult(output=f"{args.label} napped")


class LoneNap(Nap):
    """A nap that may not run alongside other calls."""

    name = "lone_nap"
    parallel_safe = False


class AskedNap(Nap):
    """A nap the session's rules make ask for approval."""

    name = "asked_nap"


class EditingNap(Nap):
    """A nap that counts as changing files (it asks under the `ask` policy)."""

    name = "editing_nap"
    kind = "edit"
    mutating = True


@pytest.fixture
def spans() -> dict[str, tuple[float, float]]:
    return {}


@pytest.fixture
def naps(spans: dict[str, tuple[float, float]]) -> list[Tool[Any]]:
    ended: dict[str, asyncio.Event] = {}
    return [*read_only_tools(), *(kind(spans, ended) for kind in (Nap, LoneNap, AskedNap, EditingNap))]


@pytest.fixture(scope="module")
def serve_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    """`codeassist serve` as a process, playing three naps in one response, then an answer."""
    running = start_serve(
        tmp_path_factory.mktemp("serve"),
        {
            "name": "naps",
            "turns": [
                {"output": [nap("c1", "one", after="three"), nap("c2", "two", after="three"), nap("c3", "three")]},
                {"output": [{"type": "message", "text": "Rested."}]},
            ],
        },
    )
    yield running
    stop_serve(running)


def nap(call_id: str, label: str, *, after: str | None = None, tool: str = "nap") -> dict[str, Any]:
    return {"type": "function_call", "name": tool, "call_id": call_id, "arguments": {"label": label, "after": after}}


def scenario(*turns: dict[str, Any]) -> Scenario:
    return Scenario.model_validate({"name": "naps", "turns": list(turns)})


def together(spans: dict[str, tuple[float, float]], *labels: str) -> bool:
    """Whether every one of the naps started before any of them ended."""
    return max(spans[label][0] for label in labels) < min(spans[label][1] for label in labels)


def before(spans: dict[str, tuple[float, float]], first: tuple[str, ...], then: tuple[str, ...]) -> bool:
    """Whether every nap of `then` started after every nap of `first` had ended."""
    return max(spans[label][1] for label in first) < min(spans[label][0] for label in then)


def output_order(request: dict[str, Any]) -> list[str]:
    return [item["call_id"] for item in request["input"] if item["type"] == "function_call_output"]


def approve(request: ApprovalRequest) -> Decision:
    return Decision(kind="approve_once")


def finished(events: list[AgentEvent]) -> dict[str, ToolFinished]:
    return {event.call_id: event for event in events if isinstance(event, ToolFinished)}


async def test_reading_calls_of_one_response_run_together_and_answer_in_call_order(
    serve_process: ServeProcess, repo: Path, tmp_path: Path, naps: list[Tool[Any]], spans: dict
) -> None:
    serve_process.reset()
    settings = settings_at(serve_process.base_url)
    handle = Session.open(settings, cwd=repo, tools=naps, log_root=tmp_path / "sessions")
    events = await answered_turn(handle, "rest")
    assert isinstance(events[-1], TurnEnded) and events[-1].reason == "completed"
    assert together(spans, "one", "two", "three")
    kinds = [(type(e).__name__, getattr(e, "call_id", None)) for e in events]
    announced = [i for i, e in enumerate(events) if isinstance(e, ToolCallReady) and e.final]
    first_result = kinds.index(("ToolFinished", "c3"))
    assert len(announced) == 3 and max(announced) < first_result, "all three are announced before any result"
    assert first_result < kinds.index(("ToolFinished", "c1")) and first_result < kinds.index(("ToolFinished", "c2"))
    assert {call_id: e.status for call_id, e in finished(events).items()} == {"c1": "ok", "c2": "ok", "c3": "ok"}
    _, follow = [entry["body"] for entry in serve_process.requests()]
    assert output_order(follow) == ["c1", "c2", "c3"], "outputs go back in call order, not in finishing order"
    assert events[-1].stats.tool_calls == 3
    await handle.close()


async def test_a_call_that_changes_files_asks_or_may_not_run_alongside_waits_for_the_group_and_runs_alone(
    start_server, repo: Path, tmp_path: Path, naps: list[Tool[Any]], spans: dict
) -> None:
    server = start_server(
        scenario(
            {
                "output": [
                    nap("c1", "a1"),
                    nap("c2", "a2"),
                    nap("c3", "edit", tool="editing_nap"),
                    nap("c4", "b1"),
                    nap("c5", "b2"),
                    nap("c6", "asked", tool="asked_nap"),
                    nap("c7", "e1"),
                    nap("c8", "lone", tool="lone_nap"),
                    nap("c9", "d1"),
                    nap("c10", "d2"),
                ]
            },
            {"output": [{"type": "message", "text": "Rested."}]},
        )
    )
    settings = settings_for(server, ask=["asked_nap"])
    handle = Session.open(settings, cwd=repo, tools=naps, log_root=tmp_path / "sessions")
    events = await answered_turn(handle, "rest", approve)
    assert events[-1].reason == "completed"
    assert [e.request.call_id for e in events if isinstance(e, ApprovalRequested)] == ["c3", "c6"]
    assert together(spans, "a1", "a2") and together(spans, "b1", "b2") and together(spans, "d1", "d2")
    order = [("a1", "a2"), ("edit",), ("b1", "b2"), ("asked",), ("e1",), ("lone",), ("d1", "d2")]
    assert all(before(spans, first, then) for first, then in itertools.pairwise(order))
    _, follow = [entry.body for entry in server.state.received if entry.body is not None]
    assert output_order(follow) == [f"c{n}" for n in range(1, 11)]
    await handle.close()


async def test_esc_while_a_group_runs_gives_each_call_one_output_in_call_order(
    start_server, repo: Path, tmp_path: Path, naps: list[Tool[Any]], spans: dict
) -> None:
    server = start_server(
        scenario(
            {"output": [nap("h1", "held1", after="never"), nap("q2", "quick"), nap("h3", "held3", after="never")]},
            {"output": [{"type": "message", "text": "Fresh."}]},
        )
    )
    handle = Session.open(settings_for(server), cwd=repo, tools=naps, log_root=tmp_path / "sessions")
    events: list[AgentEvent] = []
    async for event in handle.run_turn("rest"):
        events.append(event)
        if isinstance(event, ToolFinished) and event.call_id == "q2":
            await handle.cancel()
    assert events[-1].reason == "cancelled"
    results = [(e.call_id, e.status) for e in events if isinstance(e, ToolFinished)]
    assert sorted(results) == [("h1", "aborted"), ("h3", "aborted"), ("q2", "ok")], "one output each"
    assert handle.agent.conversation.ledger.answered >= {"h1", "q2", "h3"}
    await answered_turn(handle, "again")
    _, follow = [entry.body for entry in server.state.received if entry.body is not None]
    assert output_order(follow) == ["h1", "q2", "h3"]
    outputs = {item["call_id"]: item["output"] for item in follow["input"] if item["type"] == "function_call_output"}
    assert outputs["q2"] == "quick napped" and outputs["h1"].startswith("aborted")
    await handle.close()


async def test_a_turn_stopped_while_a_group_runs_leaves_each_call_one_output(
    start_server, repo: Path, tmp_path: Path, naps: list[Tool[Any]], spans: dict
) -> None:
    """What the app does on /new or quit: the worker running the turn is cancelled."""
    server = start_server(
        scenario({"output": [nap("h1", "held1", after="never"), nap("q2", "quick"), nap("h3", "held3", after="h1")]})
    )
    handle = Session.open(settings_for(server), cwd=repo, tools=naps, log_root=tmp_path / "sessions")
    quick_done = asyncio.Event()

    async def consume() -> None:
        async for event in handle.run_turn("rest"):
            if isinstance(event, ToolFinished) and event.call_id == "q2":
                quick_done.set()

    worker = asyncio.create_task(consume())
    await quick_done.wait()
    worker.cancel()
    await asyncio.gather(worker, return_exceptions=True)
    outputs = [item for item in handle.agent.conversation.items if item.type == "function_call_output"]
    assert [(item.call_id, item.output.startswith("aborted")) for item in outputs] == [
        ("h1", True),
        ("q2", False),
        ("h3", True),
    ]
    await handle.close()


async def test_a_call_of_a_group_repeated_by_a_later_response_does_not_run_again(
    start_server, repo: Path, tmp_path: Path, naps: list[Tool[Any]], spans: dict
) -> None:
    server = start_server(
        scenario(
            {"output": [nap("c1", "one"), nap("c2", "two")]},
            {"output": [nap("c2", "two again"), nap("c3", "three")]},
            {"output": [{"type": "message", "text": "Rested."}]},
        )
    )
    handle = Session.open(settings_for(server), cwd=repo, tools=naps, log_root=tmp_path / "sessions")
    events = await answered_turn(handle, "rest")
    assert events[-1].reason == "completed"
    assert sorted(spans) == ["one", "three", "two"]
    assert [e.call_id for e in events if isinstance(e, ToolFinished)].count("c2") == 1
    await handle.close()
