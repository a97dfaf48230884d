"""`ModelClient`: its failure policy against a real server on a loopback port, and its one
result per response over an in-process scripted transport."""

from __future__ import annotations

import pytest

from agent.conversation import Conversation, RequestSettings
from agent.model_client import (
    FellBack,
    ModelClient,
    ModelError,
    RequestStarted,
    ResponseResult,
    Retrying,
    backoff_delay,
)
from agent.transport import ResponsesHTTP, ResponsesSocket
from agent.transport.scripted import ScriptedTransport, function_call, message, response_events
from agent.wire import FunctionCallOutput, user_message
from server.faults import Fault


class SleepRecorder:
    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def client_for(server, *, websocket=True, max_retries=3, sleep=None, **socket_options):
    socket = ResponsesSocket(server.address.websocket_url, "sk-test", **socket_options) if websocket else None
    http = ResponsesHTTP(server.address.base_url + "/responses", "sk-test", idle_timeout=5)
    return ModelClient(websocket=socket, http=http, max_retries=max_retries, sleep=sleep or SleepRecorder())


def new_conversation(store: bool = False) -> Conversation:
    conversation = Conversation(RequestSettings.build(model="m", instructions="Be brief.", tools=[], store=store))
    conversation.add(user_message("please read a.py"))
    return conversation


async def respond(client: ModelClient, conversation: Conversation, **options) -> list:
    """Run one response (the client commits it) and return everything it yielded."""
    return [item async for item in client.respond(conversation, **options)]


def sent_bodies(server, transport="websocket"):
    return [entry.body for entry in server.state.received if entry.transport == transport]


def notices(seen):
    return [item for item in seen if isinstance(item, Retrying | FellBack)]


async def test_second_request_is_incremental_on_the_same_socket(server):
    client, conversation = client_for(server), new_conversation()
    await respond(client, conversation, turn_start=True)
    conversation.add(FunctionCallOutput(call_id="call_a", output="hello"))
    seen = await respond(client, conversation)
    [started] = [item for item in seen if isinstance(item, RequestStarted)]
    assert started.plan.incremental and started.plan.items_sent == 1
    first, second = sent_bodies(server)
    assert "previous_response_id" not in first and len(first["input"]) == 1
    assert second["previous_response_id"] and second["input"] == [
        {"type": "function_call_output", "call_id": "call_a", "output": "hello"}
    ]
    assert second["instructions"] == "Be brief."
    await client.close()


async def test_a_drop_mid_stream_reconnects_and_resends_in_full(server):
    client, conversation = client_for(server), new_conversation()
    await respond(client, conversation, turn_start=True)
    conversation.add(FunctionCallOutput(call_id="call_a", output="hello"))
    server.state.faults.add(Fault(kind="close", after_events=4))
    seen = await respond(client, conversation)
    assert [(n.attempt, n.cause) for n in notices(seen)] == [(1, "closed_1011")]
    *_, dropped, resent = sent_bodies(server)
    assert dropped["previous_response_id"]
    assert "previous_response_id" not in resent and len(resent["input"]) == 4
    assert seen[-1].event["type"] == "response.completed"
    assert client.websocket.generation == 2
    assert [r.cause for r in client.reconnects] == ["closed_1011"]


async def test_previous_response_not_found_triggers_one_full_resend(server):
    client, conversation = client_for(server), new_conversation()
    await respond(client, conversation, turn_start=True)
    conversation.add(FunctionCallOutput(call_id="call_a", output="hello"))
    server.state.faults.add(Fault(kind="forget"))
    seen = await respond(client, conversation)
    assert [(n.attempt, n.delay_s, n.cause) for n in notices(seen)] == [(0, 0.0, "previous_response_not_found")]
    *_, rejected, resent = sent_bodies(server)
    assert rejected["previous_response_id"] and "previous_response_id" not in resent
    assert seen[-1].event["type"] == "response.completed"
    assert client.websocket.generation == 1, "the same socket is kept"


