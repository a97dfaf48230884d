"""`ScriptedTransport`: plays scripted responses and failures in process, like a real transport."""

from __future__ import annotations

import pytest

from agent.transport import StreamInterrupted, StreamMetrics, TransportAborted, TransportError
from agent.transport.scripted import ScriptedFailure, ScriptedTransport, function_call, message, response_events


async def play(transport: ScriptedTransport, body: dict | None = None) -> tuple[list[dict], StreamMetrics]:
    metrics = StreamMetrics()
    await transport.prepare(metrics, turn_start=True)
    return [event async for event in transport.stream(body or {"input": []}, metrics)], metrics


def test_response_events_look_like_a_server_stream():
    events = response_events(message("Hello there, friend."), function_call("read_file", "c1", {"path": "a.py"}))
    kinds = [event["type"] for event in events]
    assert kinds[0] == "response.created" and kinds[-1] == "response.completed"
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert text == "Hello there, friend."
    assert kinds.count("response.output_item.done") == 2
    output = events[-1]["response"]["output"]
    assert output[1]["arguments"] == '{"path":"a.py"}'


async def test_each_request_takes_the_next_entry_and_is_recorded():
    transport = ScriptedTransport([response_events(message("one")), response_events(message("two"))])
    first, metrics = await play(transport, {"input": [1]})
    second, _ = await play(transport, {"input": [2]})
    assert first[-1]["response"]["output"][0]["content"][0]["text"] == "one"
    assert second[-1]["response"]["output"][0]["content"][0]["text"] == "two"
    assert transport.requests == [{"input": [1]}, {"input": [2]}]
    assert metrics.bytes_sent > 0 and metrics.bytes_received > 0 and metrics.events == len(first)
    assert metrics.sent_at is not None and metrics.transport == "websocket" and metrics.connection == "ws-1"
    assert transport.generation == 1 and transport.remaining == 0


async def test_a_failure_streams_its_events_then_raises_and_the_next_request_opens_a_new_socket():
    events = response_events(message("partial answer"))
    transport = ScriptedTransport([ScriptedFailure(StreamInterrupted("dropped"), events[:3]), events])
    seen: list[dict] = []
    metrics = StreamMetrics()
    await transport.prepare(metrics, turn_start=True)
    with pytest.raises(StreamInterrupted):
        async for event in transport.stream({}, metrics):
            seen.append(event)
    assert len(seen) == 3
    again, _ = await play(transport)
    assert again == events and transport.generation == 2


async def test_abort_stops_the_stream_and_an_empty_script_is_a_final_error():
    transport = ScriptedTransport([response_events(message("a long answer " * 10))])
    metrics = StreamMetrics()
    await transport.prepare(metrics, turn_start=True)
    with pytest.raises(TransportAborted):
        async for _ in transport.stream({}, metrics):
            await transport.abort()
    with pytest.raises(TransportError) as raised:
        await play(transport)
    assert raised.value.retryable is False
