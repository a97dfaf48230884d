"""`ResponsesSocket` against a real server on a loopback port."""

from __future__ import annotations

import asyncio

import pytest

from agent.transport import (
    AuthenticationFailed,
    FrameTooLarge,
    ProtocolViolation,
    RateLimited,
    ResponsesSocket,
    StreamInterrupted,
    StreamMetrics,
    StreamStalled,
    TransportAborted,
    TransportError,
    WebSocketUnsupported,
)
from server.faults import Fault

BODY = {"model": "m", "input": [{"role": "user", "content": "read a.py"}], "store": False}


async def collect(socket: ResponsesSocket, body=BODY) -> tuple[list[dict], StreamMetrics]:
    metrics = StreamMetrics()
    events = [event async for event in socket.stream(body, metrics)]
    return events, metrics


def socket_for(server, **options) -> ResponsesSocket:
    return ResponsesSocket(server.address.websocket_url, "sk-test", **options)


async def test_streams_until_the_terminal_event_and_counts_bytes_like_the_server(server):
    socket = socket_for(server)
    frames = []
    socket.on_frame = lambda direction, raw, t: frames.append((direction, raw))
    events, metrics = await collect(socket)
    await socket.close()
    assert events[-1]["type"] == "response.completed"
    assert metrics.events == len(events)
    [received] = list(server.state.received)
    assert metrics.bytes_sent == received.size
    assert metrics.bytes_received == sum(len(raw) for d, raw in frames if d == "received")
    assert frames[0][0] == "sent" and len(frames) == len(events) + 1
    assert metrics.connect_s is not None and metrics.transport == "websocket"


async def test_the_socket_is_reused_across_requests(server):
    socket = socket_for(server)
    await collect(socket)
    await collect(socket)
    assert socket.generation == 1
    assert server.state.connections_opened == 1
    await socket.close()


@pytest.mark.parametrize(
    ("status", "error"),
    [(401, AuthenticationFailed), (426, WebSocketUnsupported), (404, WebSocketUnsupported), (429, RateLimited)],
)
async def test_handshake_refusals_become_typed_errors(server, status, error):
    server.state.faults.add(Fault(kind="reject_upgrade", status=status, retry_after=2))
    with pytest.raises(error) as raised:
        await collect(socket_for(server))
    if status == 429:
        assert raised.value.retry_after == 2
    assert raised.value.retryable is (status == 429)


async def test_a_server_error_on_the_handshake_is_retryable(server):
    server.state.faults.add(Fault(kind="reject_upgrade", status=503))
    with pytest.raises(TransportError) as raised:
        await collect(socket_for(server))
    assert raised.value.retryable


async def test_nothing_listening_is_a_retryable_connect_failure():
    socket = ResponsesSocket("ws://127.0.0.1:9/v1/responses", None, open_timeout=2)
    with pytest.raises(TransportError) as raised:
        await collect(socket)
    assert raised.value.cause == "connect_failed" and raised.value.retryable


async def test_a_close_before_the_terminal_event_is_an_error_not_an_end(server):
    server.state.faults.add(Fault(kind="close", after_events=4))
    socket = socket_for(server)
    with pytest.raises(StreamInterrupted) as raised:
        await collect(socket)
    assert raised.value.cause == "closed_1011"
    events, _ = await collect(socket)
    assert events[-1]["type"] == "response.completed"
    assert socket.generation == 2


async def test_a_stalled_server_trips_the_idle_watchdog(server):
    server.state.faults.add(Fault(kind="stall", after_events=2))
    socket = socket_for(server, idle_timeout=0.5, ping_interval=0.2, ping_timeout=5)
    with pytest.raises(StreamStalled):
        await collect(socket)
    assert not socket.connected


async def test_frames_over_one_mebibyte_are_accepted(server):
    server.state.faults.add(Fault(kind="oversize", after_events=2, size_bytes=3 * 1024 * 1024))
    events, metrics = await collect(socket_for(server))
    assert any(e["type"] == "codeassist.padding" for e in events)
    assert events[-1]["type"] == "response.completed"
    assert metrics.bytes_received > 3 * 1024 * 1024


async def test_a_frame_over_the_limit_is_a_clean_error(server):
    server.state.faults.add(Fault(kind="oversize", after_events=2, size_bytes=2 * 1024 * 1024))
    with pytest.raises(FrameTooLarge) as raised:
        await collect(socket_for(server, max_size=1024 * 1024))
    assert not raised.value.retryable


async def test_a_frame_that_is_not_json_is_a_protocol_violation(server):
    server.state.faults.add(Fault(kind="malformed", after_events=3))
    socket = socket_for(server)
    with pytest.raises(ProtocolViolation):
        await collect(socket)
    assert not socket.connected


async def test_unknown_events_pass_through(server):
    server.state.faults.add(Fault(kind="oversize", after_events=1, size_bytes=100))
    events, _ = await collect(socket_for(server))
    assert "codeassist.padding" in [e["type"] for e in events]


async def test_a_connection_level_error_discards_the_socket(server):
    limit = {
        "status": 400,
        "error": {"type": "invalid_request_error", "code": "websocket_connection_limit_reached", "message": "limit"},
    }
    server.state.faults.add(Fault(kind="error", after_events=0, error=limit))
    socket = socket_for(server)
    events, _ = await collect(socket)
    assert events[-1]["error"]["code"] == "websocket_connection_limit_reached"
    assert not socket.connected


async def test_rotation_happens_only_when_allowed(server):
    socket = socket_for(server, max_age=0.05)
    await collect(socket)
    await asyncio.sleep(0.1)
    assert socket.needs_rotation()
    await collect(socket)
    assert socket.generation == 1, "a request in flight never rotates the socket"
    assert await socket.ensure_connected(allow_rotation=True)
    assert socket.generation == 2
    await socket.close()


async def test_abort_abandons_the_response_in_flight(start_server):
    from tests.conftest import tool_scenario

    server = start_server(tool_scenario(tokens_per_second=20))
    socket = socket_for(server)

    async def consume():
        return await collect(socket)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.3)
    await socket.abort()
    with pytest.raises(TransportAborted):
        await task
    events, _ = await collect(socket)
    assert events[-1]["type"] == "response.completed"
    assert socket.generation == 2
