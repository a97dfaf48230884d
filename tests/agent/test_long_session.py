"""A long session never hits the wall: 300 scripted turns with tool outputs against `codeassist
serve` with a small context window. Every turn completes, no request is over the window,
compaction happens on its own, and a full resend after a forced reconnect carries only the
window since the latest compaction item."""

from __future__ import annotations

from typing import Any

from agent.config import Settings
from agent.events import ResponseFinished, TurnEnded
from agent.session import Session
from bench.long_session import API_KEY, MODEL, long_scenario, make_workspace
from server.faults import Fault
from server.scenario import Scenario

TURNS = 300
WINDOW = 6000
THRESHOLD = 4800
RECONNECT_AT = (60, 150, 240)


def compaction_ids(items: list[Any]) -> list[str]:
    return [item.id for item in items if getattr(item, "type", None) == "compaction"]


async def test_300_turns_with_tool_outputs_never_fail_for_size(start_server, tmp_path):
    server = start_server(Scenario.model_validate(long_scenario(TURNS, context_window=WINDOW)))
    workspace = make_workspace(tmp_path / "repo", 600)
    settings = Settings(
        base_url=server.address.base_url,
        model=MODEL,
        api_key=API_KEY,
        warmup=False,
        reasoning_effort=None,
        compact_threshold=THRESHOLD,  # type: ignore[call-arg]
    )
    session = Session.open(settings, cwd=workspace, record=False)
    conversation = session.agent.conversation
    endings: list[str] = []
    input_tokens: list[int] = []
    compacted: list[Any] = []
    resends: list[tuple[str, dict[str, Any]]] = []
    for turn in range(TURNS):
        latest = None
        if turn in RECONNECT_AT:
            latest = compaction_ids(conversation.items)[-1]
            server.state.received.clear()
            server.state.faults.add(Fault(kind="close", after_events=3, transport="websocket"))
        async for event in session.run_turn(f"Turn {turn}: read the next note."):
            if isinstance(event, ResponseFinished):
                input_tokens.append(event.stats.input_tokens)
            elif isinstance(event, TurnEnded):
                endings.append(event.reason)
            elif getattr(event, "type", "") == "compacted":
                compacted.append(event)
        if latest is not None:
            bodies = [entry.body for entry in server.state.received if entry.body is not None]
            resend = next(body for body in bodies if "previous_response_id" not in body)
            resends.append((latest, resend))
    await session.close()

    assert endings == ["completed"] * TURNS
    assert max(input_tokens) <= WINDOW
    assert len(compacted) >= 10 and {event.mode for event in compacted} == {"auto"}
    assert all(event.tokens_after is None or event.tokens_after < event.tokens_before for event in compacted)
    assert len(resends) == len(RECONNECT_AT)
    for latest, resend in resends:
        window = resend["input"]
        found = [index for index, item in enumerate(window) if item.get("type") == "compaction"]
        assert len(found) == 1 and window[found[0]]["id"] == latest, "only the window since the latest compaction"
        assert all(item.get("role") == "user" for item in window[: found[0]])
        assert len(window) < 2 * (THRESHOLD // 150), "the resend is a window, not the session"
