"""A running shell command's output while it runs (`ToolOutput`), and what a cancel keeps of it.

Real subprocesses; the model is a `ScriptedTransport`. Assertions are on content and order only.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from agent.approvals import Decision
from agent.events import ApprovalRequested, ToolFinished, ToolOutput, TurnEnded
from agent.loop import PARTIAL_OUTPUT_HEADING
from agent.recorder import SessionRecorder
from agent.redact import Redactor
from agent.replay import history_events
from agent.session_log import SessionLog
from agent.session_record import read_session
from agent.tools import read_only_tools
from agent.tools.shell import Shell
from agent.transport.scripted import function_call, message, response_events
from tests.agent.scripted import scripted_agent

# Prints five lines with pauses, so several tails are seen while it runs.
PRINTS_SLOWLY = "for i in 1 2 3 4 5; do echo line $i; sleep 0.3; done"
# Prints two lines, then waits until it is cancelled.
PRINTS_THEN_WAITS = "echo first; echo second; sleep 60"


def shell_agent(workspace: Path, command: str, recorder=None):
    return scripted_agent(
        workspace,
        response_events(function_call("shell", "c_sh", {"command": command, "timeout_s": None, "workdir": None})),
        response_events(message("done")),
        tools=[*read_only_tools(), Shell()],
        recorder=recorder,
    )


async def run(agent, prompt: str = "run it", on_event=None) -> list:
    events = []
    async for event in agent.run_turn(prompt):
        events.append(event)
        if isinstance(event, ApprovalRequested):
            agent.answer_approval(event.request.call_id, Decision(kind="approve_once"))
        if on_event is not None:
            await on_event(agent, event)
    return events


async def test_a_running_command_shows_its_latest_lines_before_it_finishes(tmp_path):
    agent, _ = shell_agent(tmp_path, PRINTS_SLOWLY)
    events = await run(agent)
    live = [e for e in events if isinstance(e, ToolOutput)]
    finished = next(e for e in events if isinstance(e, ToolFinished))
    assert live, "no live output while the command ran"
    assert all(e.call_id == "c_sh" for e in live)
    # every live event comes before the call's one result, and tails only grow
    assert events.index(live[-1]) < events.index(finished)
    seen = [int(e.text.splitlines()[-1].split()[-1]) for e in live]
    assert seen == sorted(seen)
    assert all(e.text.startswith("line ") for e in live)
    assert [e.total_bytes for e in live] == sorted(e.total_bytes for e in live)
    assert "line 5" in finished.output and finished.status == "ok"


async def test_cancel_keeps_the_output_printed_before_it(tmp_path):
    async def cancel_once_printed(agent, event) -> None:
        if isinstance(event, ToolOutput) and "second" in event.text:
            await agent.cancel()

    agent, _ = shell_agent(tmp_path, PRINTS_THEN_WAITS)
    events = await run(agent, on_event=cancel_once_printed)
    assert isinstance(events[-1], TurnEnded) and events[-1].reason == "cancelled"
    finished = next(e for e in events if isinstance(e, ToolFinished))
    assert finished.status == "aborted"
    assert finished.output.startswith("aborted:")
    kept = finished.output.split(PARTIAL_OUTPUT_HEADING, 1)[1]
    assert kept.strip().splitlines() == ["first", "second"]
    # the conversation (what the model hears next) holds it too
    outputs = [item for item in agent.conversation.items if getattr(item, "call_id", None) == "c_sh"]
    assert any("second" in str(getattr(item, "output", "")) for item in outputs)


async def test_the_record_holds_few_live_outputs_and_replay_yields_them(tmp_path):
    redactor = Redactor(environ={})
    log = SessionLog.create(root=tmp_path / "sessions", header={"model": "scripted-test"}, redactor=redactor)
    recorder = SessionRecorder(log, redactor)
    agent, _ = shell_agent(tmp_path, PRINTS_SLOWLY, recorder=recorder)
    events = await run(agent)
    recorder.close()
    live = [e for e in events if isinstance(e, ToolOutput)]
    reading = read_session(log.path)
    recorded = [entry.event for entry in reading.entries if isinstance(getattr(entry, "event", None), ToolOutput)]
    replayed = [e for e in history_events(log.path) if isinstance(e, ToolOutput)]
    assert replayed == recorded
    assert recorded, "the record keeps the output shown while the command ran"
    assert len(recorded) <= len(live)
    assert recorded[0] == live[0]
    assert recorded[-1] == live[-1], "the last lines shown are on record"
    assert all(event in live for event in recorded)


async def test_a_cancelled_turn_while_the_caller_stops_listening_stops_the_command(tmp_path):
    agent, _ = shell_agent(tmp_path, PRINTS_THEN_WAITS)
    stream = agent.run_turn("run it")
    async for event in stream:
        if isinstance(event, ApprovalRequested):
            agent.answer_approval(event.request.call_id, Decision(kind="approve_once"))
        if isinstance(event, ToolOutput) and "second" in event.text:
            break
    await asyncio.wait_for(stream.aclose(), 10)
    assert agent.tool_context.live is None
