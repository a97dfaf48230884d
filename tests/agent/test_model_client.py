"""`ModelClient`'s failure policy, against a real server on a loopback port."""

from __future__ import annotations

from pydantic import TypeAdapter

from agent.conversation import Conversation, RequestSettings
from agent.model_client import FellBack, ModelClient, ModelError, RequestStarted, Retrying, backoff_delay
from agent.transport import ResponsesHTTP, ResponsesSocket
from agent.wire import FunctionCallOutput, Item, user_message
from server.faults import Fault

ITEMS = TypeAdapter(list[Item])


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
