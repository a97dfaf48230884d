"""Compaction on the client: the `context_management` field, the window a full resend sends, the
standalone `/compact`, recovery from `context_length_exceeded`, the client-side fallback where the
endpoint refuses the field, and resuming a compacted session.

The loop's logic runs against scripted transports (and, for the standalone endpoint, a scripted
answer at the model boundary); the end-to-end tests against `codeassist serve` are in
`test_compaction_serve.py`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agent.catalogue import catalogue
from agent.compaction import STILL_TOO_LONG, CompactionUnsupported, Compactor, estimate_tokens
from agent.conversation import COMPACT_FRACTION
from agent.events import AgentError, Compacted, CompactionStarted, Notice, TurnEnded
from agent.recorder import SessionRecorder
from agent.redact import Redactor
from agent.resume import resume_record
from agent.session_log import SessionLog
from agent.transport.base import StreamInterrupted
from agent.transport.scripted import ScriptedFailure, message, response_events
from agent.wire import user_message
from agent.wire.tokens import IMAGE_TOKENS
from tests.agent.conftest import answered_turn
from tests.agent.scripted import scripted_agent


def compaction_item(number: int = 1) -> dict[str, Any]:
    return {"type": "compaction", "id": f"cmp_{number}", "encrypted_content": f"opaque-{number}"}


def compacting_response(text: str, number: int = 1) -> list[dict[str, Any]]:
    """A response in which the server compacted before answering: the compaction item streams
    first (`output_item.added` and `.done`), then the reply."""
    item = compaction_item(number)
    events = response_events(item, message(text))
    events.insert(1, {"type": "response.output_item.added", "output_index": 0, "item": item})
    return events


def error(code: str, message_text: str, param: str | None = None) -> list[dict[str, Any]]:
    payload = {"type": "invalid_request_error", "code": code, "message": message_text, "param": param}
    return [{"type": "error", "status": 400, "error": payload}]


OVER_WINDOW = error("context_length_exceeded", "Your input exceeds the context window of this model.")
REFUSED_FIELD = error("unknown_parameter", "Unknown parameter: 'context_management'.", "context_management")


class ScriptedCompactEndpoint:
    """`POST /responses/compact` at the model boundary: answers the user messages of the input
    verbatim, then one compaction item; records every body."""

    def __init__(self, *, unsupported: bool = False) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.unsupported = unsupported

    async def compact(self, body: dict[str, Any]) -> dict[str, Any]:
        self.bodies.append(body)
        if self.unsupported:
            raise CompactionUnsupported("the endpoint has no /responses/compact (HTTP 404)")
        users = [item for item in body["input"] if item.get("role") == "user"]
        return {
            "id": f"cmpresp_{len(self.bodies)}",
            "object": "response.compaction",
            "output": [*users, compaction_item(100 + len(self.bodies))],
            "usage": {"input_tokens": 50, "output_tokens": 5, "total_tokens": 55},
        }


def with_endpoint(agent, endpoint: ScriptedCompactEndpoint) -> None:
    agent.compactor = Compactor(agent.client, agent.conversation, endpoint)  # type: ignore[arg-type]


def user_texts(items: list[dict[str, Any]]) -> list[str]:
    return [part["text"] for item in items if item.get("role") == "user" for part in item["content"]]


async def test_every_request_carries_context_management_at_the_threshold(repo):
    agent, transport = scripted_agent(repo, response_events(message("one")), response_events(message("two")))
    await answered_turn(agent, "first")
    window = catalogue().lookup("scripted-test").context_window
    expected = [{"type": "compaction", "compact_threshold": int(window * COMPACT_FRACTION)}]
    assert transport.requests[0]["context_management"] == expected
    agent.conversation.compact_setting = 1234
    await answered_turn(agent, "second")
    assert transport.requests[1]["context_management"] == [{"type": "compaction", "compact_threshold": 1234}]

    off, off_transport = scripted_agent(repo, response_events(message("one")))
    off.conversation.compact_setting = 0
    await answered_turn(off, "first")
    assert "context_management" not in off_transport.requests[0]


async def test_automatic_compaction_is_kept_and_a_full_resend_sends_only_the_window_since_it(repo):
    agent, transport = scripted_agent(
        repo,
        response_events(message("one")),
        compacting_response("two"),
        response_events(message("three")),
        ScriptedFailure(StreamInterrupted("dropped", cause="closed_abnormally")),
        response_events(message("four")),
    )
    await answered_turn(agent, "first")
    events = await answered_turn(agent, "second")
    started = [e for e in events if isinstance(e, CompactionStarted)]
    compacted = [e for e in events if isinstance(e, Compacted)]
    assert [e.mode for e in started] == ["auto"] and len(compacted) == 1
    assert compacted[0].mode == "auto" and compacted[0].tokens_before == 15 and compacted[0].tokens_after == 10
    assert compacted[0].items_before == 3 and compacted[0].items_after == 2 and compacted[0].window is None
    # the transcript keeps everything, the compaction item included
    kinds = [getattr(item, "type", None) for item in agent.conversation.items]
    assert kinds == ["message", "message", "message", "compaction", "message"]

    await answered_turn(agent, "third")  # chained: only the new user message
    assert transport.requests[2]["previous_response_id"] and user_texts(transport.requests[2]["input"]) == ["third"]

    events = await answered_turn(agent, "fourth")  # the socket drops: a full resend of the window
    resend = transport.requests[4]
    assert "previous_response_id" not in resend
    assert resend["input"][0] == compaction_item(1)
    assert user_texts(resend["input"]) == ["third", "fourth"]
    assert events[-1].reason == "completed"


async def test_manual_compaction_goes_through_the_endpoint_and_continues_from_its_window(repo):
    agent, transport = scripted_agent(repo, response_events(message("one")), response_events(message("two")))
    endpoint = ScriptedCompactEndpoint()
    with_endpoint(agent, endpoint)
    await answered_turn(agent, "first")
    events = [event async for event in agent.compact("the failing test")]
    assert [type(e) for e in events] == [CompactionStarted, Compacted]
    compacted = events[-1]
    assert isinstance(compacted, Compacted) and compacted.mode == "manual"
    assert compacted.items_before == 2 and compacted.items_after == 2 and compacted.tokens_before == 15
    assert compacted.window == [endpoint.bodies[0]["input"][0], compaction_item(101)]
    body = endpoint.bodies[0]
    assert body["model"] == "scripted-test" and "the failing test" in body["instructions"]
    assert [item["role"] for item in body["input"]] == ["user", "assistant"]

    await answered_turn(agent, "second")
    request = transport.requests[1]
    assert "previous_response_id" not in request
    assert request["input"][:2] == compacted.window
    assert user_texts(request["input"]) == ["first", "second"]
    assert len(agent.conversation.items) == 4  # the transcript keeps what was compacted


async def test_compacting_nothing_says_so(repo):
    agent, _ = scripted_agent(repo)
    events = [event async for event in agent.compact(None)]
    assert [type(e) for e in events] == [AgentError] and events[0].code == "nothing_to_compact"


async def test_context_length_exceeded_compacts_and_retries_the_request_once(repo):
    agent, transport = scripted_agent(
        repo, response_events(message("one")), OVER_WINDOW, response_events(message("two"))
    )
    endpoint = ScriptedCompactEndpoint()
    with_endpoint(agent, endpoint)
    await answered_turn(agent, "first")
    events = await answered_turn(agent, "second")
    compacted = [e for e in events if isinstance(e, Compacted)]
    assert [e.mode for e in compacted] == ["recovery"] and len(endpoint.bodies) == 1
    assert events[-1].reason == "completed"
    retried = transport.requests[2]
    assert retried["input"][-1]["type"] == "compaction" and user_texts(retried["input"]) == ["first", "second"]


async def test_a_request_still_over_the_window_after_compacting_ends_the_turn_saying_what_to_do(repo):
    agent, transport = scripted_agent(repo, OVER_WINDOW, OVER_WINDOW, response_events(message("never")))
    endpoint = ScriptedCompactEndpoint()
    with_endpoint(agent, endpoint)
    events = await answered_turn(agent, "first")
    ended = events[-1]
    assert isinstance(ended, TurnEnded) and ended.reason == "error" and ended.message == STILL_TOO_LONG
    assert len(transport.requests) == 2 and len(endpoint.bodies) == 1  # retried exactly once
    assert transport.remaining == 1


async def test_a_failed_response_over_the_window_is_recovered_too(repo):
    failed = response_events(status="failed", error={"code": "context_length_exceeded", "message": "Too long."})
    agent, transport = scripted_agent(repo, failed, response_events(message("fits now")))
    with_endpoint(agent, ScriptedCompactEndpoint())
    events = await answered_turn(agent, "first")
    assert [e.mode for e in events if isinstance(e, Compacted)] == ["recovery"]
    assert events[-1].reason == "completed" and len(transport.requests) == 2


async def test_an_endpoint_refusing_the_field_gets_client_side_compaction_on_a_side_channel(repo):
    agent, transport = scripted_agent(
        repo,
        REFUSED_FIELD,
        response_events(message("one")),
        response_events(message("two")),
        response_events(message("three")),
    )
    agent.conversation.compact_setting = 12  # the scripted usage is 15 tokens a response
    with_endpoint(agent, ScriptedCompactEndpoint())
    side = agent.client.http
    side.add(response_events(message("The user asked twice; nothing else happened.")))  # type: ignore[attr-defined]

    events = await answered_turn(agent, "first")
    notices = [e.message for e in events if isinstance(e, Notice)]
    assert any("does not take context_management" in text for text in notices)
    assert "context_management" in transport.requests[0]
    assert "context_management" not in transport.requests[1]
    assert agent.compactor.describe().startswith("client-side (the endpoint refused context_management")
    generation = transport.generation

    events = await answered_turn(agent, "second")
    compacted = [e for e in events if isinstance(e, Compacted)]
    assert [e.mode for e in compacted] == ["client"]
    summary_request = side.requests[0]  # type: ignore[attr-defined]
    assert summary_request["tool_choice"] == "none" and "context_management" not in summary_request
    assert user_texts(summary_request["input"])[:2] == ["first", "second"]
    # the summary replaced the window; the main chain's socket was never touched
    sent = transport.requests[2]
    assert [item["role"] for item in sent["input"]] == ["user", "user", "developer"]
    assert "nothing else happened" in sent["input"][-1]["content"][0]["text"]
    assert transport.generation == generation and len(side.requests) == 1  # type: ignore[attr-defined]
    assert events[-1].reason == "completed"


async def test_the_standalone_endpoint_missing_falls_back_to_a_summary(repo):
    agent, _ = scripted_agent(repo, response_events(message("one")), response_events(message("two")))
    with_endpoint(agent, ScriptedCompactEndpoint(unsupported=True))
    agent.client.http.add(response_events(message("Summary.")))  # type: ignore[attr-defined]
    await answered_turn(agent, "first")
    events = [event async for event in agent.compact(None)]
    assert isinstance(events[-1], Compacted) and events[-1].mode == "manual"
    assert events[-1].window is not None and events[-1].window[-1]["role"] == "developer"
    assert agent.compactor.standalone_refused


async def test_a_resumed_session_resends_from_the_latest_compaction(repo, tmp_path: Path):
    def recorder() -> SessionRecorder:
        log = SessionLog.create(root=tmp_path / "logs", session_id="s1", header={"id": "s1"}, redactor=Redactor())
        return SessionRecorder(log, Redactor())

    recording = recorder()
    agent, _ = scripted_agent(
        repo,
        response_events(message("one")),
        compacting_response("two"),
        response_events(message("three")),
        recorder=recording,
    )
    endpoint = ScriptedCompactEndpoint()
    with_endpoint(agent, endpoint)
    await answered_turn(agent, "first")
    await answered_turn(agent, "second")  # compacted in the stream
    restored = resume_record(recording.path)
    assert restored.window is not None and restored.window[0] == []
    fresh, fresh_transport = scripted_agent(repo, response_events(message("resumed")))
    restored.restore(fresh, None, resumed_fields={})
    await answered_turn(fresh, "third")
    assert fresh_transport.requests[0]["input"][0] == compaction_item(1)
    assert user_texts(fresh_transport.requests[0]["input"]) == ["third"]

    _ = [event async for event in agent.compact(None)]  # then a standalone compaction
    await answered_turn(agent, "after")
    recording.close()
    restored = resume_record(recording.path)
    assert restored.window is not None
    fresh, fresh_transport = scripted_agent(repo, response_events(message("resumed")))
    restored.restore(fresh, None, resumed_fields={})
    assert fresh.compactor.compactions == 2
    await answered_turn(fresh, "again")
    sent = fresh_transport.requests[0]["input"]
    assert sent[0] == compaction_item(101)
    assert user_texts(sent) == ["after", "again"]


def test_the_compact_threshold_setting_takes_tokens_off_or_nothing(tmp_path: Path):
    import pytest

    from agent.config import ConfigError, load_settings

    def load(value: str | None) -> int | None:
        environ = {"XDG_CONFIG_HOME": str(tmp_path)}
        if value is not None:
            environ["CODEASSIST_COMPACT_THRESHOLD"] = value
        return load_settings(environ=environ).compact_threshold

    assert load(None) is None  # 80% of the catalogue's window
    assert load("150000") == 150000
    assert load("off") == 0
    with pytest.raises(ConfigError, match="compact_threshold"):
        load("-5")


def test_an_image_counts_as_the_server_counts_it_not_by_its_bytes():
    small, big = ("data:image/png;base64," + "A" * size for size in (4, 400_000))
    text_only = estimate_tokens([user_message("look")])
    assert estimate_tokens([user_message("look", [big])]) == estimate_tokens([user_message("look", [small])])
    assert text_only + IMAGE_TOKENS <= estimate_tokens([user_message("look", [big])]) < text_only + IMAGE_TOKENS + 20
