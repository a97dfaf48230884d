"""Server → client events of a Responses stream (`agent.wire.events`)."""

from __future__ import annotations

import copy
import typing
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from agent.wire import (
    EVENT_TYPES,
    ErrorEvent,
    FunctionCall,
    Message,
    OutputText,
    Reasoning,
    Response,
    SummaryText,
    UnknownEvent,
    UnknownItem,
    Usage,
    parse_server_event,
)
from agent.wire.events import ServerEventBase
from agent.wire.items import ReasoningText, Refusal, UnknownPart

RESPONSE_ID = "resp_68af1c2c8c8c8191b7a4d4c5e0f3a9b2"
MESSAGE_ID = "msg_68af1c2e9e0c8191a3b1f00d"
REASONING_ID = "rs_68af1c2d5e8c8191"
CALL_ITEM_ID = "fc_68af1c30a4d48191"
CUSTOM_ITEM_ID = "ctc_68af1c31"

USAGE = {
    "input_tokens": 1200,
    "input_tokens_details": {"cached_tokens": 1024, "cache_write_tokens": 176},
    "output_tokens": 300,
    "output_tokens_details": {"reasoning_tokens": 128},
    "total_tokens": 1500,
}

MESSAGE_ITEM = {
    "type": "message",
    "id": MESSAGE_ID,
    "status": "completed",
    "role": "assistant",
    "content": [{"type": "output_text", "text": "The file says hello.", "annotations": [], "logprobs": []}],
}
REASONING_ITEM = {
    "type": "reasoning",
    "id": REASONING_ID,
    "summary": [{"type": "summary_text", "text": "**Reading a.py**"}],
    "encrypted_content": "gAAAAABor3Et4sW0_opaque_blob==",
}
FUNCTION_CALL_ITEM = {
    "type": "function_call",
    "id": CALL_ITEM_ID,
    "call_id": "call_Zk2b7q",
    "name": "read_file",
    "arguments": '{"path":"a.py"}',
    "status": "completed",
}
WEB_SEARCH_ITEM = {
    "type": "web_search_call",
    "id": "ws_68af1c33",
    "status": "completed",
    "action": {"type": "search", "query": "orjson"},
}


def response_object(status: str, *, output: list[Any] | None = None, **changes: Any) -> dict[str, Any]:
    """A full Response object as the API sends it in lifecycle events."""
    return {
        "id": RESPONSE_ID,
        "object": "response",
        "created_at": 1756306476,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": "You are a coding assistant.",
        "max_output_tokens": None,
        "max_tool_calls": None,
        "model": "gpt-5-codex",
        "output": copy.deepcopy(output or []),
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "prompt_cache_key": "codeassist-session-1",
        "reasoning": {"effort": "medium", "summary": "auto"},
        "safety_identifier": None,
        "service_tier": "default",
        "store": False,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [
            {
                "type": "function",
                "name": "read_file",
                "description": "Read a UTF-8 file.",
                "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
                "strict": True,
            }
        ],
        "top_logprobs": 0,
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": copy.deepcopy(USAGE),
        "user": None,
        "metadata": {},
        **changes,
    }


COMPLETED_OUTPUT = [REASONING_ITEM, MESSAGE_ITEM, FUNCTION_CALL_ITEM, WEB_SEARCH_ITEM]

