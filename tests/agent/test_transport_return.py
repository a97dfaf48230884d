"""A transport that comes back: after a fallback to HTTP/SSE the session tries WebSocket again at
later turn starts (backoff across turns), HTTP for good only when the endpoint has no WebSocket
mode, and a 403 on the upgrade is a reason to try HTTP once."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from agent.config import Settings
from agent.conversation import Conversation, RequestSettings
from agent.events import ResponseStarted, TransportChanged, TurnEnded
from agent.model_client import CameBack, FellBack, ModelClient, ModelError, RequestStarted, ResponseResult
from agent.session import Session
from agent.stats import SessionStats, TransportSwitch
from agent.transport import ResponsesHTTP, ResponsesSocket
from agent.transport.scripted import message, response_events
from agent.transport.switching import ReturnSchedule, TransportSwitched
from server.faults import Fault
from server.scenario import Scenario
from tests.agent.conftest import answered_turn, settings_at
from tests.codeassist.test_serve import running
from tui.widgets.stats_panel import connection_text


class SleepRecorder:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def tool_turns(count: int) -> dict[str, Any]:
    """A scenario of `count` user turns, each one tool call (read a.py) and then a message."""
    turns: list[dict[str, Any]] = []
    for index in range(count):
        turns.append({"output": [{"type": "function_call", "name": "read_file", "arguments": {"path": "a.py"}}]})
        turns.append({"output": [{"type": "message", "text": f"Turn {index} done."}]})
    return {"name": "tool-turns", "model": "scripted-test", "turns": turns}


def switches(events: list[Any]) -> list[tuple[str, str]]:
    return [(event.transport, event.cause) for event in events if isinstance(event, TransportChanged)]


def requests_of(events: list[Any]) -> list[tuple[str, bool]]:
    return [(event.transport, event.incremental) for event in events if isinstance(event, ResponseStarted)]


def ended(events: list[Any]) -> str:
    [end] = [event for event in events if isinstance(event, TurnEnded)]
    return end.reason


# ---- a real outage of `codeassist serve` ----------------------------------------------------------


async def test_after_an_outage_longer_than_the_retry_budget_the_session_is_back_on_websocket(tmp_path, repo):
    script = tmp_path / "turns.json"
    script.write_text(json.dumps(tool_turns(6)))
    sleep = SleepRecorder()
    with running("serve", "--port", "0", "--script", str(script)) as (_, url):
        port = url.split(":")[2].split("/")[0]
        session = Session.open(settings_at(url, max_retries=2), cwd=repo, record=False, sleep=sleep)
        first = await answered_turn(session, "read a.py")
        assert ended(first) == "completed"
        assert requests_of(first) == [("websocket", False), ("websocket", True)]

    # The server is gone: WebSocket uses up its retries, HTTP/SSE fails too, the turn fails.
    down = await answered_turn(session, "read a.py again")
    assert ended(down) == "error"
    assert switches(down) == [("http", "retries_exhausted")]
    assert session.stats().transport == "http"

    with running("serve", "--port", port, "--script", str(script)):
        back = await answered_turn(session, "and once more")
        assert ended(back) == "completed"
        assert switches(back) == [("websocket", "websocket_retry")]
        assert requests_of(back) == [("websocket", False), ("websocket", True)], "a full resend, then a chain"
        after = await answered_turn(session, "and again")
        assert switches(after) == []
        assert requests_of(after) == [("websocket", True), ("websocket", True)]
        stats = session.stats()
    await session.close()
    assert stats.transport == "websocket" and stats.fallback_reason is None
    assert [(s.from_transport, s.to_transport, s.cause) for s in stats.transport_switches] == [
        ("websocket", "http", "retries_exhausted"),
        ("http", "websocket", "websocket_retry"),
    ]


# ---- backoff across turns, with an in-process server ------------------------------------------


def client_for(server, *, max_retries: int = 1) -> ModelClient:
    socket_ = ResponsesSocket(server.address.websocket_url, "sk-test")
    http = ResponsesHTTP(server.address.base_url + "/responses", "sk-test", idle_timeout=5)
    return ModelClient(websocket=socket_, http=http, max_retries=max_retries, sleep=SleepRecorder())


def new_conversation() -> Conversation:
    return Conversation(RequestSettings.build(model="m", instructions="Be brief.", tools=[], store=False))


async def user_turn(client: ModelClient, conversation: Conversation, text: str) -> list[Any]:
    from agent.wire import user_message

    conversation.add(user_message(text))
    seen = [item async for item in client.respond(conversation, turn_start=True)]
    assert isinstance(seen[-1], ResponseResult) and seen[-1].status == "completed"
    return seen


def transports_tried(seen: list[Any]) -> list[str]:
    return [item.plan.transport for item in seen if isinstance(item, RequestStarted)]


async def test_failed_tries_wait_1_2_4_turns_and_a_turn_on_websocket_resets_the_wait(start_server):
    server = start_server(Scenario(name="open", model="m"))
    server.state.faults.add(Fault(kind="reject_upgrade", status=503, times=0))
    client, conversation = client_for(server), new_conversation()
    causes: list[list[str]] = []
    for turn in range(8):
        seen = await user_turn(client, conversation, f"turn {turn}")
        causes.append([item.cause for item in seen if isinstance(item, TransportSwitched)])
        assert transports_tried(seen) == ["http"]
    # Turn 0 falls back after its retries; then tries at turns 1, 3 and 7 (waits of 1, 2, 4).
    assert causes[0] == ["retries_exhausted"]
    assert [index for index, found in enumerate(causes) if "websocket_retry" in found] == [1, 3, 7]
    assert causes[1] == causes[3] == causes[7] == ["websocket_retry", "websocket_still_failing"]
    assert "in 8 turns" in client.switches[-1].reason

    server.state.faults.clear()
    waited = [await user_turn(client, conversation, f"later {n}") for n in range(8)]
    back = next(index for index, seen in enumerate(waited) if "websocket" in transports_tried(seen))
    assert back == 7, "the next try comes after the announced wait"
    assert isinstance(waited[back][0], CameBack)
    assert [
        (item.plan.transport, item.plan.incremental) for item in waited[back] if isinstance(item, RequestStarted)
    ] == [("websocket", False)]
    seen = await user_turn(client, conversation, "on websocket")
    [started] = [item for item in seen if isinstance(item, RequestStarted)]
    assert started.plan.transport == "websocket" and started.plan.incremental
    assert client.returns.interval == 1, "a turn that stayed on WebSocket resets the wait"
    await client.close()


def test_the_schedule_doubles_to_its_cap_and_resets():
    schedule = ReturnSchedule(max_interval=4)
    schedule.fell_back()
    assert schedule.due()
    waits = []
    for _ in range(4):
        schedule.try_failed()
        waits.append(schedule.turns_left)
        while not schedule.due():
            pass
    assert waits == [2, 4, 4, 4]
    schedule.settled()
    schedule.fell_back()
    assert schedule.due()
    schedule.stop()
    assert not schedule.due()


@pytest.mark.parametrize("status", [404, 405, 426])
async def test_an_endpoint_without_websocket_mode_stays_on_http(start_server, status):
    server = start_server(Scenario(name="open", model="m"))
    server.state.faults.add(Fault(kind="reject_upgrade", status=status, times=1))
    client, conversation = client_for(server), new_conversation()
    first = await user_turn(client, conversation, "hello")
    [fell] = [item for item in first if isinstance(item, FellBack)]
    assert fell.permanent and fell.cause == f"upgrade_refused_{status}" and f"HTTP {status}" in fell.reason
    for turn in range(4):  # the upgrade would now succeed: it is never tried again
        assert transports_tried(await user_turn(client, conversation, f"turn {turn}")) == ["http"]
    assert server.state.connections_opened == 0
    assert [(s.to_transport, s.permanent) for s in client.switches] == [("http", True)]
    await client.close()


async def test_a_refused_warm_up_sends_nothing_over_http_and_the_first_turn_says_so(start_server):
    server = start_server(Scenario(name="open", model="m"))
    server.state.faults.add(Fault(kind="reject_upgrade", status=426, times=1))
    client, conversation = client_for(server), new_conversation()
    assert await client.warm_up(conversation) is None
    assert [entry.transport for entry in server.state.received] == []
    seen = await user_turn(client, conversation, "hello")
    assert isinstance(seen[0], FellBack) and seen[0].permanent
    assert transports_tried(seen) == ["http"]
    await client.close()


# ---- a Starlette Responses server with no WebSocket route ---------------------------------------


def sse_app(*, serve_responses: bool = True) -> tuple[Starlette, dict[str, int]]:
    """An HTTP-only Responses server: `POST /v1/responses` answers one message over SSE. A
    WebSocket upgrade finds no route, which Starlette (under uvicorn) answers with HTTP 403."""
    seen = {"websocket": 0, "http": 0}

    async def responses(request: Request) -> StreamingResponse:
        seen["http"] += 1
        body = await request.json()
        assert "generate" not in body, "a warm-up is never sent over HTTP"

        async def events() -> AsyncIterator[bytes]:
            for event in response_events(message(f"Answer {seen['http']} over HTTP.")):
                yield b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    app = Starlette(routes=[Route("/v1/responses", responses, methods=["POST"])] if serve_responses else [])

    async def counting(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            seen["websocket"] += 1
        await app(scope, receive, send)

    return counting, seen  # type: ignore[return-value]


@contextmanager
def serving_asgi(app: Any) -> Iterator[str]:
    """Run `app` under uvicorn on a loopback port in a thread; its `/v1` base URL."""
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_config=None, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            threading.Event().wait(0.01)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


async def test_a_starlette_server_without_websocket_works_with_the_default_settings(repo):
    app, seen = sse_app()
    with serving_asgi(app) as url:
        settings = Settings(base_url=url, model="scripted-test", api_key="sk-test-abcdefghijklmnopqrstuvwxyz012345")
        session = await asyncio.to_thread(Session.open, settings, cwd=repo, record=False)
        await session.warm_up()
        first = await answered_turn(session, "hello")
        second = await answered_turn(session, "again")
        stats = session.stats()
        await session.close()
    assert ended(first) == ended(second) == "completed"
    [changed] = [event for event in first if isinstance(event, TransportChanged)]
    assert changed.transport == "http" and changed.permanent and changed.cause == "upgrade_refused_403"
    assert "refused WebSocket (HTTP 403) and answers over HTTP" in changed.reason
    assert switches(second) == []
    assert requests_of(second) == [("http", False)]
    assert seen["websocket"] == 2, "the warm-up and the first turn; never again"
    assert seen["http"] == 2
    assert stats.transport == "http" and "403" in (stats.fallback_reason or "")


async def test_a_403_from_a_server_without_http_responses_reports_both(repo):
    app, seen = sse_app(serve_responses=False)
    with serving_asgi(app) as url:
        session = await asyncio.to_thread(Session.open, settings_at(url), cwd=repo, record=False)
        events = await answered_turn(session, "hello")
        again = await answered_turn(session, "hello again")
        stats = session.stats()
        await session.close()
    assert ended(events) == "error"
    [end] = [event for event in events if isinstance(event, TurnEnded)]
    assert "HTTP 403" in end.message and "404" in end.message
    assert switches(events) == []
    assert seen["websocket"] == 2, "each turn starts on WebSocket again"
    assert ended(again) == "error" and stats.transport == "websocket"


async def test_an_http_failure_after_a_403_is_a_model_error_naming_both(start_server):
    server = start_server(Scenario(name="open", model="m"))
    server.state.faults.add(Fault(kind="reject_upgrade", status=403, times=1))
    server.state.faults.add(
        Fault(
            kind="error",
            transport="http",
            error={"status": 400, "error": {"type": "invalid_request_error", "code": "bad", "message": "No."}},
        )
    )
    client, conversation = client_for(server), new_conversation()
    from agent.wire import user_message

    conversation.add(user_message("hello"))
    with pytest.raises(ModelError) as raised:
        [item async for item in client.respond(conversation, turn_start=True)]
    assert "HTTP 403" in str(raised.value) and "No." in str(raised.value)
    assert client.transport is client.websocket and client.switches == []
    await client.close()


def test_the_stats_panel_lists_the_switches():
    stats = SessionStats(
        transport="websocket",
        transport_switches=[
            TransportSwitch(
                at=3, from_transport="websocket", to_transport="http", cause="retries_exhausted", reason="r"
            ),
            TransportSwitch(at=9, from_transport="http", to_transport="websocket", cause="websocket_retry", reason="r"),
        ],
    )
    text = connection_text(stats).plain
    assert "transport switches 2" in text
    assert "websocket → http (retries_exhausted)" in text and "http → websocket (websocket_retry)" in text


def test_a_saved_transport_change_without_a_cause_still_reads(tmp_path: Path):
    from pydantic import TypeAdapter

    from agent.events import AgentEvent

    event = TypeAdapter(AgentEvent).validate_python({"type": "transport_changed", "transport": "http", "reason": "x"})
    assert isinstance(event, TransportChanged) and event.cause == "" and not event.permanent
