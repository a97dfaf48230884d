"""Recording real sessions for the replay, resume and export tests: a loopback server, a temp
git repository, the default tools (shell and write_file ask and are approved)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.approvals import ApprovalRequest, Decision
from agent.events import AgentEvent, ApprovalDecided, ApprovalRequested, TextDelta
from agent.session import Session
from server.scenario import Scenario
from tests.agent.conftest import answered_turn, settings_for


def call(name: str, call_id: str, **arguments: Any) -> dict[str, Any]:
    return {"type": "function_call", "name": name, "call_id": call_id, "arguments": arguments}


TASK = Scenario.model_validate(
    {
        "name": "recorded",
        "turns": [
            {
                "output": [
                    {"type": "reasoning", "summary": ["Look at the files first.", "Then run a command."]},
                    {"type": "message", "text": "Looking around."},
                    call("list_files", "c_list"),
                    call("shell", "c_shell", command="echo ran >> shell.log"),
                ]
            },
            {
                "expect": [
                    {"type": "function_call_output", "call_id": "c_list", "contains": "a.py"},
                    {"type": "function_call_output", "call_id": "c_shell"},
                ],
                "output": [call("write_file", "c_write", path="notes.txt", content="hello ``` fence\n")],
            },
            {
                "expect": [{"type": "function_call_output", "call_id": "c_write", "contains": "notes.txt"}],
                "output": [{"type": "message", "text": "Done: wrote **notes.txt**."}],
            },
            {"output": [{"type": "message", "text": "Second answer."}]},
            {"output": [{"type": "message", "text": "Third answer."}]},
        ],
    }
)
"""Turn 1 takes three responses and three tools (two approved by the user); turn 2 is text."""

PROMPTS = ("look around and take notes", "anything else?")


def approve(request: ApprovalRequest) -> Decision:
    return Decision(kind="approve_once")


def open_recorded(server, repo: Path, root: Path, **kwargs: Any) -> Session:
    return Session.open(settings_for(server), cwd=repo, log_root=root, **kwargs)


async def run_turn(session, prompt: str) -> list:
    """One turn, every approval approved once."""
    return await answered_turn(session, prompt, approve)


async def record_task(server, repo: Path, root: Path, prompts: tuple[str, ...] = PROMPTS) -> tuple[Path, list]:
    """Run `prompts` as turns against `server`; returns the session file and the live events."""
    handle = open_recorded(server, repo, root)
    events: list = []
    try:
        for prompt in prompts:
            events += await run_turn(handle.agent, prompt)
    finally:
        await handle.close()
    assert handle.recorder is not None
    return handle.recorder.path, events


def requests(server) -> list[dict]:
    return [entry.body for entry in server.state.received if entry.body is not None]


def _plan(*steps: tuple[str, str]) -> list[dict[str, str]]:
    return [{"step": step, "status": status} for step, status in steps]


BEARER = "abcdefghijklmnopqrstuvwxyz0123456789"
"""A bearer token the model streams back (word by word: no delta alone looks like a secret)."""

RICH = Scenario.model_validate(
    {
        "name": "rich",
        "turns": [
            {
                "output": [
                    {"type": "reasoning", "summary": ["The greeting is wrong.", "Plan, read, fix, test."]},
                    {"type": "message", "text": "I will make a plan first."},
                    call("update_plan", "c_plan", steps=_plan(("Read a.py", "in_progress"), ("Fix it", "pending"))),
                    call("read_file", "c_read", path="a.py"),
                ]
            },
            {
                "output": [
                    call("edit_file", "c_edit", path="a.py", old="print('hello')", new="print('hello, world')"),
                    call("shell", "c_shell", command="python3 a.py"),
                ]
            },
            {
                "output": [
                    call("shell", "c_denied", command="rm -rf build"),
                    call("read_file", "c_failed", path="nope.py"),
                ]
            },
            {
                "fault": {"kind": "close", "after_events": 6},
                "output": [
                    {
                        "type": "message",
                        "text": f"Fixed. The service answered with Authorization: Bearer {BEARER} and the "
                        "greeting now prints hello, world.",
                    }
                ],
            },
            {"output": [{"type": "message", "text": "Nothing else to do."}]},
            {
                "output": [
                    call("read_file", "c_invalid", file="a.py"),
                    call("shell", "c_slow", command="sleep 30"),
                    call("read_file", "c_skipped", path="a.py"),
                ]
            },
            {
                "tokens_per_second": 20,
                "output": [{"type": "message", "text": " ".join(f"word{n}" for n in range(200))}],
            },
        ],
    }
)
"""Reasoning, text, a plan, an approved edit with its diff, an approved and a denied command, a
failed call, a reconnect in the middle of a streamed answer, and a streamed secret; then (for
`RICH_CANCELLED_PROMPTS`) an invalid call and a command cancelled while it runs, and a long answer
cancelled while it streams."""

RICH_PROMPTS = ("fix the greeting in a.py", "anything else?")

RICH_CANCELLED_PROMPTS = ("run the slow check", "tell me a long story")
"""The turns `record_rich` cancels: one while `sleep 30` runs, one while the answer streams."""


def approve_but_rm(request: ApprovalRequest) -> Decision:
    """Approves everything but `rm`, which is denied with a reason."""
    if request.command and request.command.startswith("rm "):
        return Decision(kind="deny", reason="not now")
    return Decision(kind="approve_once")


async def cancelled_turn(runner: Any, prompt: str, cancel_at: Callable[[AgentEvent], bool]) -> list[AgentEvent]:
    """One turn, approvals answered by `approve_but_rm`, cancelled (as Esc does) after the
    first event `cancel_at` picks."""
    events: list[AgentEvent] = []
    cancelled = False
    async for event in runner.run_turn(prompt):
        events.append(event)
        if isinstance(event, ApprovalRequested):
            assert runner.answer_approval(event.request.call_id, approve_but_rm(event.request))
        if not cancelled and cancel_at(event):
            cancelled = True
            await runner.cancel()
    return events


async def record_rich(session: Session) -> list[AgentEvent]:
    """Every RICH turn: `RICH_PROMPTS` to their end, then `RICH_CANCELLED_PROMPTS` cancelled
    (the command once it has run a while, the answer at its first delta); the live events."""
    events: list[AgentEvent] = []
    for prompt in RICH_PROMPTS:
        events += await answered_turn(session, prompt, approve_but_rm)
    slow, story = RICH_CANCELLED_PROMPTS
    started = asyncio.Event()

    def runs_a_while(event: AgentEvent) -> bool:
        if isinstance(event, ApprovalDecided) and event.call_id == "c_slow":  # it runs next: let it run a while
            asyncio.get_running_loop().call_later(0.3, started.set)
        return False

    async def cancel_when_started() -> None:
        await started.wait()
        await session.cancel()

    canceller = asyncio.ensure_future(cancel_when_started())
    events += await cancelled_turn(session, slow, runs_a_while)
    await canceller
    events += await cancelled_turn(session, story, lambda event: isinstance(event, TextDelta))
    return events