EVENT_PAYLOADS: dict[str, dict[str, Any]] = {
    "response.created": {
        "type": "response.created",
        "sequence_number": 0,
        "response": response_object("in_progress"),
    },
    "response.queued": {
        "type": "response.queued",
        "sequence_number": 0,
        "response": response_object("queued"),
    },
    "response.in_progress": {
        "type": "response.in_progress",
        "sequence_number": 1,
        "response": response_object("in_progress"),
    },
    "response.completed": {
        "type": "response.completed",
        "sequence_number": 40,
        "response": response_object("completed", output=COMPLETED_OUTPUT, completed_at=1756306480),
    },
    "response.failed": {
        "type": "response.failed",
        "sequence_number": 5,
        "response": response_object(
            "failed", error={"code": "server_error", "message": "The server had an error processing your request."}
        ),
    },
    "response.incomplete": {
        "type": "response.incomplete",
        "sequence_number": 30,
        "response": response_object(
            "incomplete", output=[MESSAGE_ITEM], incomplete_details={"reason": "max_output_tokens"}
        ),
    },
    "response.done": {
        "type": "response.done",
        "response": response_object("completed", output=[MESSAGE_ITEM]),
    },
    "response.output_item.added": {
        "type": "response.output_item.added",
        "sequence_number": 2,
        "output_index": 0,
        "item": {"type": "reasoning", "id": REASONING_ID, "summary": []},
    },
    "response.output_item.done": {
        "type": "response.output_item.done",
        "sequence_number": 12,
        "output_index": 2,
        "item": FUNCTION_CALL_ITEM,
    },
    "response.content_part.added": {
        "type": "response.content_part.added",
        "sequence_number": 4,
        "item_id": MESSAGE_ID,
        "output_index": 1,
        "content_index": 0,
        "part": {"type": "output_text", "text": "", "annotations": [], "logprobs": []},
    },
    "response.content_part.done": {
        "type": "response.content_part.done",
        "sequence_number": 9,
        "item_id": MESSAGE_ID,
        "output_index": 1,
        "content_index": 0,
        "part": {"type": "output_text", "text": "The file says hello.", "annotations": [], "logprobs": []},
    },
    "response.output_text.delta": {
        "type": "response.output_text.delta",
        "sequence_number": 5,
        "item_id": MESSAGE_ID,
        "output_index": 1,
        "content_index": 0,
        "delta": "The file",
        "logprobs": [{"token": "The", "logprob": -0.0012, "top_logprobs": [{"token": "The", "logprob": -0.0012}]}],
    },
    "response.output_text.done": {
        "type": "response.output_text.done",
        "sequence_number": 8,
        "item_id": MESSAGE_ID,
        "output_index": 1,
        "content_index": 0,
        "text": "The file says hello.",
        "logprobs": [{"token": "The", "logprob": -0.0012, "top_logprobs": []}],
    },
    "response.refusal.delta": {
        "type": "response.refusal.delta",
        "sequence_number": 5,
        "item_id": MESSAGE_ID,
        "output_index": 0,
        "content_index": 0,
        "delta": "I can't",
    },
    "response.refusal.done": {
        "type": "response.refusal.done",
        "sequence_number": 7,
        "item_id": MESSAGE_ID,
        "output_index": 0,
        "content_index": 0,
        "refusal": "I can't help with that.",
    },
    "response.function_call_arguments.delta": {
        "type": "response.function_call_arguments.delta",
        "sequence_number": 11,
        "item_id": CALL_ITEM_ID,
        "output_index": 2,
        "delta": '{"path":',
    },
    "response.function_call_arguments.done": {
        "type": "response.function_call_arguments.done",
        "sequence_number": 12,
        "item_id": CALL_ITEM_ID,
        "output_index": 2,
        "name": "read_file",
        "arguments": '{"path":"a.py"}',
    },
    "response.custom_tool_call_input.delta": {
        "type": "response.custom_tool_call_input.delta",
        "sequence_number": 14,
        "item_id": CUSTOM_ITEM_ID,
        "output_index": 3,
        "delta": "*** Begin Patch\n",
    },
    "response.custom_tool_call_input.done": {
        "type": "response.custom_tool_call_input.done",
        "sequence_number": 16,
        "item_id": CUSTOM_ITEM_ID,
        "output_index": 3,
        "input": "*** Begin Patch\n*** End Patch",
    },
    "response.reasoning_summary_part.added": {
        "type": "response.reasoning_summary_part.added",
        "sequence_number": 3,
        "item_id": REASONING_ID,
        "output_index": 0,
        "summary_index": 0,
        "part": {"type": "summary_text", "text": ""},
    },
    "response.reasoning_summary_part.done": {
        "type": "response.reasoning_summary_part.done",
        "sequence_number": 6,
        "item_id": REASONING_ID,
        "output_index": 0,
        "summary_index": 0,
        "part": {"type": "summary_text", "text": "**Reading a.py**"},
    },
    "response.reasoning_summary_text.delta": {
        "type": "response.reasoning_summary_text.delta",
        "sequence_number": 4,
        "item_id": REASONING_ID,
        "output_index": 0,
        "summary_index": 0,
        "delta": "**Reading",
    },
    "response.reasoning_summary_text.done": {
        "type": "response.reasoning_summary_text.done",
        "sequence_number": 5,
        "item_id": REASONING_ID,
        "output_index": 0,
        "summary_index": 0,
        "text": "**Reading a.py**",
    },
    "response.reasoning_text.delta": {
        "type": "response.reasoning_text.delta",
        "sequence_number": 4,
        "item_id": REASONING_ID,
        "output_index": 0,
        "content_index": 0,
        "delta": "Let me",
    },
    "response.reasoning_text.done": {
        "type": "response.reasoning_text.done",
        "sequence_number": 5,
        "item_id": REASONING_ID,
        "output_index": 0,
        "content_index": 0,
        "text": "Let me look at a.py.",
    },
    "error": {
        "type": "error",
        "status": 400,
        "error": {
            "type": "invalid_request_error",
            "code": "previous_response_not_found",
            "message": "Previous response with id 'resp_abc' not found.",
            "param": "previous_response_id",
        },
    },
}

