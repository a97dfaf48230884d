"""`ResponsesHTTP` against a real server on a loopback port."""

from __future__ import annotations

import asyncio

import pytest

from agent.transport import (
    AuthenticationFailed,
    ProtocolViolation,
    ResponsesHTTP,
    StreamInterrupted,
    StreamMetrics,
    StreamStalled,
    TransportAborted,
)
from server.faults import Fault

BODY = {"model": "m", "input": [{"role": "user", "content": "read a.py"}], "store": False}


async def collect(transport: ResponsesHTTP, body=BODY) -> tuple[list[dict], StreamMetrics]:
    metrics = StreamMetrics()
    events = [event async for event in transport.stream(body, metrics)]
    return events, metrics


def http_for(server, key="sk-test", **options) -> ResponsesHTTP:
    return ResponsesHTTP(server.address.base_url + "/responses", key, **options)


async def test_streams_the_same_events_as_the_socket_and_counts_the_body(server):
    transport = http_for(server)
    events, metrics = await collect(transport)
    await transport.close()
    assert events[0]["type"] == "response.created" and events[-1]["type"] == "response.completed"
    [received] = list(server.state.received)
    assert metrics.bytes_sent == received.size
    assert received.body["stream"] is True
    assert metrics.events == len(events)


async def test_an_http_error_becomes_an_error_event(server):
    body = {**BODY, "previous_response_id": "resp_missing"}
    events, _ = await collect(http_for(server), body)
    assert events == [
        {
            "type": "error",
            "status": 400,
            "error": {
                "type": "invalid_request_error",
                "code": "previous_response_not_found",
                "message": "Previous response with id 'resp_missing' not found.",
                "param": "previous_response_id",
            },
            "headers": {},
        }
    ]


async def test_401_is_an_authentication_failure(start_server):
    server = start_server(api_key="sk-right")
    with pytest.raises(AuthenticationFailed):
        await collect(http_for(server, key="sk-wrong"))


async def test_a_body_that_ends_early_is_interrupted(server):
    server.state.faults.add(Fault(kind="close", after_events=3))
    with pytest.raises(StreamInterrupted):
        await collect(http_for(server))


async def test_a_stalled_stream_times_out(server):
    server.state.faults.add(Fault(kind="stall", after_events=2))
    with pytest.raises(StreamStalled):
        await collect(http_for(server, idle_timeout=0.5))


async def test_an_event_that_is_not_json_is_a_protocol_violation(server):
    server.state.faults.add(Fault(kind="malformed", after_events=2))
    with pytest.raises(ProtocolViolation):
        await collect(http_for(server))


async def test_abort_abandons_the_stream(start_server):
    from tests.conftest import tool_scenario

    server = start_server(tool_scenario(tokens_per_second=20))
    transport = http_for(server)
    task = asyncio.create_task(collect(transport))
    await asyncio.sleep(0.3)
    await transport.abort()
    with pytest.raises(TransportAborted):
        await task
    events, _ = await collect(transport)
    assert events[-1]["type"] == "response.completed"


async def test_the_keep_alive_connection_is_reused_between_requests(server):
    transport = http_for(server)
    await collect(transport)
    await collect(transport)
    await transport.close()
    first, second = (entry.connection for entry in server.state.received)
    assert first == second, "both requests travelled on one pooled connection"
