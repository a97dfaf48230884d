"""No event stream crashes the client: real streams recorded from `codeassist serve`, mutated.

The streams of a scripted scenario (text, a shell call, reasoning) are recorded once per module
from a real `codeassist serve` process. Hypothesis then mutates them — fields of the wrong type,
missing fields, duplicated and reordered events, truncated streams, frames that are not JSON —
and plays them through the raw WebSocket server (`tests/agent/raw_server.py`) to the real
`ResponsesSocket` and a real `Agent` whose shell tool appends a line to a file. Whatever arrives:
no exception escapes `run_turn`, the turn ends with exactly one `TurnEnded` (never by the loop's
internal-error net), every call in the transcript has exactly one output, and the command runs
at most once.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.approvals import ApprovalGate, Policy
from agent.conversation import Conversation, RequestSettings
from agent.events import AgentError, ToolFinished, TurnEnded
from agent.loop import Agent
from agent.model_client import ModelClient
from agent.tools import ToolContext, ToolRegistry
from agent.tools.shell import Shell
from agent.transport import ResponsesSocket
from agent.transport.scripted import ScriptedTransport
from agent.wire import FunctionCall, FunctionCallOutput
from tests.agent.conftest import make_repo
from tests.agent.raw_server import Reply, raw_server
from tests.codeassist.test_serve import running
from tests.server.wsclient import call_output, create, open_socket, read_response, user

SCENARIO = {
    "name": "robustness",
    "model": "scripted-test",
    "turns": [
        {
            "output": [
                {"type": "message", "text": "I will run it now."},
                {
                    "type": "function_call",
                    "call_id": "c1",
                    "name": "shell",
                    "arguments": {"command": "echo one >> ran.log"},
                },
            ]
        },
        {
            "output": [
                {"type": "reasoning", "summary": ["It ran.", "Say so."]},
                {"type": "message", "text": "The command ran."},
            ]
        },
    ],
}

Stream = list[dict[str, Any]]


def ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://") + "/responses"


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Stream, Stream]:
    """The two responses of the scenario, as a real `codeassist serve` streams them."""
    script = tmp_path_factory.mktemp("scenario") / "robustness.json"
    script.write_text(json.dumps(SCENARIO))
    with running("serve", "--script", str(script)) as (_, url), open_socket(ws_url(url)) as ws:
        create(ws, input=user("run it"))
        calling = read_response(ws)
        create(ws, input=call_output("c1", "done"), previous_response_id=calling[-1]["response"]["id"])
        answering = read_response(ws)
    assert calling[-1]["type"] == answering[-1]["type"] == "response.completed"
    assert any(event.get("item", {}).get("type") == "function_call" for event in calling)
    return calling, answering


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo(tmp_path_factory.mktemp("robust") / "repo", {"README.md": "hi\n"})


def renamed(stream: Stream, suffix: str) -> Stream:
    """`stream` with its response id made unique (each reply is its own response)."""
    rid = stream[0]["response"]["id"]
    return json.loads(json.dumps(stream).replace(f'"{rid}"', f'"{rid}{suffix}"'))


ODD_VALUES = st.sampled_from([None, 5, -1, 0, 2.5, True, False, "", "notadict", [], [1, "a"], {}, {"a": 1}])
"""Values of every JSON type, put where a field of another type (or the same) is expected."""


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside nested dicts and lists."""
    found: list[tuple[Any, ...]] = []
    children = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in children:
        found.append((*prefix, key))
        found += paths(child, (*prefix, key))
    return found


def mutate(data: st.DataObject, stream: Stream) -> tuple[list[Any], int | None]:
    """One to four mutations of `stream`; the frames to send, and the close code after them."""
    frames: list[Any] = copy.deepcopy(stream)
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        kind = data.draw(st.sampled_from(["retype", "delete", "duplicate", "reorder", "truncate", "garbage"]))
        if not frames:
            break
        index = data.draw(st.integers(0, len(frames) - 1), label="event")
        event = frames[index]
        if kind in ("retype", "delete") and isinstance(event, dict):
            where = paths(event)
            if not where:
                continue
            path = data.draw(st.sampled_from(where), label="path")
            parent = event
            for key in path[:-1]:
                parent = parent[key]
            if kind == "retype":
                parent[path[-1]] = data.draw(ODD_VALUES, label="value")
            else:
                del parent[path[-1]]
        elif kind == "duplicate":
            frames.insert(data.draw(st.integers(index, len(frames)), label="at"), copy.deepcopy(event))
        elif kind == "reorder":
            other = data.draw(st.integers(0, len(frames) - 1), label="swap")
            frames[index], frames[other] = frames[other], frames[index]
        elif kind == "truncate":
            del frames[index:]
        else:
            frames.insert(
                index, data.draw(st.sampled_from(["not json {", '["a list"]', '{"no": "type"}', b"\xff\x00"]))
            )
    close = data.draw(st.sampled_from([None, 1011]), label="close")
    return frames, close


