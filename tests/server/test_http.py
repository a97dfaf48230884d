"""`POST /v1/responses` over plain HTTP: SSE framing, JSON answers and HTTP errors."""

from __future__ import annotations

import json

import httpx
import pytest
from httpx_sse import connect_sse

from server.faults import Fault
from tests.server.event_order import check_event_order


def stream_events(server, body, headers=None):
    with (
        httpx.Client(timeout=10) as client,
        connect_sse(
            client, "POST", server.address.base_url + "/responses", json=body, headers=dict(headers or {})
        ) as source,
    ):
        assert source.response.headers["content-type"].startswith("text/event-stream")
        return [(sse.event, json.loads(sse.data)) for sse in source.iter_sse()]


def test_sse_names_each_event_after_its_type_and_follows_the_order(server):
    pairs = stream_events(server, {"model": "m", "input": "read a.py", "stream": True})
    assert all(name == event["type"] for name, event in pairs)
    check_event_order([event for _, event in pairs])


def test_http_and_websocket_send_the_same_events(server):
    from tests.server.wsclient import create, open_socket, read_response, user

    over_http = [
        event for _, event in stream_events(server, {"model": "m", "input": user("read a.py"), "stream": True})
    ]
    with open_socket(server.address.websocket_url) as ws:
        create(ws, input=user("read a.py"))
        over_ws = read_response(ws)

    def shape(events):
        return [(e["type"], e.get("delta"), e.get("text"), e.get("arguments")) for e in events]

    assert shape(over_http) == shape(over_ws)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{oops", 400, "invalid_json"),
        (b"[1]", 400, "invalid_json"),
        (json.dumps({"model": "m", "input": 5}).encode(), 400, "invalid_value"),
        (json.dumps({"model": "m", "input": "x", "background": True}).encode(), 400, "unsupported_parameter"),
        (
            json.dumps({"model": "m", "input": "x", "previous_response_id": "resp_x"}).encode(),
            400,
            "previous_response_not_found",
        ),
    ],
)
def test_bad_requests_are_http_errors_with_an_error_body(server, body, status, code):
    response = httpx.post(
        server.address.base_url + "/responses", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert error["type"] == "invalid_request_error"
    assert error["message"]


def test_a_body_over_the_limit_is_a_413(start_server):
    server = start_server(max_frame_bytes=1024)
    response = httpx.post(server.address.base_url + "/responses", json={"model": "m", "input": "x" * 2000})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"


def test_retrieving_an_unknown_response_is_a_404(server):
    response = httpx.get(server.address.base_url + "/responses/resp_nothing")
    assert response.status_code == 404


def test_store_false_responses_cannot_be_chained_over_http(server):
    first = httpx.post(
        server.address.base_url + "/responses", json={"model": "m", "input": "read a.py", "store": False}
    ).json()
    follow = httpx.post(
        server.address.base_url + "/responses",
        json={
            "model": "m",
            "previous_response_id": first["id"],
            "input": [{"type": "function_call_output", "call_id": "call_a", "output": "x"}],
        },
    )
    assert follow.status_code == 400
    assert follow.json()["error"]["code"] == "previous_response_not_found"


def test_error_fault_without_streaming_is_an_http_error(server):
    server.state.faults.add(Fault(kind="error", after_events=1))
    response = httpx.post(server.address.base_url + "/responses", json={"model": "m", "input": "read a.py"})
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "server_error"


def test_close_fault_ends_the_sse_body_before_a_terminal_event(server):
    server.state.faults.add(Fault(kind="close", after_events=4))
    pairs = stream_events(server, {"model": "m", "input": "read a.py", "stream": True})
    assert len(pairs) == 4
    assert pairs[-1][0] != "response.completed"