async def test_connection_limit_reconnects_once_and_resends(server):
    limit = {
        "status": 400,
        "error": {
            "type": "invalid_request_error",
            "code": "websocket_connection_limit_reached",
            "message": "Responses websocket connection limit reached (60 minutes).",
        },
    }
    client, conversation = client_for(server), new_conversation()
    await respond(client, conversation, turn_start=True)
    conversation.add(FunctionCallOutput(call_id="call_a", output="hello"))
    server.state.faults.add(Fault(kind="error", error=limit))
    sleep = client._sleep
    seen = await respond(client, conversation)
    assert [(n.attempt, n.cause) for n in notices(seen)] == [(0, "websocket_connection_limit_reached")]
    assert sleep.delays == []
    assert client.websocket.generation == 2
    assert "previous_response_id" not in sent_bodies(server)[-1]


async def test_an_idle_socket_closed_by_the_server_is_replaced(start_server):
    server = start_server(max_connection_minutes=0.3 / 60)
    client, conversation = client_for(server), new_conversation()
    await respond(client, conversation, turn_start=True)
    import asyncio

    await asyncio.sleep(0.6)
    conversation.add(FunctionCallOutput(call_id="call_a", output="hello"))
    seen = await respond(client, conversation)
    assert seen[-1].event["type"] == "response.completed"
    started = [item for item in seen if isinstance(item, RequestStarted)]
    assert started[-1].plan.reason == "new socket"


async def test_429_on_the_upgrade_waits_at_least_retry_after(server):
    server.state.faults.add(Fault(kind="reject_upgrade", status=429, retry_after=3))
    sleep = SleepRecorder()
    client = client_for(server, sleep=sleep)
    seen = await respond(client, new_conversation(), turn_start=True)
    assert len(sleep.delays) == 1 and 3 <= sleep.delays[0] <= 3.25
    assert notices(seen)[0].cause == "rate_limited"
    assert seen[-1].event["type"] == "response.completed"


async def test_401_fails_fast_with_a_clear_message(start_server):
    server = start_server(api_key="sk-right")
    sleep = SleepRecorder()
    client = client_for(server, sleep=sleep)
    try:
        await respond(client, new_conversation(), turn_start=True)
    except ModelError as exc:
        assert exc.code == "unauthorized" and "API key" in str(exc)
    else:
        raise AssertionError("expected a ModelError")
    assert sleep.delays == []


async def test_426_falls_back_to_http_for_the_rest_of_the_session(server):
    server.state.faults.add(Fault(kind="reject_upgrade", status=426))
    client, conversation = client_for(server), new_conversation()
    seen = await respond(client, conversation, turn_start=True)
    assert isinstance(notices(seen)[0], FellBack)
    assert seen[-1].event["type"] == "response.completed"
    assert client.transport.name == "http" and "426" in client.fallback_reason
    conversation.add(FunctionCallOutput(call_id="call_a", output="hello"))
    seen = await respond(client, conversation)
    assert [item.plan.reason for item in seen if isinstance(item, RequestStarted)] == ["HTTP without store"]
    assert len(sent_bodies(server, "http")) == 2


async def test_a_websocket_that_keeps_failing_falls_back_to_http(server):
    server.state.faults.add(Fault(kind="close", after_events=2, times=0, transport="websocket"))
    client = client_for(server, max_retries=2)
    seen = await respond(client, new_conversation(), turn_start=True)
    kinds = [type(n).__name__ for n in notices(seen)]
    assert kinds == ["Retrying", "Retrying", "FellBack"]
    assert seen[-1].event["type"] == "response.completed"
    assert "kept failing" in client.fallback_reason


async def test_a_stalled_server_is_retried(server):
    server.state.faults.add(Fault(kind="stall", after_events=3))
    client = client_for(server, idle_timeout=0.5)
    seen = await respond(client, new_conversation(), turn_start=True)
    assert notices(seen)[0].cause == "stalled"
    assert seen[-1].event["type"] == "response.completed"