FLAT_ERROR = {
    "type": "error",
    "code": "previous_response_not_found",
    "message": "Previous response with id 'resp_abc' not found.",
    "param": "previous_response_id",
    "sequence_number": 1,
}

LIFECYCLE_TYPES = sorted(t for t, payload in EVENT_PAYLOADS.items() if "response" in payload)
NON_LIFECYCLE_TYPES = sorted(t for t in EVENT_PAYLOADS if t not in LIFECYCLE_TYPES and t != "error")

UNKNOWN_EVENTS = {
    "codex.rate_limits": {
        "type": "codex.rate_limits",
        "plan_type": "plus",
        "rate_limits": {
            "primary": {"used_percent": 12.5, "window_minutes": 300, "resets_in_seconds": 8100},
            "secondary": {"used_percent": 3.0, "window_minutes": 10080, "resets_in_seconds": 500000},
        },
    },
    "response.web_search_call.in_progress": {
        "type": "response.web_search_call.in_progress",
        "sequence_number": 7,
        "output_index": 3,
        "item_id": "ws_68af1c33",
    },
    "response.output_text.annotation.added": {
        "type": "response.output_text.annotation.added",
        "sequence_number": 30,
        "item_id": MESSAGE_ID,
        "output_index": 1,
        "content_index": 0,
        "annotation_index": 0,
        "annotation": {
            "type": "url_citation",
            "url": "https://github.com/ijl/orjson",
            "title": "orjson",
            "start_index": 10,
            "end_index": 20,
        },
    },
}


def copy_payload(kind: str) -> dict[str, Any]:
    return copy.deepcopy(EVENT_PAYLOADS[kind])


# --- every modelled event type ---------------------------------------------------------------


def test_payloads_cover_every_modelled_event_type():
    assert set(EVENT_PAYLOADS) == set(EVENT_TYPES)


def test_payloads_are_valid_for_the_openai_sdk():
    from openai.types.responses import ResponseStreamEvent

    sdk = TypeAdapter(ResponseStreamEvent)
    legacy_or_envelope = {"response.done", "error"}
    for kind, payload in EVENT_PAYLOADS.items():
        if kind not in legacy_or_envelope:
            assert sdk.validate_python(copy.deepcopy(payload)).type == kind
    assert sdk.validate_python(copy.deepcopy(FLAT_ERROR)).type == "error"


@pytest.mark.parametrize("kind", sorted(EVENT_TYPES))
def test_parse_server_event_returns_the_modelled_class(kind):
    event = parse_server_event(copy_payload(kind))
    assert type(event) is EVENT_TYPES[kind]
    assert event.type == kind
    assert event.sequence_number == EVENT_PAYLOADS[kind].get("sequence_number")


@pytest.mark.parametrize("kind", sorted(EVENT_TYPES))
@pytest.mark.parametrize("encode", [orjson.dumps, lambda payload: orjson.dumps(payload).decode()], ids=["bytes", "str"])
def test_parse_server_event_on_json_text_equals_parsing_the_dict(kind, encode):
    from_text = parse_server_event(encode(EVENT_PAYLOADS[kind]))
    assert type(from_text) is EVENT_TYPES[kind]
    assert from_text == parse_server_event(copy_payload(kind))


@pytest.mark.parametrize("kind", NON_LIFECYCLE_TYPES)
def test_parsed_event_dumps_back_to_its_payload(kind):
    event = parse_server_event(copy_payload(kind))
    assert event.model_dump() == EVENT_PAYLOADS[kind]
    assert orjson.loads(event.model_dump_json()) == EVENT_PAYLOADS[kind]


@pytest.mark.parametrize("kind", sorted(EVENT_TYPES))
def test_parse_server_event_does_not_mutate_its_input(kind):
    payload = copy_payload(kind)
    parse_server_event(payload)
    assert payload == EVENT_PAYLOADS[kind]


