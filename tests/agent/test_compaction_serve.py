"""Compaction end to end against a real `codeassist serve`, over WebSocket and over HTTP: the
server compacting inside a response, `/compact` through `POST /v1/responses/compact`, recovery from
`context_length_exceeded`, and the client-side fallback where the endpoint refuses
`context_management`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent.events import AgentError, Compacted, TurnEnded
from agent.session import Session
from server.scenario import Scenario
from tests.agent.conftest import answered_turn, settings_for

SERVER_HAS_COMPACTION = {"context_window", "compaction", "reject_over_window"} <= set(Scenario.model_fields)

pytestmark = [
    pytest.mark.skipif(
        not SERVER_HAS_COMPACTION,
        reason="codeassist serve here has no compaction: its Scenario lacks the context_window, compaction "
        "and reject_over_window knobs",
    ),
    pytest.mark.parametrize("transport", ["websocket", "http"]),
]

WORDY = "word " * 400
"""About 500 tokens of assistant text per answer (four bytes a token); the instructions and tool
specs every request carries come to about 2,000 tokens."""


def talk(turns: int = 12, **knobs: Any) -> Scenario:
    return Scenario.model_validate(
        {
            "name": "compaction",
            "turns": [{"output": [{"type": "message", "text": f"Answer {n}: {WORDY}"}]} for n in range(turns)],
            "off_script_text": f"Off-script answer: {WORDY}",
            **knobs,
        }
    )


def open_session(server, repo: Path, tmp_path: Path, transport: str, **settings: Any) -> Session:
    return Session.open(settings_for(server, transport=transport, **settings), cwd=repo, log_root=tmp_path / "sessions")


def compactions(events: list) -> list[Compacted]:
    return [event for event in events if isinstance(event, Compacted)]


def sent_inputs(server) -> list[list[dict[str, Any]]]:
    return [r.body["input"] for r in server.state.received if isinstance(r.body, dict) and "input" in r.body]


async def test_the_server_compacts_inside_a_response_and_a_full_resend_sends_only_the_window(
    start_server, repo, tmp_path, transport
):
    server = start_server(talk(context_window=20_000))
    session = open_session(server, repo, tmp_path, transport, compact_threshold=4000)
    try:
        seen: list[Compacted] = []
        for n in range(8):
            events = await answered_turn(session, f"question {n}")
            assert isinstance(events[-1], TurnEnded) and events[-1].reason == "completed", events[-1]
            seen += compactions(events)
        assert seen and all(event.mode == "auto" for event in seen)
        assert seen[0].tokens_after is not None and seen[0].tokens_before is not None
        assert seen[0].tokens_after < seen[0].tokens_before
        conversation = session.agent.conversation
        assert any(getattr(item, "type", None) == "compaction" for item in conversation.items)

        if session.agent.client.websocket is not None:
            await session.agent.client.websocket.close()  # a forced reconnect: the next request resends
        window = [item.model_dump(mode="json") for item in conversation.window()]
        assert window[0]["type"] == "compaction" and len(window) < len(conversation.items)
        events = await answered_turn(session, "after the reconnect")
        assert events[-1].reason == "completed"
        resent = sent_inputs(server)[-1]
        assert resent[: len(window)] == window and len(resent) == len(window) + 1, "only the window is resent"
        assert all(
            r.body.get("context_management")
            for r in server.state.received
            if isinstance(r.body, dict) and "input" in r.body
        )
    finally:
        await session.close()


async def test_slash_compact_uses_the_standalone_endpoint_and_continues_from_its_window(
    start_server, repo, tmp_path, transport
):
    server = start_server(talk(context_window=100_000))
    session = open_session(server, repo, tmp_path, transport)
    try:
        await answered_turn(session, "first question")
        await answered_turn(session, "second question")
        events = [event async for event in session.compact("the questions")]
        compacted = compactions(events)
        assert len(compacted) == 1 and compacted[0].mode == "manual", events
        assert compacted[0].window is not None and compacted[0].window[-1]["type"] == "compaction"
        assert session.agent.compactor.standalone_refused is None
        events = await answered_turn(session, "third question")
        assert events[-1].reason == "completed", events[-1]
        sent = sent_inputs(server)[-1]
        assert sent[: len(compacted[0].window)] == compacted[0].window
    finally:
        await session.close()


async def test_context_length_exceeded_is_recovered_once(start_server, repo, tmp_path, transport):
    server = start_server(talk(context_window=5000, reject_over_window=True))
    session = open_session(server, repo, tmp_path, transport, compact_threshold=0)
    try:
        recovered: list[Compacted] = []
        for n in range(12):
            events = await answered_turn(session, f"question {n}")
            recovered += [event for event in compactions(events) if event.mode == "recovery"]
            assert events[-1].reason == "completed", events[-1]
            if recovered:
                break
        assert recovered, "the window was never exceeded"
    finally:
        await session.close()


async def test_an_endpoint_without_compaction_gets_client_side_compaction(start_server, repo, tmp_path, transport):
    server = start_server(talk(context_window=None, compaction=False))
    session = open_session(server, repo, tmp_path, transport, compact_threshold=300)
    try:
        seen: list[Compacted] = []
        errors: list[AgentError] = []
        for n in range(4):
            events = await answered_turn(session, f"question {n}")
            assert events[-1].reason == "completed", events[-1]
            seen += compactions(events)
            errors += [event for event in events if isinstance(event, AgentError)]
        assert not errors
        assert seen and {event.mode for event in seen} == {"client"}
        stats = session.stats()
        assert stats.compaction.startswith("client-side") and stats.compactions == len(seen)
        refused = [r for r in server.state.received if isinstance(r.body, dict) and r.body.get("context_management")]
        assert len(refused) == 1, "the field is dropped after the first refusal"
    finally:
        await session.close()