async def test_a_frame_over_the_limit_fails_without_a_reconnect_storm(server):
    server.state.faults.add(Fault(kind="oversize", after_events=2, size_bytes=2 * 1024 * 1024, times=0))
    client = client_for(server, max_size=1024 * 1024)
    try:
        await respond(client, new_conversation(), turn_start=True)
    except ModelError as exc:
        assert exc.code == "frame_too_large"
    else:
        raise AssertionError("expected a ModelError")
    assert server.state.connections_opened == 1


async def test_server_errors_are_retried_but_quota_errors_are_not(server):
    server.state.faults.add(Fault(kind="error", after_events=1))
    client = client_for(server)
    seen = await respond(client, new_conversation(), turn_start=True)
    assert notices(seen)[0].cause == "server_error"
    assert seen[-1].event["type"] == "response.completed"

    quota = {
        "status": 429,
        "error": {"type": "insufficient_quota", "code": "insufficient_quota", "message": "No quota."},
    }
    server.state.faults.add(Fault(kind="error", error=quota))
    try:
        await respond(client, new_conversation(), turn_start=True)
    except ModelError as exc:
        assert exc.code == "insufficient_quota" and "No quota" in str(exc)
    else:
        raise AssertionError("expected a ModelError")


async def test_retries_are_bounded(server):
    server.state.faults.add(Fault(kind="close", after_events=1, times=0))
    client = client_for(server, websocket=False, max_retries=2)
    try:
        await respond(client, new_conversation(), turn_start=True)
    except ModelError as exc:
        assert "Gave up after 2 retries" in str(exc)
    else:
        raise AssertionError("expected a ModelError")
    assert len(client.reconnects) == 2


async def test_http_chains_through_the_store_when_store_is_on(server):
    client, conversation = client_for(server, websocket=False), new_conversation(store=True)
    await respond(client, conversation, turn_start=True)
    conversation.add(FunctionCallOutput(call_id="call_a", output="hello"))
    seen = await respond(client, conversation)
    assert [item.plan.incremental for item in seen if isinstance(item, RequestStarted)] == [True]
    assert seen[-1].response["usage"]["input_tokens_details"]["cached_tokens"] > 0


