"""Input and output items and their content parts (`agent.wire.items`)."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from pydantic import TypeAdapter, ValidationError

from agent.wire import (
    CustomToolCall,
    CustomToolCallOutput,
    FunctionCall,
    FunctionCallOutput,
    InputText,
    Item,
    Message,
    OutputText,
    Reasoning,
    SummaryText,
    UnknownItem,
    user_message,
)
from agent.wire.items import ContentPart, InputImage, ReasoningText, Refusal, UnknownPart, tool_output_content

ITEM: TypeAdapter[Any] = TypeAdapter(Item)
PART: TypeAdapter[Any] = TypeAdapter(ContentPart)


def parse_item(data: Any) -> Any:
    return ITEM.validate_python(data)


ASSISTANT_MESSAGE = {
    "type": "message",
    "id": "msg_68af1c2e9e0c8191a3b1",
    "status": "completed",
    "role": "assistant",
    "content": [
        {"type": "output_text", "text": "The file says ", "annotations": [], "logprobs": []},
        {"type": "output_text", "text": "hello.", "annotations": []},
    ],
}
USER_MESSAGE_STRING = {"type": "message", "role": "user", "content": "read a.py"}
USER_MESSAGE_PARTS = {
    "type": "message",
    "role": "user",
    "content": [{"type": "input_text", "text": "read "}, {"type": "input_text", "text": "a.py"}],
}
FUNCTION_CALL = {
    "type": "function_call",
    "id": "fc_68af1c30a4d48191",
    "call_id": "call_Zk2b7q",
    "name": "read_file",
    "arguments": '{"path":"a.py"}',
    "status": "completed",
}
FUNCTION_CALL_OUTPUT = {"type": "function_call_output", "call_id": "call_Zk2b7q", "output": "print('hello')\n"}
FUNCTION_CALL_OUTPUT_PARTS = {
    "type": "function_call_output",
    "call_id": "call_Zk2b7q",
    "output": [
        {"type": "input_text", "text": "screenshot attached"},
        {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"},
    ],
}
REASONING = {
    "type": "reasoning",
    "id": "rs_68af1c2d5e8c8191",
    "summary": [
        {"type": "summary_text", "text": "**Reading the file**\n\nThe user wants a.py."},
        {"type": "summary_text", "text": "It has one line."},
    ],
    "encrypted_content": "gAAAAABor3Et4sW0_opaque_blob==",
}
REASONING_WITH_CONTENT = {
    "type": "reasoning",
    "id": "rs_2",
    "summary": [],
    "content": [{"type": "reasoning_text", "text": "Let me look at a.py first."}],
    "status": "completed",
}
CUSTOM_TOOL_CALL = {
    "type": "custom_tool_call",
    "id": "ctc_68af1c31",
    "call_id": "call_patch_1",
    "name": "apply_patch",
    "input": "*** Begin Patch\n*** Update File: a.py\n-print('hello')\n+print('bye')\n*** End Patch",
    "status": "completed",
}
CUSTOM_TOOL_CALL_OUTPUT = {
    "type": "custom_tool_call_output",
    "call_id": "call_patch_1",
    "output": "Done. 1 file changed.",
}

KNOWN_ITEMS: dict[str, tuple[dict[str, Any], type]] = {
    "assistant_message": (ASSISTANT_MESSAGE, Message),
    "user_message_string": (USER_MESSAGE_STRING, Message),
    "user_message_parts": (USER_MESSAGE_PARTS, Message),
    "function_call": (FUNCTION_CALL, FunctionCall),
    "function_call_output": (FUNCTION_CALL_OUTPUT, FunctionCallOutput),
    "function_call_output_parts": (FUNCTION_CALL_OUTPUT_PARTS, FunctionCallOutput),
    "reasoning": (REASONING, Reasoning),
    "reasoning_with_content": (REASONING_WITH_CONTENT, Reasoning),
    "custom_tool_call": (CUSTOM_TOOL_CALL, CustomToolCall),
    "custom_tool_call_output": (CUSTOM_TOOL_CALL_OUTPUT, CustomToolCallOutput),
}

UNKNOWN_ITEMS = {
    "web_search_call": {
        "type": "web_search_call",
        "id": "ws_68af1c33",
        "status": "completed",
        "action": {"type": "search", "query": "pydantic discriminated unions"},
    },
    "item_reference": {"type": "item_reference", "id": "msg_68af1c2e9e0c8191a3b1"},
    "compaction": {"type": "compaction", "id": "cmp_1", "encrypted_content": "gAAAAABcompacted=="},
    "local_shell_call": {
        "type": "local_shell_call",
        "id": "lsh_1",
        "call_id": "call_sh",
        "status": "completed",
        "action": {"type": "exec", "command": ["ls", "-la"], "env": {}, "timeout_ms": 1000},
    },
    "mcp_call": {
        "type": "mcp_call",
        "id": "mcp_1",
        "server_label": "docs",
        "name": "search",
        "arguments": "{}",
        "output": "[]",
    },
}


# --- known item types ------------------------------------------------------------------------


@pytest.mark.parametrize(("data", "model"), list(KNOWN_ITEMS.values()), ids=list(KNOWN_ITEMS))
def test_known_item_type_parses_to_its_model(data, model):
    assert type(parse_item(data)) is model


@pytest.mark.parametrize(("data", "model"), list(KNOWN_ITEMS.values()), ids=list(KNOWN_ITEMS))
def test_known_item_dump_round_trips_to_the_input(data, model):
    item = parse_item(copy.deepcopy(data))
    assert item.model_dump() == data
    assert orjson.loads(item.model_dump_json()) == data
    assert parse_item(item.model_dump()) == item


@pytest.mark.parametrize(("data", "model"), list(KNOWN_ITEMS.values()), ids=list(KNOWN_ITEMS))
def test_item_adapter_accepts_an_already_built_model(data, model):
    built = model.model_validate(data)
    assert parse_item(built) == built
    assert type(parse_item(built)) is model


def test_message_with_string_content_keeps_the_string():
    message = parse_item(USER_MESSAGE_STRING)
    assert message.role == "user"
    assert message.content == "read a.py"
    assert message.id is None
    assert message.status is None


def test_assistant_message_with_a_list_of_parts_parses_each_part():
    message = parse_item(ASSISTANT_MESSAGE)
    assert message.id == "msg_68af1c2e9e0c8191a3b1"
    assert message.status == "completed"
    assert [type(part) for part in message.content] == [OutputText, OutputText]
    assert message.content[0].text == "The file says "
    assert message.content[0].annotations == []
    assert message.content[0].model_extra == {"logprobs": []}


@pytest.mark.parametrize("role", ["user", "assistant", "system", "developer"])
def test_input_message_without_type_but_with_role_becomes_message(role):
    message = parse_item({"role": role, "content": "be brief"})
    assert type(message) is Message
    assert message.type == "message"
    assert message.role == role
    assert message.model_dump() == {"type": "message", "role": role, "content": "be brief"}


def test_input_message_without_type_with_a_list_of_parts_becomes_message():
    message = parse_item({"role": "user", "content": [{"type": "input_text", "text": "hi"}]})
    assert type(message) is Message
    assert message.content == [InputText(text="hi")]


def test_dict_without_type_or_role_is_rejected():
    with pytest.raises(ValidationError):
        parse_item({"content": "orphan"})


def test_message_with_an_unknown_role_is_rejected():
    with pytest.raises(ValidationError):
        parse_item({"type": "message", "role": "tool", "content": "x"})


@pytest.mark.parametrize(
    "data",
    [
        {"type": "function_call", "name": "read_file", "arguments": "{}"},
        {"type": "function_call", "call_id": "c", "name": "read_file"},
        {"type": "function_call_output", "output": "x"},
        {"type": "custom_tool_call", "call_id": "c", "name": "apply_patch"},
        {"type": "custom_tool_call_output", "call_id": "c"},
        {"type": "message", "content": "no role"},
        {"type": "message", "role": "user"},
        {"type": "reasoning", "summary": "not a list"},
    ],
    ids=[
        "function_call_without_call_id",
        "function_call_without_arguments",
        "function_call_output_without_call_id",
        "custom_tool_call_without_input",
        "custom_tool_call_output_without_output",
        "message_without_role",
        "message_without_content",
        "reasoning_with_string_summary",
    ],
)
def test_known_item_type_with_missing_or_wrong_fields_is_rejected(data):
    with pytest.raises(ValidationError):
        parse_item(data)


def test_function_call_fields_are_read():
    call = parse_item(FUNCTION_CALL)
    assert (call.id, call.call_id, call.name, call.status) == (
        "fc_68af1c30a4d48191",
        "call_Zk2b7q",
        "read_file",
        "completed",
    )
    assert orjson.loads(call.arguments) == {"path": "a.py"}


def test_function_call_output_with_string_output():
    output = parse_item(FUNCTION_CALL_OUTPUT)
    assert output.call_id == "call_Zk2b7q"
    assert output.output == "print('hello')\n"


def test_function_call_output_with_parts_reads_the_image_part():
    output = parse_item(FUNCTION_CALL_OUTPUT_PARTS)
    text, image = output.output
    assert text == InputText(text="screenshot attached")
    assert image == InputImage(image_url="data:image/png;base64,iVBORw0KGgo=", detail="low")


def test_tool_output_content_is_plain_text_without_images():
    assert tool_output_content("done") == "done"
    text, image = tool_output_content("a picture", ["data:image/png;base64,AA=="])
    assert text == InputText(text="a picture")
    assert image == InputImage(image_url="data:image/png;base64,AA==")


def test_user_message_carries_its_images_after_the_text():
    message = user_message("look", ["data:image/png;base64,AA=="])
    assert [part.type for part in message.content] == ["input_text", "input_image"]


def test_reasoning_keeps_encrypted_content_and_summary_parts():
    reasoning = parse_item(REASONING)
    assert reasoning.encrypted_content == "gAAAAABor3Et4sW0_opaque_blob=="
    assert [type(part) for part in reasoning.summary] == [SummaryText, SummaryText]
    assert reasoning.summary[1].text == "It has one line."
    assert reasoning.content is None


def test_reasoning_content_parts_parse_to_reasoning_text():
    reasoning = parse_item(REASONING_WITH_CONTENT)
    assert reasoning.content == [ReasoningText(text="Let me look at a.py first.")]
    assert reasoning.encrypted_content is None


def test_reasoning_summary_part_of_unknown_type_is_kept():
    reasoning = parse_item({"type": "reasoning", "summary": [{"type": "summary_image", "url": "u"}]})
    (part,) = reasoning.summary
    assert type(part) is UnknownPart
    assert part.model_dump() == {"type": "summary_image", "url": "u"}


def test_reasoning_summary_text_with_extra_fields_stays_summary_text():
    reasoning = parse_item({"type": "reasoning", "summary": [{"type": "summary_text", "text": "x", "index": 0}]})
    (part,) = reasoning.summary
    assert type(part) is SummaryText
    assert part.model_extra == {"index": 0}


def test_reasoning_without_summary_serialises_an_empty_summary_list():
    assert parse_item({"type": "reasoning", "id": "rs_3"}).model_dump() == {
        "type": "reasoning",
        "id": "rs_3",
        "summary": [],
    }


def test_custom_tool_call_and_output_fields_are_read():
    call = parse_item(CUSTOM_TOOL_CALL)
    output = parse_item(CUSTOM_TOOL_CALL_OUTPUT)
    assert (call.call_id, call.name) == ("call_patch_1", "apply_patch")
    assert call.input.startswith("*** Begin Patch")
    assert output.call_id == call.call_id
    assert output.output == "Done. 1 file changed."


# --- content parts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "model"),
    [
        ({"type": "input_text", "text": "hi"}, InputText),
        ({"type": "output_text", "text": "hi", "annotations": []}, OutputText),
        ({"type": "refusal", "refusal": "I can't help with that."}, Refusal),
        ({"type": "summary_text", "text": "hi"}, SummaryText),
        ({"type": "reasoning_text", "text": "hi"}, ReasoningText),
        ({"type": "input_image", "image_url": "https://example.com/a.png", "detail": "auto"}, InputImage),
        ({"type": "input_file", "file_id": "file-abc"}, UnknownPart),
    ],
    ids=["input_text", "output_text", "refusal", "summary_text", "reasoning_text", "input_image", "input_file"],
)
def test_content_part_parses_to_its_model_and_round_trips(data, model):
    part = PART.validate_python(data)
    assert type(part) is model
    assert part.model_dump() == data


def test_output_text_without_annotations_defaults_to_an_empty_list():
    assert PART.validate_python({"type": "output_text", "text": "x"}).annotations == []


# --- unknown item types ----------------------------------------------------------------------


@pytest.mark.parametrize("data", list(UNKNOWN_ITEMS.values()), ids=list(UNKNOWN_ITEMS))
def test_unknown_item_type_becomes_unknown_item_with_every_field_kept(data):
    item = parse_item(copy.deepcopy(data))
    assert type(item) is UnknownItem
    assert item.type == data["type"]
    assert item.model_extra == {key: value for key, value in data.items() if key != "type"}
    assert item.model_dump() == data
    assert orjson.loads(item.model_dump_json()) == data


def test_unknown_item_fields_are_readable_as_attributes():
    item = parse_item(UNKNOWN_ITEMS["web_search_call"])
    assert item.id == "ws_68af1c33"
    assert item.action == {"type": "search", "query": "pydantic discriminated unions"}


def test_unknown_item_keeps_null_valued_fields_in_its_dump():
    data = {"type": "image_generation_call", "id": "ig_1", "status": "generating", "result": None}
    item = parse_item(data)
    assert type(item) is UnknownItem
    assert item.model_dump() == data


def test_item_with_non_string_type_is_rejected_with_validation_error():
    with pytest.raises(ValidationError):
        parse_item({"type": ["message"], "role": "user", "content": "x"})


def test_content_part_with_non_string_type_is_rejected_with_validation_error():
    with pytest.raises(ValidationError):
        parse_item({"type": "message", "role": "user", "content": [{"type": {"kind": "input_text"}}]})


# --- extra fields and compact serialisation --------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        {**FUNCTION_CALL, "namespace": "fs", "x_trace": {"span": [1, 2, 3]}},
        {**ASSISTANT_MESSAGE, "phase": "final_answer"},
        {**REASONING, "x_effort": "high"},
        {**CUSTOM_TOOL_CALL, "format": {"type": "grammar", "syntax": "lark"}},
        {**CUSTOM_TOOL_CALL_OUTPUT, "status": "completed"},
        {**FUNCTION_CALL_OUTPUT, "id": "fco_1", "x_exit_code": 0},
    ],
    ids=["function_call", "message", "reasoning", "custom_tool_call", "custom_tool_call_output", "fc_output"],
)
def test_unknown_extra_fields_on_known_items_survive_a_round_trip(data):
    item = parse_item(copy.deepcopy(data))
    assert item.model_extra
    dumped = item.model_dump()
    assert dumped == data
    again = parse_item(dumped)
    assert again == item
    assert again.model_extra == item.model_extra


def test_unknown_extra_fields_on_content_parts_survive_a_round_trip():
    data = {
        "type": "message",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "x", "annotations": [], "logprobs": [{"token": "x"}]}],
    }
    assert parse_item(data).model_dump() == data


@pytest.mark.parametrize(
    ("model", "kwargs", "expected"),
    [
        (Message, {"role": "user", "content": "hi"}, {"type": "message", "role": "user", "content": "hi"}),
        (
            FunctionCall,
            {"call_id": "c", "name": "n", "arguments": "{}"},
            {"type": "function_call", "call_id": "c", "name": "n", "arguments": "{}"},
        ),
        (
            FunctionCallOutput,
            {"call_id": "c", "output": "ok"},
            {"type": "function_call_output", "call_id": "c", "output": "ok"},
        ),
        (Reasoning, {"summary": []}, {"type": "reasoning", "summary": []}),
        (
            CustomToolCall,
            {"call_id": "c", "name": "n", "input": "x"},
            {"type": "custom_tool_call", "call_id": "c", "name": "n", "input": "x"},
        ),
        (
            CustomToolCallOutput,
            {"call_id": "c", "output": "ok"},
            {"type": "custom_tool_call_output", "call_id": "c", "output": "ok"},
        ),
    ],
    ids=["message", "function_call", "function_call_output", "reasoning", "custom_tool_call", "ctc_output"],
)
def test_unset_optional_fields_are_left_out_when_serialising(model, kwargs, expected):
    item = model(**kwargs)
    assert item.model_dump() == expected
    assert orjson.loads(item.model_dump_json()) == expected
    assert item.model_dump(mode="json") == expected


def test_explicit_none_optional_fields_are_left_out_when_serialising():
    item = parse_item({**FUNCTION_CALL, "id": None, "status": None})
    dumped = item.model_dump()
    assert "id" not in dumped
    assert "status" not in dumped
    assert dumped["call_id"] == "call_Zk2b7q"


def test_none_fields_of_nested_parts_and_items_are_left_out():
    reasoning = Reasoning(id=None, summary=[SummaryText(text="s")], content=None, encrypted_content=None)
    assert reasoning.model_dump() == {"type": "reasoning", "summary": [{"type": "summary_text", "text": "s"}]}


def test_empty_string_and_false_like_values_are_not_dropped():
    item = FunctionCall(id="", call_id="c", name="n", arguments="", status="")
    assert item.model_dump() == {
        "type": "function_call",
        "id": "",
        "call_id": "c",
        "name": "n",
        "arguments": "",
        "status": "",
    }


# --- Message.text() and user_message() -------------------------------------------------------


def test_message_text_of_string_content_is_the_string():
    assert Message(role="assistant", content="Goodbye.").text() == "Goodbye."


def test_message_text_concatenates_the_text_parts_in_order():
    assert parse_item(ASSISTANT_MESSAGE).text() == "The file says hello."
    assert parse_item(USER_MESSAGE_PARTS).text() == "read a.py"


def test_message_text_skips_refusal_and_unknown_parts():
    message = parse_item(
        {
            "role": "assistant",
            "content": [
                {"type": "output_text", "text": "A"},
                {"type": "refusal", "refusal": "no"},
                {"type": "input_image", "image_url": "https://example.com/a.png"},
                {"type": "output_text", "text": "B"},
            ],
        }
    )
    assert message.text() == "AB"


def test_message_text_of_empty_parts_list_is_empty():
    assert Message(role="user", content=[]).text() == ""


def test_user_message_is_a_user_message_with_one_input_text_part():
    message = user_message("read a.py")
    assert type(message) is Message
    assert message.role == "user"
    assert message.content == [InputText(text="read a.py")]
    assert message.text() == "read a.py"
    assert message.model_dump() == {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "read a.py"}],
    }


def test_user_message_dump_parses_back_to_an_equal_item():
    message = user_message("héllo ✓\nsecond line")
    assert parse_item(message.model_dump()) == message
    assert parse_item(orjson.loads(message.model_dump_json())) == message


def test_user_message_with_empty_text_keeps_the_empty_part():
    assert user_message("").model_dump()["content"] == [{"type": "input_text", "text": ""}]