@pytest.mark.parametrize("kind", NON_LIFECYCLE_TYPES)
def test_known_event_missing_a_required_field_raises_validation_error(kind):
    payload = copy_payload(kind)
    required = [
        name for name, field in EVENT_TYPES[kind].model_fields.items() if field.is_required() and name in payload
    ]
    assert required
    for name in required:
        broken = {key: value for key, value in payload.items() if key != name}
        with pytest.raises(ValidationError):
            parse_server_event(broken)


@pytest.mark.parametrize(
    "payload",
    [
        {**EVENT_PAYLOADS["response.output_text.delta"], "delta": 5},
        {**EVENT_PAYLOADS["response.output_text.delta"], "output_index": "first"},
        {**EVENT_PAYLOADS["response.output_item.done"], "item": "not an item"},
        {**EVENT_PAYLOADS["response.completed"], "response": {"status": "completed"}},
        {**EVENT_PAYLOADS["response.content_part.added"], "part": {"type": "output_text"}},
        {**EVENT_PAYLOADS["error"], "status": "bad request"},
        {**EVENT_PAYLOADS["response.created"], "sequence_number": "first"},
    ],
    ids=["delta_int", "index_str", "item_str", "response_without_id", "part_without_text", "status_str", "seq_str"],
)
def test_known_event_with_wrong_shaped_field_raises_validation_error(payload):
    with pytest.raises(ValidationError):
        parse_server_event(payload)


# --- lifecycle events and the Response object ------------------------------------------------


@pytest.mark.parametrize("kind", LIFECYCLE_TYPES)
def test_lifecycle_event_carries_a_full_response(kind):
    event = parse_server_event(copy_payload(kind))
    response = event.response
    expected = EVENT_PAYLOADS[kind]["response"]
    assert type(response) is Response
    assert response.id == RESPONSE_ID
    assert response.status == expected["status"]
    assert response.model == "gpt-5-codex"
    assert response.created_at == 1756306476
    assert response.store is False
    assert response.reasoning == {"effort": "medium", "summary": "auto"}
    assert response.tools[0]["name"] == "read_file"
    assert response.usage == Usage.model_validate(USAGE)
    assert response.usage.cached_tokens == 1024
    assert response.usage.output_tokens_details.reasoning_tokens == 128
    assert response.model_extra["top_logprobs"] == 0
    assert response.model_extra["safety_identifier"] is None


@pytest.mark.parametrize("kind", LIFECYCLE_TYPES)
def test_lifecycle_response_keeps_every_field_it_was_sent(kind):
    response = parse_server_event(copy_payload(kind)).response
    expected = EVENT_PAYLOADS[kind]["response"]
    dumped = response.model_dump()
    assert {key: dumped[key] for key in expected} == expected


def test_completed_response_output_items_parse_to_their_models():
    event = parse_server_event(copy_payload("response.completed"))
    assert [type(item) for item in event.response.output] == [Reasoning, Message, FunctionCall, UnknownItem]
    assert event.response.output[1].text() == "The file says hello."
    assert event.response.output[3].model_dump() == WEB_SEARCH_ITEM
    assert event.response.completed_at == 1756306480


def test_failed_response_carries_its_error():
    response = parse_server_event(copy_payload("response.failed")).response
    assert response.status == "failed"
    assert response.error.code == "server_error"
    assert response.error.message == "The server had an error processing your request."


def test_incomplete_response_carries_its_reason():
    response = parse_server_event(copy_payload("response.incomplete")).response
    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "max_output_tokens"


def test_legacy_response_done_parses_like_completed():
    event = parse_server_event(copy_payload("response.done"))
    assert event.type == "response.done"
    assert event.sequence_number is None
    assert event.response.status == "completed"
    assert event.response.output[0].text() == "The file says hello."


def test_created_event_with_null_usage_parses():
    payload = copy_payload("response.created")
    payload["response"]["usage"] = None
    assert parse_server_event(payload).response.usage is None


def test_response_with_an_unknown_status_is_kept():
    payload = copy_payload("response.in_progress")
    payload["response"]["status"] = "requires_action"
    assert parse_server_event(payload).response.status == "requires_action"


def test_minimal_response_gets_defaults():
    response = parse_server_event({"type": "response.created", "response": {"id": "resp_1"}}).response
    assert response.status == "in_progress"
    assert response.output == []
    assert response.usage is None
    assert response.parallel_tool_calls is True


# --- item, part and delta events -------------------------------------------------------------


def test_output_item_added_carries_the_item_model():
    event = parse_server_event(copy_payload("response.output_item.added"))
    assert event.output_index == 0
    assert event.item == Reasoning(id=REASONING_ID, summary=[])