def test_backoff_grows_and_is_capped():
    assert [backoff_delay(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]


# ---- one response, one result: over an in-process scripted transport ------------------------------


def scripted_client(*script, max_retries=3):
    transport = ScriptedTransport(script)
    sleep = SleepRecorder()
    return ModelClient(
        websocket=transport, http=ScriptedTransport(name="http"), max_retries=max_retries, sleep=sleep
    ), (
        transport,
        sleep,
    )


async def test_the_client_stamps_the_moments_commits_and_ends_with_one_result():
    events = response_events(message("Hi there."), function_call("read_file", "c1", {"path": "a.py"}))
    client, _ = scripted_client(events)
    conversation = new_conversation()
    seen = await respond(client, conversation, turn_start=True)
    result = seen[-1]
    assert isinstance(result, ResponseResult)
    assert [item for item in seen if isinstance(item, ResponseResult)] == [result]
    assert not any(isinstance(item, dict) and item["type"] == "response.completed" for item in seen)
    metrics = result.metrics
    assert metrics.sent_at <= metrics.created_at <= metrics.first_token_at <= metrics.finished_at
    assert result.status == "completed" and result.response_id == events[-1]["response"]["id"]
    assert result.text == "Hi there." and [call.call_id for call in result.calls] == ["c1"]
    assert result.usage is not None and result.usage.input_tokens == 10
    assert result.stats.first_token_s == metrics.first_token_at - metrics.sent_at
    assert result.stats.input_tokens == 10 and result.stats.status == "completed"
    assert conversation.chained_response_id == result.response_id
    assert [item.type for item in conversation.items] == ["message", "message", "function_call"]


async def test_a_failed_response_breaks_the_chain_and_is_not_committed():
    refused = {"code": "invalid_prompt", "message": "The model failed."}  # server_error would be retried
    client, _ = scripted_client(response_events(message("no"), status="failed", error=refused))
    conversation = new_conversation()
    result = (await respond(client, conversation))[-1]
    assert result.status == "failed" and "The model failed." in result.failure
    assert conversation.chained_response_id is None and len(conversation.items) == 1


async def test_unreadable_output_items_fail_the_response():
    events = response_events(message("x"))
    events[-1]["response"]["output"] = [{"type": "function_call", "name": "f"}]  # no call_id, no arguments
    client, _ = scripted_client(events)
    result = (await respond(client, new_conversation()))[-1]
    assert result.status == "failed" and result.response["error"]["code"] == "invalid_output"


async def test_an_error_event_with_try_again_in_waits_at_least_that_long():
    limited = {
        "type": "error",
        "status": 429,
        "error": {"type": "tokens", "code": "rate_limit_exceeded", "message": "Please try again in 2.5s."},
    }
    client, (_, sleep) = scripted_client([limited], response_events(message("ok")))
    seen = await respond(client, new_conversation())
    assert [(n.attempt, n.cause) for n in notices(seen)] == [(1, "rate_limit_exceeded")]
    assert sleep.delays[0] >= 2.5 and seen[-1].retries == 1


async def test_an_error_event_that_cannot_succeed_is_a_model_error():
    refused = {"type": "error", "code": "invalid_prompt", "message": "Bad input.", "status_code": 400}
    client, _ = scripted_client([refused])
    with pytest.raises(ModelError) as raised:
        await respond(client, new_conversation())
    assert raised.value.code == "invalid_prompt" and raised.value.status == 400 and "Bad input." in str(raised.value)


async def test_closing_the_response_before_its_result_breaks_the_chain():
    client, _ = scripted_client(response_events(message("one")), response_events(message("two " * 50)))
    conversation = new_conversation()
    await respond(client, conversation)
    assert conversation.chained_response_id
    stream = client.respond(conversation)
    async for item in stream:
        if isinstance(item, dict) and item["type"] == "response.output_text.delta":
            break
    await stream.aclose()
    assert conversation.chained_response_id is None


async def test_warm_up_is_labelled_and_http_sessions_skip_it():
    client, (transport, _) = scripted_client(response_events())
    conversation = new_conversation()
    result = await client.warm_up(conversation)
    assert result is not None and result.stats.status == "warm-up" and result.stats.items_sent == 0
    assert transport.requests[0]["generate"] is False and conversation.chained_response_id
    http_only = ModelClient(websocket=None, http=ScriptedTransport(name="http"))
    assert await http_only.warm_up(conversation) is None


async def test_max_output_tokens_is_a_request_setting():
    client, (transport, _) = scripted_client(response_events(message("ok")))
    conversation = Conversation(RequestSettings.build(model="m", instructions=None, tools=[], max_output_tokens=321))
    conversation.add(user_message("hi"))
    await respond(client, conversation)
    assert transport.requests[0]["max_output_tokens"] == 321
    assert "max_output_tokens" not in new_conversation().settings.body_fields()


async def test_a_response_that_cannot_be_had_leaves_its_own_reason_for_the_next_request():
    refused = {"type": "error", "code": "invalid_prompt", "message": "Bad input.", "status_code": 400}
    client, _ = scripted_client([refused], response_events(message("ok")))
    conversation = new_conversation()
    with pytest.raises(ModelError):
        await respond(client, conversation)
    seen = await respond(client, conversation)
    [started] = [item for item in seen if isinstance(item, RequestStarted)]
    assert started.plan.reason == "invalid_prompt"


def test_every_terminal_event_has_a_status_and_only_committed_ones_succeed():
    from agent.model_client import _STATUS
    from agent.wire.event_types import COMMITTED_TERMINALS, TERMINALS

    assert set(_STATUS) == TERMINALS
    assert {kind for kind, status in _STATUS.items() if status != "failed"} == COMMITTED_TERMINALS
    assert _STATUS["response.done"] == _STATUS["response.completed"] == "completed"
    assert _STATUS["response.incomplete"] == "incomplete"


def failed(code: str, text: str = "The server had an error.") -> list[dict]:
    return response_events(message("partial"), status="failed", error={"code": code, "message": text})


async def test_a_response_failed_with_a_server_error_is_retried_with_backoff_and_a_full_resend():
    client, (transport, sleep) = scripted_client(failed("server_error"), response_events(message("ok")))
    conversation = new_conversation()
    conversation.add(FunctionCallOutput(call_id="call_a", output="hello"))
    seen = await respond(client, conversation)
    result = seen[-1]
    assert result.status == "completed" and result.text == "ok" and result.retries == 1
    assert [(n.attempt, n.cause) for n in notices(seen)] == [(1, "server_error")]
    assert len(sleep.delays) == 1 and sleep.delays[0] > 0
    first, resent = transport.requests
    assert "previous_response_id" not in resent and resent["input"] == first["input"]
    assert [r.cause for r in client.reconnects] == ["server_error"]


@pytest.mark.parametrize("code", ["server_error", "server_is_overloaded", "rate_limit_exceeded"])
async def test_retryable_response_failures_are_bounded_by_max_retries_and_end_failed(code):
    client, (transport, _) = scripted_client(*[failed(code) for _ in range(3)], max_retries=2)
    seen = await respond(client, new_conversation())
    result = seen[-1]
    assert isinstance(result, ResponseResult) and result.status == "failed" and result.retries == 2
    assert "The server had an error." in result.failure
    assert len(notices(seen)) == 2 and len(transport.requests) == 3 and transport.remaining == 0


@pytest.mark.parametrize("code", ["context_length_exceeded", "invalid_prompt", "insufficient_quota"])
async def test_a_response_failed_that_cannot_succeed_is_not_retried(code):
    client, (transport, sleep) = scripted_client(failed(code), response_events(message("never")))
    seen = await respond(client, new_conversation())
    assert seen[-1].status == "failed" and not notices(seen) and not sleep.delays
    assert len(transport.requests) == 1


async def test_a_malformed_event_is_a_protocol_error_that_is_retried():
    events = response_events(function_call("read_file", "c1", {"path": "a.py"}))
    bad = [
        {**event, "item": "notadict"} if event["type"] == "response.output_item.added" else event for event in events
    ]
    client, _ = scripted_client(bad, response_events(message("ok")))
    seen = await respond(client, new_conversation())
    assert [(n.attempt, n.cause) for n in notices(seen)] == [(1, "malformed_event")]
    assert seen[-1].status == "completed" and seen[-1].text == "ok"


@pytest.mark.parametrize(
    "event",
    [
        {"type": "error", "code": 5, "message": "odd"},
        {"type": "error", "status": "x", "error": {"code": ["a"], "message": 7}},
        {"type": "error", "error": "nope", "headers": {"retry-after": "inf"}},
    ],
)
async def test_an_error_event_with_wrongly_typed_fields_is_still_an_error(event):
    client, _ = scripted_client([event])
    with pytest.raises(ModelError):
        await respond(client, new_conversation())


async def test_the_loop_shows_the_retry_of_a_failed_response_and_the_turn_completes(tmp_path):
    from agent.events import OutputDiscarded, Reconnecting, TurnEnded
    from tests.agent.scripted import scripted_agent

    agent, transport = scripted_agent(tmp_path, failed("server_is_overloaded"), response_events(message("ok")))
    events = [event async for event in agent.run_turn("go")]
    assert [type(e) for e in events if isinstance(e, OutputDiscarded | Reconnecting)] == [OutputDiscarded, Reconnecting]
    assert [e for e in events if isinstance(e, TurnEnded)] == [events[-1]] and events[-1].reason == "completed"
    assert len(transport.requests) == 2
