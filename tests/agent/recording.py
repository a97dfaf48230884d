"""Recording real sessions for the replay, resume and export tests: a loopback server, a temp
git repository, the default tools (shell and write_file ask and are approved)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.approvals import ApprovalRequest, Decision
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
    assert handle.log is not None
    return handle.log.path, events


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
        ],
    }
)
"""Reasoning, text, a plan, an approved edit with its diff, an approved and a denied command, a
failed call, a reconnect in the middle of a streamed answer, and a streamed secret."""

RICH_PROMPTS = ("fix the greeting in a.py", "anything else?")


def approve_but_rm(request: ApprovalRequest) -> Decision:
    """Approves everything but `rm`, which is denied with a reason."""
    if request.command and request.command.startswith("rm "):
        return Decision(kind="deny", reason="not now")
    return Decision(kind="approve_once")