def test_output_item_done_carries_a_function_call():
    event = parse_server_event(copy_payload("response.output_item.done"))
    assert type(event.item) is FunctionCall
    assert event.item.call_id == "call_Zk2b7q"
    assert event.item.arguments == '{"path":"a.py"}'


def test_output_item_done_with_a_reasoning_item_keeps_encrypted_content():
    event = parse_server_event(
        {"type": "response.output_item.done", "sequence_number": 7, "output_index": 0, "item": REASONING_ITEM}
    )
    assert event.item.encrypted_content == "gAAAAABor3Et4sW0_opaque_blob=="
    assert event.item.summary == [SummaryText(text="**Reading a.py**")]


def test_output_item_of_unknown_type_becomes_unknown_item():
    event = parse_server_event(
        {"type": "response.output_item.added", "sequence_number": 7, "output_index": 3, "item": WEB_SEARCH_ITEM}
    )
    assert type(event.item) is UnknownItem
    assert event.item.model_dump() == WEB_SEARCH_ITEM


@pytest.mark.parametrize("kind", ["response.content_part.added", "response.content_part.done"])
def test_content_part_events_carry_the_part_model(kind):
    event = parse_server_event(copy_payload(kind))
    assert type(event.part) is OutputText
    assert event.part.text == EVENT_PAYLOADS[kind]["part"]["text"]
    assert event.part.model_extra == {"logprobs": []}
    assert (event.item_id, event.output_index, event.content_index) == (MESSAGE_ID, 1, 0)


@pytest.mark.parametrize(
    ("part", "model"),
    [
        ({"type": "refusal", "refusal": ""}, Refusal),
        ({"type": "reasoning_text", "text": ""}, ReasoningText),
        ({"type": "output_audio", "transcript": ""}, UnknownPart),
    ],
    ids=["refusal", "reasoning_text", "unknown"],
)
def test_content_part_added_accepts_other_part_types(part, model):
    payload = {**copy_payload("response.content_part.added"), "part": part}
    event = parse_server_event(payload)
    assert type(event.part) is model
    assert event.part.model_dump() == part


def test_output_text_delta_keeps_delta_and_logprobs():
    event = parse_server_event(copy_payload("response.output_text.delta"))
    assert event.delta == "The file"
    assert event.logprobs == EVENT_PAYLOADS["response.output_text.delta"]["logprobs"]


def test_output_text_delta_without_logprobs_defaults_to_empty():
    payload = copy_payload("response.output_text.delta")
    del payload["logprobs"]
    assert parse_server_event(payload).logprobs == []


def test_output_text_done_keeps_text_and_logprobs():
    event = parse_server_event(copy_payload("response.output_text.done"))
    assert event.text == "The file says hello."
    assert event.logprobs[0]["token"] == "The"


def test_function_call_arguments_events_keep_delta_arguments_and_name():
    delta = parse_server_event(copy_payload("response.function_call_arguments.delta"))
    done = parse_server_event(copy_payload("response.function_call_arguments.done"))
    assert delta.delta == '{"path":'
    assert done.arguments == '{"path":"a.py"}'
    assert done.name == "read_file"
    assert delta.item_id == done.item_id == CALL_ITEM_ID


def test_function_call_arguments_done_without_name_has_none_name():
    payload = copy_payload("response.function_call_arguments.done")
    del payload["name"]
    event = parse_server_event(payload)
    assert event.name is None
    assert "name" not in event.model_dump()


def test_custom_tool_call_input_events_keep_delta_and_input():
    delta = parse_server_event(copy_payload("response.custom_tool_call_input.delta"))
    done = parse_server_event(copy_payload("response.custom_tool_call_input.done"))
    assert delta.delta == "*** Begin Patch\n"
    assert done.input == "*** Begin Patch\n*** End Patch"


@pytest.mark.parametrize("kind", ["response.reasoning_summary_part.added", "response.reasoning_summary_part.done"])
def test_reasoning_summary_part_events_carry_summary_text(kind):
    event = parse_server_event(copy_payload(kind))
    assert type(event.part) is SummaryText
    assert event.part.text == EVENT_PAYLOADS[kind]["part"]["text"]
    assert event.summary_index == 0


def test_reasoning_summary_text_and_reasoning_text_events_keep_their_text():
    assert parse_server_event(copy_payload("response.reasoning_summary_text.delta")).delta == "**Reading"
    assert parse_server_event(copy_payload("response.reasoning_summary_text.done")).text == "**Reading a.py**"
    assert parse_server_event(copy_payload("response.reasoning_text.delta")).delta == "Let me"
    assert parse_server_event(copy_payload("response.reasoning_text.done")).text == "Let me look at a.py."


