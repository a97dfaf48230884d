"""The official OpenAI Python SDK as an independent client of `codeassist serve`."""

from __future__ import annotations

import json

import openai
import pytest
from openai import OpenAI

from tests.server.event_order import check_event_order

TOOLS = [
    {
        "type": "function",
        "name": "read_file",
        "description": "Read a file",
        "parameters": {
            "type": "object",
            "properties": {"path": {"type": "string"}},
            "required": ["path"],
            "additionalProperties": False,
        },
        "strict": True,
    }
]
TERMINAL = {"response.completed", "response.failed", "response.incomplete", "error"}


@pytest.fixture
def client(server) -> OpenAI:
    return OpenAI(base_url=server.address.base_url, api_key="sk-test", max_retries=0, timeout=10)


def collect(connection) -> list:
    events = []
    for event in connection:
        events.append(event)
        if event.type in TERMINAL:
            return events
    raise AssertionError("connection ended before a terminal event")


def dumped(events) -> list[dict]:
    return [event.model_dump(mode="json", exclude_unset=True) for event in events]


def test_websocket_chain_with_a_tool_call_and_its_output(client):
    with client.responses.connect() as connection:
        connection.response.create(model="gpt-test", input="please read a.py", tools=TOOLS, store=False)
        first = collect(connection)
        assert first[-1].type == "response.completed"
        calls = [item for item in first[-1].response.output if item.type == "function_call"]
        assert [(c.name, json.loads(c.arguments)) for c in calls] == [("read_file", {"path": "a.py"})]

        connection.response.create(
            model="gpt-test",
            previous_response_id=first[-1].response.id,
            input=[{"type": "function_call_output", "call_id": calls[0].call_id, "output": "hello"}],
            tools=TOOLS,
            store=False,
        )
        second = collect(connection)
        assert second[-1].type == "response.completed"
        assert second[-1].response.output_text == "The file says hello."
        assert second[-1].response.previous_response_id == first[-1].response.id

        connection.response.create(
            model="gpt-test",
            previous_response_id=second[-1].response.id,
            input=[{"role": "user", "content": "thanks"}],
            tools=TOOLS,
            store=False,
        )
        third = collect(connection)
    assert third[-1].response.output_text == "Goodbye."
    for events in (first, second, third):
        check_event_order(dumped(events))
    usage = third[-1].response.usage
    assert usage.input_tokens_details.cached_tokens > 0
    assert usage.input_tokens > usage.input_tokens_details.cached_tokens
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens


def test_websocket_warm_up_then_chain(client):
    with client.responses.connect() as connection:
        connection.response.create(model="gpt-test", input="please read a.py", tools=TOOLS, store=False, generate=False)
        warm = collect(connection)
        assert [event.type for event in warm] == ["response.created", "response.completed"]
        assert warm[-1].response.output == []
        assert warm[-1].response.usage.total_tokens == 0
        connection.response.create(
            model="gpt-test", previous_response_id=warm[-1].response.id, input=[], tools=TOOLS, store=False
        )
        chained = collect(connection)
    assert chained[-1].type == "response.completed"
    assert [item.type for item in chained[-1].response.output] == ["message", "function_call"]


def test_websocket_previous_response_not_found(client):
    with client.responses.connect() as connection:
        connection.response.create(
            model="gpt-test",
            previous_response_id="resp_unknown",
            input=[{"type": "function_call_output", "call_id": "call_a", "output": "x"}],
            store=False,
        )
        [error] = collect(connection)
        assert error.type == "error"
        payload = error.model_dump(mode="json")
        assert payload["status"] == 400
        assert payload["error"]["code"] == "previous_response_not_found"
        assert payload["error"]["param"] == "previous_response_id"
        connection.response.create(model="gpt-test", input="please read a.py", store=False)
        assert collect(connection)[-1].type == "response.completed"


@pytest.mark.parametrize("store", [False, True])
def test_http_streaming_with_and_without_store(client, store):
    stream = client.responses.create(model="gpt-test", input="please read a.py", tools=TOOLS, stream=True, store=store)
    events = list(stream)
    check_event_order(dumped(events))
    assert events[-1].type == "response.completed"
    assert events[-1].response.store is store
    calls = [item for item in events[-1].response.output if item.type == "function_call"]
    output = [{"type": "function_call_output", "call_id": calls[0].call_id, "output": "hello"}]
    if store:
        follow = client.responses.create(
            model="gpt-test", previous_response_id=events[-1].response.id, input=output, tools=TOOLS, stream=True
        )
    else:
        history = [{"role": "user", "content": "please read a.py"}]
        history += [item.model_dump(mode="json", exclude_none=True) for item in events[-1].response.output]
        follow = client.responses.create(
            model="gpt-test", input=history + output, tools=TOOLS, stream=True, store=False
        )
    final = list(follow)[-1]
    assert final.type == "response.completed"
    assert final.response.output_text == "The file says hello."
    cached = final.response.usage.input_tokens_details.cached_tokens
    assert (cached > 0) is store


def test_http_without_streaming_returns_the_response(client):
    response = client.responses.create(model="gpt-test", input="please read a.py", tools=TOOLS)
    assert response.status == "completed"
    assert response.output_text == "Let me check the file."
    assert client.responses.retrieve(response.id).id == response.id


def test_http_previous_response_not_found_is_a_400(client):
    with pytest.raises(openai.BadRequestError) as error:
        client.responses.create(model="gpt-test", input="x", previous_response_id="resp_nope", stream=True)
    assert error.value.code == "previous_response_not_found"


def test_http_requires_the_api_key_when_set(start_server):
    server = start_server(api_key="sk-secret")
    wrong = OpenAI(base_url=server.address.base_url, api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.responses.create(model="gpt-test", input="please read a.py")
    right = OpenAI(base_url=server.address.base_url, api_key="sk-secret", max_retries=0)
    assert right.responses.create(model="gpt-test", input="please read a.py").status == "completed"
