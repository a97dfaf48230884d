"""Bad frames get a clear `error` event and the connection stays usable; the server never dies."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.wsclient import create, open_socket, read_response, user


def expect_error_then_recover(ws, code: str, param: str | None = None) -> dict:
    [event] = read_response(ws)
    assert event["type"] == "error"
    assert event["status"] == 400
    assert event["error"]["type"] == "invalid_request_error"
    assert event["error"]["code"] == code
    assert event["error"]["message"]
    if param is not None:
        assert event["error"]["param"] == param
    create(ws, input=user("read a.py"))
    assert read_response(ws)[-1]["type"] == "response.completed"
    return event


def test_a_frame_that_is_not_json(server):
    with open_socket(server.address.websocket_url) as ws:
        ws.send("{not json")
        event = expect_error_then_recover(ws, "invalid_json")
    assert "not valid JSON" in event["error"]["message"]


@pytest.mark.parametrize("frame", ["[1, 2]", '"text"', "42", '{"no_type": true}', '{"type": 7}'])
def test_json_that_is_not_an_event(server, frame):
    with open_socket(server.address.websocket_url) as ws:
        ws.send(frame)
        expect_error_then_recover(ws, "invalid_json")


def test_an_unknown_client_event_type(server):
    with open_socket(server.address.websocket_url) as ws:
        ws.send(json.dumps({"type": "response.cancel"}))
        event = expect_error_then_recover(ws, "unsupported_event_type", param="type")
    assert "response.cancel" in event["error"]["message"]


@pytest.mark.parametrize(
    ("field", "value"),
    [("store", "yes"), ("input", 12), ("tools", {"a": 1}), ("max_output_tokens", "many"), ("model", ["m"])],
)
def test_a_wrong_typed_field(server, field, value):
    with open_socket(server.address.websocket_url) as ws:
        create(ws, **{"input": user("read a.py"), field: value})
        event = expect_error_then_recover(ws, "invalid_value")
    assert event["error"]["param"].split(".")[0] == field


def test_a_frame_over_the_size_limit(start_server):
    server = start_server(max_frame_bytes=64 * 1024)
    with open_socket(server.address.websocket_url) as ws:
        create(ws, input=user("x" * 100_000))
        event = expect_error_then_recover(ws, "frame_too_large")
    assert "exceeds the limit" in event["error"]["message"]


def test_a_binary_frame(server):
    with open_socket(server.address.websocket_url) as ws:
        ws.send(b'{"type":"response.create"}')
        expect_error_then_recover(ws, "invalid_frame")


def test_errors_for_bad_frames_keep_their_place_in_the_queue(server):
    with open_socket(server.address.websocket_url) as ws:
        create(ws, input=user("read a.py"))
        ws.send("garbage")
        create(ws, input=user("read a.py"))
        first, bad, last = read_response(ws), read_response(ws), read_response(ws)
    assert first[-1]["type"] == "response.completed"
    assert [event["type"] for event in bad] == ["error"]
    assert last[-1]["type"] == "response.completed"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
create_like = st.fixed_dictionaries(
    {"type": st.just("response.create")},
    optional={
        "input": json_values,
        "model": json_values,
        "store": json_values,
        "tools": json_values,
        "previous_response_id": json_values,
        "generate": json_values,
        "instructions": json_values,
    },
)
frames = st.one_of(
    st.text(max_size=200),
    json_values.map(json.dumps),
    create_like.map(json.dumps),
    st.binary(max_size=50),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=frames)
def test_random_frames_get_an_answer_and_never_kill_the_server(server, frame):
    with open_socket(server.address.websocket_url) as ws:
        ws.send(frame)
        answer = read_response(ws)
        assert answer[-1]["type"] in ("error", "response.completed", "response.failed")
        create(ws, input=user("read a.py"))
        assert read_response(ws)[-1]["type"] == "response.completed"