def test_refusal_events_keep_delta_and_refusal():
    assert parse_server_event(copy_payload("response.refusal.delta")).delta == "I can't"
    assert parse_server_event(copy_payload("response.refusal.done")).refusal == "I can't help with that."


@pytest.mark.parametrize(
    "kind",
    [
        "response.output_text.delta",
        "response.function_call_arguments.delta",
        "response.reasoning_summary_text.delta",
        "response.custom_tool_call_input.delta",
    ],
)
def test_extra_fields_such_as_obfuscation_on_a_delta_are_kept(kind):
    payload = {**copy_payload(kind), "obfuscation": "k3Jx9Q"}
    event = parse_server_event(payload)
    assert event.model_extra == {"obfuscation": "k3Jx9Q"}
    assert event.obfuscation == "k3Jx9Q"
    assert event.model_dump() == payload


def test_extra_fields_on_lifecycle_events_are_kept():
    payload = {**copy_payload("response.completed"), "server_timing_ms": 812}
    assert parse_server_event(payload).model_extra == {"server_timing_ms": 812}


# --- error events ----------------------------------------------------------------------------


def test_nested_and_flat_error_shapes_give_the_same_code_and_message():
    nested = parse_server_event(copy_payload("error"))
    flat = parse_server_event(copy.deepcopy(FLAT_ERROR))
    assert type(nested) is type(flat) is ErrorEvent
    assert nested.error_code == flat.error_code == "previous_response_not_found"
    assert nested.error_message == flat.error_message == "Previous response with id 'resp_abc' not found."


def test_nested_error_reads_status_type_and_param():
    event = parse_server_event(copy_payload("error"))
    assert event.http_status == 400
    assert event.error_type == "invalid_request_error"
    assert event.error.param == "previous_response_id"
    assert event.sequence_number is None


def test_flat_error_reads_param_and_sequence_number_and_has_no_status():
    event = parse_server_event(copy.deepcopy(FLAT_ERROR))
    assert event.http_status is None
    assert event.error_type is None
    assert event.param == "previous_response_id"
    assert event.sequence_number == 1
    assert event.headers == {}


@pytest.mark.parametrize("payload", [EVENT_PAYLOADS["error"], FLAT_ERROR], ids=["nested", "flat"])
def test_error_event_dumps_back_to_its_payload(payload):
    assert parse_server_event(copy.deepcopy(payload)).model_dump() == payload


def test_error_with_status_code_and_top_level_headers():
    event = parse_server_event(
        {
            "type": "error",
            "status_code": 429,
            "headers": {"Retry-After": "20", "x-request-id": "req_123"},
            "error": {"type": "rate_limit_error", "code": "rate_limit_exceeded", "message": "Slow down."},
        }
    )
    assert event.http_status == 429
    assert event.headers == {"retry-after": "20", "x-request-id": "req_123"}
    assert event.error_code == "rate_limit_exceeded"
    assert event.error_message == "Slow down."


def test_explicit_status_wins_over_status_code():
    assert parse_server_event({"type": "error", "status": 503, "status_code": 429}).http_status == 503


def test_top_level_header_values_are_turned_into_strings():
    event = parse_server_event({"type": "error", "status_code": 429, "headers": {"retry-after": 7}})
    assert event.headers == {"retry-after": "7"}


def test_headers_nested_in_the_error_are_merged_with_top_level_headers():
    event = parse_server_event(
        {
            "type": "error",
            "status": 429,
            "headers": {"X-Request-Id": "req_top"},
            "error": {"code": "rate_limit_exceeded", "message": "m", "headers": {"Retry-After": "3"}},
        }
    )
    assert event.headers == {"x-request-id": "req_top", "retry-after": "3"}


def test_error_without_details_has_empty_message_and_no_code():
    event = parse_server_event({"type": "error"})
    assert event.error_code is None
    assert event.error_message == ""
    assert event.http_status is None
    assert event.headers == {}


def test_flat_message_is_used_when_nested_message_is_empty():
    event = parse_server_event({"type": "error", "message": "flat", "code": "c", "error": {"message": ""}})
    assert event.error_message == "flat"
    assert event.error_code == "c"


