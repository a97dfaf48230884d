"""The per-token path: `decode_frame`, `encode_frame` and the event-type sets (`agent.wire.fast`)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent.wire import (
    DELTA_EVENT_TYPES,
    TERMINAL_EVENT_TYPES,
    FrameDecodeError,
    decode_frame,
    encode_frame,
)

DELTA_FRAME = (
    '{"type":"response.output_text.delta","sequence_number":5,"item_id":"msg_1",'
    '"output_index":0,"content_index":0,"delta":"Hel","logprobs":[],"obfuscation":"x9"}'
)


# --- decode_frame -----------------------------------------------------------------------------


def test_decode_frame_of_text_returns_the_object():
    assert decode_frame(DELTA_FRAME) == {
        "type": "response.output_text.delta",
        "sequence_number": 5,
        "item_id": "msg_1",
        "output_index": 0,
        "content_index": 0,
        "delta": "Hel",
        "logprobs": [],
        "obfuscation": "x9",
    }


def test_decode_frame_of_bytes_equals_decode_frame_of_text():
    assert decode_frame(DELTA_FRAME.encode()) == decode_frame(DELTA_FRAME)


def test_decode_frame_keeps_non_ascii_text_from_bytes_and_str():
    frame = '{"type":"response.output_text.delta","delta":"héllo ✓ 日本 🎉"}'
    assert decode_frame(frame)["delta"] == "héllo ✓ 日本 🎉"
    assert decode_frame(frame.encode("utf-8"))["delta"] == "héllo ✓ 日本 🎉"


def test_decode_frame_accepts_surrounding_whitespace_and_unknown_types():
    assert decode_frame(b'\n {"type": "codex.rate_limits", "plan_type": "plus"} \n') == {
        "type": "codex.rate_limits",
        "plan_type": "plus",
    }


def test_decode_frame_accepts_an_empty_type_string():
    assert decode_frame('{"type":""}') == {"type": ""}


def test_frame_decode_error_is_a_value_error():
    assert issubclass(FrameDecodeError, ValueError)


@pytest.mark.parametrize(
    "frame",
    ["", "   ", "{", '{"type":"x"', "not json", "{'type': 'x'}", '{"type":"x",}', '{"type":"x"} trailing', "NaN"],
    ids=["empty", "blank", "open_brace", "unclosed", "word", "single_quotes", "trailing_comma", "trailing", "nan"],
)
def test_decode_frame_of_invalid_json_raises_frame_decode_error(frame):
    with pytest.raises(FrameDecodeError, match="not valid JSON"):
        decode_frame(frame)
    with pytest.raises(FrameDecodeError, match="not valid JSON"):
        decode_frame(frame.encode())


@pytest.mark.parametrize(
    ("frame", "kind"),
    [
        ("[]", "list"),
        ('[{"type":"x"}]', "list"),
        ("1", "int"),
        ("1.5", "float"),
        ('"error"', "str"),
        ("null", "NoneType"),
        ("true", "bool"),
    ],
    ids=["empty_array", "array_of_events", "int", "float", "string", "null", "bool"],
)
def test_decode_frame_of_non_object_json_raises_frame_decode_error(frame, kind):
    with pytest.raises(FrameDecodeError, match=f"JSON {kind}, not an object"):
        decode_frame(frame)


@pytest.mark.parametrize(
    "frame",
    ["{}", '{"kind":"error"}', '{"type":null}', '{"type":1}', '{"type":true}', '{"type":["error"]}', '{"type":{}}'],
    ids=["empty_object", "no_type", "null", "int", "bool", "list", "object"],
)
def test_decode_frame_without_a_string_type_raises_frame_decode_error(frame):
    with pytest.raises(FrameDecodeError, match="no string 'type'"):
        decode_frame(frame)


@pytest.mark.parametrize(
    "frame",
    [b'{"type":"\xff"}', b'{"type":"x","delta":"\xc3\x28"}', b"\xed\xa0\x80", b'{"type":"\xe2\x82"}'],
    ids=["ff_byte", "bad_continuation", "encoded_surrogate", "truncated_sequence"],
)
def test_decode_frame_of_invalid_utf8_bytes_raises_frame_decode_error(frame):
    with pytest.raises(FrameDecodeError):
        decode_frame(frame)


def test_decode_frame_of_a_lone_surrogate_escape_raises_frame_decode_error():
    with pytest.raises(FrameDecodeError):
        decode_frame('{"type":"x","delta":"\\ud800"}')


def test_frame_decode_error_can_be_caught_as_value_error():
    with pytest.raises(ValueError):
        decode_frame("[]")


# --- encode_frame -----------------------------------------------------------------------------


def test_encode_frame_returns_compact_json_text():
    text = encode_frame({"type": "response.output_text.delta", "delta": "a b", "output_index": 0})
    assert isinstance(text, str)
    assert text == '{"type":"response.output_text.delta","delta":"a b","output_index":0}'


def test_encode_frame_writes_non_ascii_text_unescaped():
    assert encode_frame({"type": "x", "delta": "é✓"}) == '{"type":"x","delta":"é✓"}'


def test_encode_frame_output_reads_back_with_the_standard_library():
    event = {"type": "error", "status": 400, "error": {"code": None, "message": "m", "param": None}}
    assert json.loads(encode_frame(event)) == event


def test_encode_frame_round_trips_a_realistic_delta_frame():
    event = decode_frame(DELTA_FRAME)
    assert decode_frame(encode_frame(event)) == event
    assert encode_frame(event) == DELTA_FRAME


_JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_JSON_VALUES = st.recursive(
    _JSON_SCALARS,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=25,
)


@settings(max_examples=200, deadline=None)
@given(kind=st.text(), fields=st.dictionaries(st.text(max_size=10), _JSON_VALUES, max_size=6))
def test_encode_frame_round_trips_with_decode_frame(kind, fields):
    event = {**fields, "type": kind}
    text = encode_frame(event)
    assert decode_frame(text) == event
    assert decode_frame(text.encode()) == event
    assert json.loads(text) == event


# --- DELTA_EVENT_TYPES and TERMINAL_EVENT_TYPES ----------------------------------------------


def test_delta_event_types_are_the_six_streamed_delta_events():
    assert {
        "response.output_text.delta",
        "response.refusal.delta",
        "response.function_call_arguments.delta",
        "response.custom_tool_call_input.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_text.delta",
    } == DELTA_EVENT_TYPES


def test_every_delta_event_type_ends_in_delta():
    assert all(kind.endswith(".delta") for kind in DELTA_EVENT_TYPES)


@pytest.mark.parametrize("kind", sorted(DELTA_EVENT_TYPES))
def test_delta_is_read_from_the_decoded_frame(kind):
    frame = encode_frame(
        {"type": kind, "item_id": "i", "output_index": 0, "content_index": 0, "summary_index": 0, "delta": "Hé✓"}
    )
    data = decode_frame(frame)
    assert data["type"] in DELTA_EVENT_TYPES
    assert data["delta"] == "Hé✓"


def test_terminal_event_types_are_completed_failed_incomplete_done_and_error():
    assert {
        "response.completed",
        "response.failed",
        "response.incomplete",
        "response.done",
        "error",
    } == TERMINAL_EVENT_TYPES


def test_terminal_event_types_include_the_legacy_done_and_error():
    assert "response.done" in TERMINAL_EVENT_TYPES
    assert "error" in TERMINAL_EVENT_TYPES


@pytest.mark.parametrize("kind", ["response.created", "response.in_progress", "response.queued"])
def test_non_terminal_lifecycle_events_are_not_terminal(kind):
    assert kind not in TERMINAL_EVENT_TYPES


def test_delta_and_terminal_event_types_are_disjoint():
    assert not DELTA_EVENT_TYPES & TERMINAL_EVENT_TYPES


def test_event_type_sets_are_immutable():
    sets: list[Any] = [DELTA_EVENT_TYPES, TERMINAL_EVENT_TYPES]
    assert all(isinstance(kinds, frozenset) for kinds in sets)
