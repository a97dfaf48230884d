"""The client's `response.create` event (`agent.wire.requests.ResponseCreate`)."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from agent.wire import (
    FunctionCall,
    FunctionCallOutput,
    InputText,
    Message,
    Reasoning,
    ResponseCreate,
    UnknownItem,
    user_message,
)

INPUT_ITEMS: list[dict[str, Any]] = [
    {"type": "message", "role": "developer", "content": "Answer tersely."},
    {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "read a.py"}]},
    {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "Read the file."}],
        "encrypted_content": "gAAAAABopaque==",
    },
    {"type": "function_call", "call_id": "call_a", "name": "read_file", "arguments": '{"path":"a.py"}'},
    {"type": "function_call_output", "call_id": "call_a", "output": "print('hello')"},
    {"type": "item_reference", "id": "msg_earlier"},
]

# One valid value for every field of the reference's `response.create` table.
REFERENCE_FIELDS: dict[str, Any] = {
    "model": "gpt-5-codex",
    "input": INPUT_ITEMS,
    "instructions": "You are a coding assistant working in /work/repo.",
    "tools": [
        {
            "type": "function",
            "name": "read_file",
            "description": "Read a UTF-8 file.",
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
            "strict": True,
        },
        {"type": "custom", "name": "apply_patch", "description": "Apply a patch.", "format": {"type": "text"}},
    ],
    "tool_choice": "auto",
    "parallel_tool_calls": False,
    "previous_response_id": "resp_68af1c2c8c8c8191",
    "store": False,
    "reasoning": {"effort": "medium", "summary": "auto"},
    "include": ["reasoning.encrypted_content", "message.output_text.logprobs"],
    "text": {"format": {"type": "text"}, "verbosity": "low"},
    "max_output_tokens": 4096,
    "max_tool_calls": 8,
    "temperature": 0.2,
    "top_p": 0.9,
    "top_logprobs": 3,
    "truncation": "auto",
    "metadata": {"session": "s-1", "turn": "3"},
    "prompt_cache_key": "codeassist-session-1",
    "prompt_cache_retention": "24h",
    "service_tier": "priority",
    "safety_identifier": "user-hash-9f2c",
    "user": "user-123",
    "prompt": {"id": "pmpt_abc", "version": "2", "variables": {"repo": "codeassist"}},
    "conversation": "conv_68af",
    "context_management": [{"type": "compaction", "compact_threshold": 200000}],
    "stream": True,
    "stream_options": {"include_obfuscation": False},
    "background": False,
    "stream_id": "stream-7",
    "generate": False,
    "client_metadata": {"client": "codeassist", "version": "0.1.0", "features": ["tui"]},
}

# Further valid shapes of fields that accept more than one.
ALTERNATIVE_VALUES: list[tuple[str, Any]] = [
    ("input", "read a.py"),
    ("input", []),
    ("tool_choice", "none"),
    ("tool_choice", "required"),
    ("tool_choice", {"type": "function", "name": "read_file"}),
    ("tool_choice", {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "read_file"}]}),
    ("conversation", {"id": "conv_68af"}),
    ("temperature", 0.0),
    ("generate", True),
    ("store", True),
    ("max_output_tokens", 0),
]


def create(**fields: Any) -> ResponseCreate:
    return ResponseCreate.model_validate({"type": "response.create", **fields})


def full_create_event() -> dict[str, Any]:
    return {"type": "response.create", **copy.deepcopy(REFERENCE_FIELDS)}


# --- every field of the reference table ------------------------------------------------------


@pytest.mark.parametrize(("field", "value"), list(REFERENCE_FIELDS.items()), ids=list(REFERENCE_FIELDS))
def test_reference_field_is_accepted_as_a_declared_field(field, value):
    request = create(**{field: copy.deepcopy(value)})
    assert field in ResponseCreate.model_fields
    assert request.model_extra == {}
    assert request.model_dump(mode="json") == {"type": "response.create", field: value}


@pytest.mark.parametrize(
    ("field", "value"), ALTERNATIVE_VALUES, ids=[f"{field}={value!r}"[:40] for field, value in ALTERNATIVE_VALUES]
)
def test_alternative_shape_of_a_reference_field_is_accepted(field, value):
    request = create(**{field: copy.deepcopy(value)})
    assert request.model_dump(mode="json")[field] == value


def test_event_with_every_reference_field_dumps_back_unchanged():
    event = full_create_event()
    request = ResponseCreate.model_validate(event)
    assert request.model_extra == {}
    assert request.model_dump(mode="json") == event
    assert orjson.loads(request.model_dump_json()) == event


def test_event_with_every_reference_field_parses_from_json_text():
    event = full_create_event()
    request = ResponseCreate.model_validate_json(orjson.dumps(event))
    assert request.model_dump(mode="json") == event


def test_scalar_reference_fields_are_read_back_as_given():
    request = ResponseCreate.model_validate(full_create_event())
    assert request.model == "gpt-5-codex"
    assert request.store is False
    assert request.generate is False
    assert request.max_output_tokens == 4096
    assert request.temperature == 0.2
    assert request.previous_response_id == "resp_68af1c2c8c8c8191"
    assert request.metadata == {"session": "s-1", "turn": "3"}


def test_input_items_of_the_full_event_parse_to_their_models():
    request = ResponseCreate.model_validate(full_create_event())
    assert [type(item) for item in request.input] == [
        Message,
        Message,
        Reasoning,
        FunctionCall,
        FunctionCallOutput,
        UnknownItem,
    ]


def test_input_message_without_type_is_accepted_in_input():
    request = create(input=[{"role": "user", "content": "hi"}])
    assert request.input == [Message(role="user", content="hi")]


def test_bare_event_has_only_its_type():
    assert ResponseCreate().model_dump() == {"type": "response.create"}
    assert create().model_dump() == {"type": "response.create"}


def test_integer_temperature_and_top_p_are_accepted_as_floats():
    request = ResponseCreate.model_validate_json(b'{"type":"response.create","temperature":1,"top_p":1}')
    assert request.temperature == 1.0
    assert request.top_p == 1.0


def test_items_given_as_models_are_accepted_in_input():
    request = ResponseCreate(
        model="gpt-5-codex",
        input=[user_message("hi"), FunctionCallOutput(call_id="call_a", output="ok")],
    )
    assert request.http_body() == {
        "model": "gpt-5-codex",
        "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]},
            {"type": "function_call_output", "call_id": "call_a", "output": "ok"},
        ],
    }


# --- unknown fields ---------------------------------------------------------------------------


def test_unknown_fields_are_kept_in_the_dump_and_the_http_body():
    request = create(model="m", future_param={"mode": "fast", "levels": [1, 2]}, x_flag=True)
    assert request.model_extra == {"future_param": {"mode": "fast", "levels": [1, 2]}, "x_flag": True}
    assert request.model_dump() == {
        "type": "response.create",
        "model": "m",
        "future_param": {"mode": "fast", "levels": [1, 2]},
        "x_flag": True,
    }
    assert request.http_body() == {"model": "m", "future_param": {"mode": "fast", "levels": [1, 2]}, "x_flag": True}


def test_unknown_fields_are_kept_when_parsing_json_text():
    request = ResponseCreate.model_validate_json('{"type":"response.create","model":"m","modalities":["text"]}')
    assert request.model_dump()["modalities"] == ["text"]


# --- strict validation ------------------------------------------------------------------------

WRONG_TYPED: list[tuple[str, Any]] = [
    ("store", "yes"),
    ("store", 1),
    ("input", 12),
    ("input", {"role": "user", "content": "hi"}),
    ("max_output_tokens", "many"),
    ("max_output_tokens", "100"),
    ("max_output_tokens", 100.0),
    ("max_output_tokens", True),
    ("max_tool_calls", 2.5),
    ("top_logprobs", "3"),
    ("temperature", "0.5"),
    ("top_p", "high"),
    ("model", 5),
    ("instructions", ["be brief"]),
    ("tools", {"type": "function", "name": "read_file"}),
    ("tool_choice", 1),
    ("tool_choice", ["auto"]),
    ("parallel_tool_calls", "false"),
    ("previous_response_id", 123),
    ("reasoning", "high"),
    ("include", "reasoning.encrypted_content"),
    ("text", "plain"),
    ("truncation", False),
    ("metadata", {"turn": 3}),
    ("metadata", ["a"]),
    ("prompt_cache_key", 42),
    ("prompt_cache_retention", 24),
    ("service_tier", 1),
    ("safety_identifier", 1),
    ("user", 1),
    ("prompt", "pmpt_abc"),
    ("conversation", 7),
    ("context_management", {"type": "compaction"}),
    ("stream", "true"),
    ("stream_options", True),
    ("background", 0),
    ("stream_id", 7),
    ("generate", "no"),
    ("client_metadata", "codeassist"),
]


@pytest.mark.parametrize(
    ("field", "value"), WRONG_TYPED, ids=[f"{field}={value!r}"[:40] for field, value in WRONG_TYPED]
)
def test_wrong_typed_field_raises_validation_error_naming_the_field(field, value):
    with pytest.raises(ValidationError) as caught:
        create(**{field: value})
    assert {error["loc"][0] for error in caught.value.errors()} == {field}


@pytest.mark.parametrize(
    "text",
    [
        b'{"type":"response.create","store":"yes"}',
        b'{"type":"response.create","input":12}',
        b'{"type":"response.create","max_output_tokens":"many"}',
        b'{"type":"response.create","stream":1}',
    ],
)
def test_wrong_typed_field_in_json_text_raises_validation_error(text):
    with pytest.raises(ValidationError):
        ResponseCreate.model_validate_json(text)


@pytest.mark.parametrize("kind", ["response.cancel", "session.update", ""])
def test_other_event_type_is_rejected(kind):
    with pytest.raises(ValidationError):
        ResponseCreate.model_validate({"type": kind, "model": "m"})


def test_input_item_with_missing_required_field_is_rejected():
    with pytest.raises(ValidationError) as caught:
        create(input=[{"type": "function_call_output", "output": "x"}])
    assert caught.value.errors()[0]["loc"][0] == "input"


def test_input_item_with_non_string_type_raises_validation_error():
    with pytest.raises(ValidationError):
        create(input=[{"type": ["message"], "role": "user", "content": "hi"}])


def test_input_content_part_with_non_string_type_raises_validation_error():
    with pytest.raises(ValidationError):
        create(input=[{"type": "message", "role": "user", "content": [{"type": {}}]}])


# --- input_items() ----------------------------------------------------------------------------


def test_input_items_turns_a_string_into_one_user_message():
    items = create(input="read a.py").input_items()
    assert items == [user_message("read a.py")]
    (message,) = items
    assert message.role == "user"
    assert message.content == [InputText(text="read a.py")]
    assert message.text() == "read a.py"


def test_input_items_of_an_empty_string_is_one_empty_user_message():
    assert create(input="").input_items() == [user_message("")]


def test_input_items_without_input_is_empty():
    assert create(model="m").input_items() == []


def test_input_items_of_a_list_returns_the_items_in_order():
    request = create(input=copy.deepcopy(INPUT_ITEMS))
    items = request.input_items()
    assert items == request.input
    assert [item.model_dump() for item in items] == INPUT_ITEMS


def test_input_items_returns_a_new_list_that_does_not_alias_the_input():
    request = create(input=[{"role": "user", "content": "hi"}])
    items = request.input_items()
    items.append(user_message("extra"))
    assert len(request.input) == 1


# --- http_body() ------------------------------------------------------------------------------


def test_http_body_drops_the_type():
    body = create(model="gpt-5-codex", input="hi").http_body()
    assert body == {"model": "gpt-5-codex", "input": "hi"}


def test_http_body_drops_none_fields():
    request = ResponseCreate(model="m", input="hi", store=None, instructions=None, generate=None)
    assert request.http_body() == {"model": "m", "input": "hi"}


def test_http_body_keeps_false_and_zero_values():
    request = create(store=False, stream=False, generate=False, temperature=0.0, max_output_tokens=0)
    assert request.http_body() == {
        "store": False,
        "stream": False,
        "generate": False,
        "temperature": 0.0,
        "max_output_tokens": 0,
    }


def test_http_body_of_the_full_event_is_the_event_without_type():
    event = full_create_event()
    body = ResponseCreate.model_validate(event).http_body()
    del event["type"]
    assert body == event


def test_http_body_drops_none_fields_inside_input_items():
    request = create(
        input=[{"type": "function_call", "id": None, "call_id": "c", "name": "n", "arguments": "{}", "status": None}]
    )
    assert request.http_body() == {
        "input": [{"type": "function_call", "call_id": "c", "name": "n", "arguments": "{}"}],
    }


def test_http_body_is_json_serialisable():
    body = ResponseCreate.model_validate(full_create_event()).http_body()
    assert orjson.loads(orjson.dumps(body)) == body


def test_http_body_does_not_change_the_model():
    request = create(model="m")
    request.http_body()
    assert request.type == "response.create"
    assert request.model_dump() == {"type": "response.create", "model": "m"}