# --- unknown events --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(UNKNOWN_EVENTS))
def test_unknown_event_type_becomes_unknown_event_with_fields_kept(kind):
    payload = copy.deepcopy(UNKNOWN_EVENTS[kind])
    event = parse_server_event(payload)
    assert type(event) is UnknownEvent
    assert event.type == kind
    assert event.sequence_number == payload.get("sequence_number")
    assert event.model_dump() == UNKNOWN_EVENTS[kind]
    assert orjson.loads(event.model_dump_json()) == UNKNOWN_EVENTS[kind]


@pytest.mark.parametrize("kind", list(UNKNOWN_EVENTS))
def test_unknown_event_parses_the_same_from_json_text(kind):
    assert parse_server_event(orjson.dumps(UNKNOWN_EVENTS[kind])).model_dump() == UNKNOWN_EVENTS[kind]


def test_unknown_event_fields_are_readable_as_attributes():
    event = parse_server_event(copy.deepcopy(UNKNOWN_EVENTS["codex.rate_limits"]))
    assert event.plan_type == "plus"
    assert event.rate_limits["primary"]["used_percent"] == 12.5


@pytest.mark.parametrize("kind", ["", "Response.Completed", "response.completed ", "response.output_text.delta.x"])
def test_near_miss_of_a_known_type_is_an_unknown_event(kind):
    assert type(parse_server_event({"type": kind, "delta": "x"})) is UnknownEvent


def test_unknown_event_keeps_null_valued_fields():
    payload = {"type": "response.mcp_call.failed", "item_id": "mcp_1", "output_index": 0, "error": None}
    assert parse_server_event(copy.deepcopy(payload)).model_dump() == payload


def test_unknown_event_with_a_non_integer_sequence_number_is_kept_not_rejected():
    payload = {"type": "vendor.heartbeat", "sequence_number": "000017"}
    event = parse_server_event(copy.deepcopy(payload))
    assert type(event) is UnknownEvent
    assert event.model_dump() == payload


# --- input that is not an event --------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    ["[1, 2]", '"response.created"', "null", "42", "{", "", b"\xff\xfe", b'{"type":"x\xff"}', {}, {"delta": "x"}],
    ids=["array", "string", "null", "number", "truncated", "empty", "bad_utf8", "bad_utf8_in_str", "empty", "no_type"],
)
def test_input_that_is_not_an_event_object_raises_validation_error(data):
    with pytest.raises(ValidationError):
        parse_server_event(data)


@pytest.mark.parametrize("kind", [None, 1, 1.5, True], ids=["null", "int", "float", "bool"])
def test_hashable_non_string_type_raises_validation_error(kind):
    with pytest.raises(ValidationError):
        parse_server_event({"type": kind})


@pytest.mark.parametrize(
    "data",
    [{"type": []}, {"type": {"name": "response.created"}}, '{"type":["error"]}', b'{"type":{}}'],
    ids=["list", "dict", "list_json", "dict_json"],
)
def test_unhashable_type_raises_validation_error(data):
    with pytest.raises(ValidationError):
        parse_server_event(data)


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "response.output_item.added", "output_index": 0, "item": {"type": ["message"]}},
        {
            "type": "response.content_part.added",
            "item_id": MESSAGE_ID,
            "output_index": 0,
            "content_index": 0,
            "part": {"type": {}},
        },
        {"type": "response.completed", "response": {"id": "resp_1", "output": [{"type": []}]}},
    ],
    ids=["item", "part", "response_output_item"],
)
def test_unhashable_nested_item_or_part_type_raises_validation_error(payload):
    with pytest.raises(ValidationError):
        parse_server_event(payload)


# --- Usage -----------------------------------------------------------------------------------


def test_usage_cached_tokens_and_cache_ratio():
    usage = Usage.model_validate(
        {
            "input_tokens": 1000,
            "input_tokens_details": {"cached_tokens": 250},
            "output_tokens": 10,
            "total_tokens": 1010,
        }
    )
    assert usage.cached_tokens == 250
    assert usage.cache_ratio == 0.25


def test_usage_with_null_input_tokens_details_has_no_cached_tokens():
    usage = Usage.model_validate(
        {"input_tokens": 1000, "input_tokens_details": None, "output_tokens": 10, "total_tokens": 1010}
    )
    assert usage.cached_tokens == 0
    assert usage.cache_ratio == 0.0


def test_usage_without_input_tokens_details_has_no_cached_tokens():
    usage = Usage.model_validate({"input_tokens": 10, "output_tokens": 1, "total_tokens": 11})
    assert usage.cached_tokens == 0
    assert usage.cache_ratio == 0.0


