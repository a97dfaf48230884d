"""Sessions saved by the previous version (format 1) still list, replay, resume and export.

`data/session-v1.jsonl` was recorded by codeassist before the session record stored agent
events: a real session against `codeassist serve` with reasoning, text, a plan, an approved edit
with its diff, an approved and a denied shell command, a failed call, a reconnect in the middle
of a streamed answer, and a bearer token streamed across several deltas (redacted when written).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agent.events import (
    ApprovalDecided,
    ApprovalRequested,
    ReasoningDelta,
    Reconnecting,
    TextDelta,
    ToolFinished,
    TurnEnded,
)
from agent.export import export_json, export_markdown, export_session
from agent.replay import SessionReplay, history_events
from agent.resume import conversation_items, latest_session, session_turns
from agent.session import Session
from agent.session_log import list_sessions, load_session
from agent.wire import FunctionCallOutput
from server.scenario import Scenario
from tests.agent.conftest import settings_for
from tests.agent.recording import run_turn
from tests.agent.test_history import coalesced, dumps

V1_SESSION = Path(__file__).parent / "data" / "session-v1.jsonl"
SESSION_ID = "20261126-000635-394f55"
STATUSES = [
    ("c_plan", "ok"),
    ("c_read", "ok"),
    ("c_edit", "ok"),
    ("c_shell", "ok"),
    ("c_denied", "denied"),
    ("c_failed", "error"),
]


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    """The version-1 session, saved where codeassist keeps sessions."""
    day = tmp_path / "sessions" / "2026-11-26"
    day.mkdir(parents=True)
    return Path(shutil.copy(V1_SESSION, day / V1_SESSION.name.replace("session-v1", SESSION_ID)))


def test_it_lists_with_its_prompt_turns_and_tokens(saved: Path) -> None:
    [summary] = list_sessions(saved.parent.parent)
    assert (summary.id, summary.first_prompt, summary.turns) == (SESSION_ID, "fix the greeting in a.py", 2)
    assert summary.total_tokens > 0 and summary.model == "scripted-test"
    assert latest_session(saved.parent.parent) == saved


async def test_it_replays_statuses_approvals_diffs_plan_reasoning_and_the_reconnect(saved: Path) -> None:
    events = [event async for event in SessionReplay(saved, instant=True).events()]
    finished = [event for event in events if isinstance(event, ToolFinished)]
    assert [(event.call_id, event.status) for event in finished] == STATUSES
    assert all(event.duration_s > 0 for event in finished)
    display = {event.call_id: event.display or {} for event in finished}
    assert "+print('hello, world')" in str(display["c_edit"]["diff"]) and display["c_plan"]["plan"]
    assert [e.decision for e in events if isinstance(e, ApprovalDecided)] == ["approve_once", "approve_once", "deny"]
    [edit, *_] = [e.request for e in events if isinstance(e, ApprovalRequested)]
    assert edit.diff and "+print('hello, world')" in edit.diff
    assert "".join(e.text for e in events if isinstance(e, ReasoningDelta)).startswith("The greeting is wrong.")
    assert [type(e) for e in events].count(Reconnecting) == 1
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert "Bearer [REDACTED] and the greeting now prints hello, world." in text
    assert "abcdefghijklmnop" not in text
    assert [e.reason for e in events if isinstance(e, TurnEnded)] == ["completed", "completed"]
    assert dumps(history_events(saved)) == dumps(coalesced(events))


async def test_it_resumes_into_a_new_file_of_the_current_format(saved: Path, start_server, repo) -> None:
    before = saved.read_bytes()
    items = conversation_items(load_session(saved))
    outputs = {item.call_id: item.output for item in items if isinstance(item, FunctionCallOutput)}
    assert list(outputs) == [call_id for call_id, _ in STATUSES]
    server = start_server(Scenario.model_validate({"turns": []}))
    handle = Session.open(settings_for(server), cwd=repo, log_root=saved.parent.parent, resume=saved)
    replayed = [event async for event in SessionReplay(saved, instant=True).events()]
    assert dumps(handle.history()) == dumps(coalesced(replayed)), "the resumed transcript is the replay's"
    assert len(handle.agent.turns) == 2
    events = await run_turn(handle.agent, "and now?")
    await handle.close()
    assert events[-1].reason == "completed" and events[0].turn == 3
    body = [entry.body for entry in server.state.received if entry.body is not None][-1]
    assert body["input"][: len(items)] == [item.model_dump(mode="json") for item in items]
    assert saved.read_bytes() == before, "the old file is left as it was"

    assert handle.recorder is not None and handle.recorder.path != saved
    continued = load_session(handle.recorder.path)
    assert continued.header["v"] == 2
    turns = session_turns(handle.recorder.path)
    assert [turn.turn for turn in turns] == [1, 2, 3]
    assert [(call.call_id, call.status) for call in turns[0].tool_calls] == STATUSES
    assert latest_session(saved.parent.parent) == handle.recorder.path


def test_it_exports_as_markdown_and_json(saved: Path, tmp_path: Path) -> None:
    loaded = load_session(saved)
    markdown = export_markdown(loaded)
    assert "## Turn 1\n\n### User\n\nfix the greeting in a.py\n" in markdown
    assert "> **Reasoning**\n>\n> The greeting is wrong." in markdown
    assert "Approval: **deny** (user) — not now" in markdown and "Proposed change:" in markdown
    assert "**Tool call** `read_file` · error" in markdown and "Bearer [REDACTED]" in markdown
    data = export_json(loaded)
    assert [(c["call_id"], c["status"]) for c in data["turns"][0]["tool_calls"]] == STATUSES
    assert data["totals"]["turns"] == 2
    out = export_session(saved, "json", tmp_path / "t.json")
    assert json.loads(out.read_text())["session"]["id"] == SESSION_ID