def agent_for(url: str, workspace: Path) -> Agent:
    socket = ResponsesSocket(url, "sk-test", idle_timeout=0.1, open_timeout=5.0)
    client = ModelClient(websocket=socket, http=ScriptedTransport(name="http"), max_retries=1, sleep=_no_sleep)
    registry = ToolRegistry([Shell()])
    conversation = Conversation(
        RequestSettings.build(model="scripted-test", instructions="Be brief.", tools=registry.specs())
    )
    return Agent(
        client=client,
        conversation=conversation,
        tools=registry,
        tool_context=ToolContext(workspace=workspace),
        approvals=ApprovalGate(Policy.FULL_AUTO),
        max_steps=4,
    )


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


async def _no_sleep(delay: float) -> None:
    await asyncio.sleep(0)


async def play(replies: list[Reply], workspace: Path) -> tuple[list[Any], Agent]:
    async with raw_server(*replies) as server:
        agent = agent_for(server.url, workspace)
        try:
            events = [event async for event in agent.run_turn("run it")]
        finally:
            # Frames a mutated stream left unread would make a polite close wait for its timeout.
            assert agent.client.websocket is not None
            await agent.client.websocket.abort()
            await agent.client.close()
    return events, agent


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_no_mutated_stream_crashes_the_turn_or_runs_a_command_twice(recorded, workspace, data):
    calling, answering = recorded
    replies = []
    for number, stream in enumerate([calling, calling, answering, answering]):
        frames, close = mutate(data, renamed(stream, f"_{number}")) if number < 3 else (renamed(stream, "_3"), None)
        replies.append(Reply(frames, close_code=close))
    ran = workspace / "ran.log"
    ran.unlink(missing_ok=True)

    events, agent = asyncio.run(play(replies, workspace))

    ended = [event for event in events if isinstance(event, TurnEnded)]
    assert ended == [events[-1]]
    assert not [e for e in events if isinstance(e, AgentError) and e.code == "internal_error"], events
    finished = Counter(event.call_id for event in events if isinstance(event, ToolFinished))
    assert all(count == 1 for count in finished.values())
    outputs = Counter(item.call_id for item in agent.conversation.items if isinstance(item, FunctionCallOutput))
    called = {item.call_id for item in agent.conversation.items if isinstance(item, FunctionCall)}
    assert called <= set(outputs) and all(count == 1 for count in outputs.values())
    assert len(lines(ran)) <= 1


@pytest.mark.parametrize(
    "mutation",
    [
        {"type": "response.output_item.added", "item": "notadict"},
        {"type": "response.output_item.done", "item": {"type": "function_call", "call_id": 7, "name": "shell"}},
        {"type": "error", "code": 5, "message": "odd"},
        {"type": "response.output_text.delta", "delta": {"a": 1}, "item_id": ["x"]},
        {"type": "response.completed", "response": {"id": "r", "output": [], "usage": {"input_tokens": "many"}}},
        {"type": "response.completed", "response": "done"},
        {"type": "response.incomplete", "response": {"id": "r", "incomplete_details": "short"}},
        {"type": "response.failed", "response": {"id": "r", "error": ["boom"]}},
    ],
)
async def test_the_campaign_crashes_end_the_turn_cleanly(recorded, workspace, mutation):
    """The shapes the fault campaign found crashing the client, each inserted into a real stream."""
    calling, answering = recorded
    (workspace / "ran.log").unlink(missing_ok=True)
    frames = [*renamed(calling, "_a")[:2], mutation, *renamed(calling, "_a")[2:]]
    events, _ = await play([Reply(frames), Reply(renamed(calling, "_b")), Reply(renamed(answering, "_c"))], workspace)
    assert [e for e in events if isinstance(e, TurnEnded)] == [events[-1]]
    assert not [e for e in events if isinstance(e, AgentError) and e.code == "internal_error"]
    assert len(lines(workspace / "ran.log")) <= 1