def test_usage_with_zero_input_tokens_has_zero_cache_ratio():
    usage = Usage.model_validate({"input_tokens": 0, "input_tokens_details": {"cached_tokens": 0}})
    assert usage.cache_ratio == 0.0


def test_usage_fully_cached_has_cache_ratio_one():
    usage = Usage.model_validate({"input_tokens": 2048, "input_tokens_details": {"cached_tokens": 2048}})
    assert usage.cache_ratio == 1.0


def test_usage_details_without_cached_tokens_default_to_zero():
    assert Usage.model_validate({"input_tokens": 5, "input_tokens_details": {}}).cached_tokens == 0


def test_usage_in_a_completed_event_gives_the_cache_ratio():
    usage = parse_server_event(copy_payload("response.completed")).response.usage
    assert usage.cache_ratio == pytest.approx(1024 / 1200)


# --- property tests --------------------------------------------------------------------------

_FIELD_NAMES = sorted(
    {name for cls in EVENT_TYPES.values() for name in cls.model_fields}
    | {"role", "content", "text", "id", "call_id", "name", "arguments", "summary", "status", "output", "code"}
)
_KEYS = st.sampled_from(_FIELD_NAMES) | st.text(max_size=12)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(sorted(EVENT_TYPES))
)
JSON_VALUES = st.recursive(
    _SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(_KEYS, children, max_size=5)
        | st.builds(lambda kind, rest: {**rest, "type": kind}, children, st.dictionaries(_KEYS, children, max_size=4))
    ),
    max_leaves=20,
)
UNKNOWN_TYPES = st.text(max_size=40).filter(lambda kind: kind not in EVENT_TYPES) | st.sampled_from(
    sorted(UNKNOWN_EVENTS)
)
ANY_TYPE_STRING = st.sampled_from(sorted(EVENT_TYPES)) | UNKNOWN_TYPES


@st.composite
def mutated_known_events(draw: st.DrawFn) -> dict[str, Any]:
    """A realistic payload of a known type with fields dropped, replaced, re-typed or added."""
    payload = copy_payload(draw(st.sampled_from(sorted(EVENT_PAYLOADS))))
    for key in sorted(payload):
        if key == "type":
            continue
        action = draw(st.sampled_from(["keep", "drop", "replace", "retype"]))
        if action == "drop":
            del payload[key]
        elif action == "replace":
            payload[key] = draw(JSON_VALUES)
        elif action == "retype" and isinstance(payload[key], dict):
            payload[key] = {**payload[key], "type": draw(JSON_VALUES)}
    payload.update(draw(st.dictionaries(_KEYS.filter(lambda key: key != "type"), JSON_VALUES, max_size=3)))
    return payload


@st.composite
def random_events(draw: st.DrawFn) -> dict[str, Any]:
    """An arbitrary JSON object with a `type` string and arbitrary other fields."""
    payload = draw(st.dictionaries(_KEYS, JSON_VALUES, max_size=6))
    payload["type"] = draw(ANY_TYPE_STRING)
    return payload


PROPERTY_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(payload=random_events() | mutated_known_events())
@example(payload={"type": "response.output_item.added", "output_index": 0, "item": {"type": []}})
@example(payload={"type": "response.output_item.done", "output_index": 0, "item": None})
def test_parse_server_event_returns_a_model_or_raises_validation_error(payload):
    for data in (payload, orjson.dumps(payload)):
        try:
            event = parse_server_event(copy.deepcopy(data) if isinstance(data, dict) else data)
        except ValidationError:
            continue
        assert isinstance(event, ServerEventBase | UnknownEvent)
        assert event.type == payload["type"]
        assert type(event) is EVENT_TYPES.get(payload["type"], UnknownEvent)


@PROPERTY_SETTINGS
@given(kind=UNKNOWN_TYPES, fields=st.dictionaries(_KEYS, JSON_VALUES, max_size=6))
def test_unknown_event_type_always_parses_to_unknown_event_equal_to_its_input(kind, fields):
    payload = {**fields, "type": kind}
    event = parse_server_event(copy.deepcopy(payload))
    assert type(event) is UnknownEvent
    assert event.model_dump() == payload


def test_server_event_union_lists_every_modelled_class_and_unknown_event():
    from agent.wire.events import ServerEvent

    union = typing.get_args(ServerEvent)[0]
    members = {typing.get_args(member)[0] for member in typing.get_args(union)}
    assert members == set(EVENT_TYPES.values()) | {UnknownEvent}
