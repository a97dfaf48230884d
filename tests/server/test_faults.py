"""Fault injection, as a client sees it."""

from __future__ import annotations

import json
import time

import httpx
import pytest
from websockets.exceptions import ConnectionClosedError, InvalidStatus

from server.faults import Fault
from tests.conftest import tool_scenario
from tests.server.wsclient import call_output, create, open_socket, read_response, user


@pytest.mark.parametrize(("status", "retry_after"), [(401, None), (426, None), (429, 2.0)])
def test_upgrade_refused_once_then_accepted(server, status, retry_after):
    server.state.faults.add(Fault(kind="reject_upgrade", status=status, retry_after=retry_after))
    with pytest.raises(InvalidStatus) as refused:
        open_socket(server.address.websocket_url)
    response = refused.value.response
    assert response.status_code == status
    assert response.headers.get("Retry-After") == (None if retry_after is None else "2")
    with open_socket(server.address.websocket_url) as ws:
        create(ws, input=user("read a.py"))
        assert read_response(ws)[-1]["type"] == "response.completed"


def test_close_after_k_events_then_a_resend_completes(server):
    server.state.faults.add(Fault(kind="close", after_events=5, close_code=1011))
    with open_socket(server.address.websocket_url) as ws:
        create(ws, input=user("read a.py"))
        received = []
        with pytest.raises(ConnectionClosedError):
            while True:
                received.append(json.loads(ws.recv(timeout=5)))
    assert len(received) == 5
    assert ws.close_code == 1011
    with open_socket(server.address.websocket_url) as again:
        create(again, input=user("read a.py"))
        assert read_response(again)[-1]["type"] == "response.completed"


def test_error_event_replaces_the_rest_of_the_response(server):
    error = {"status": 429, "error": {"type": "rate_limit_error", "code": "rate_limit_exceeded", "message": "slow"}}
    server.state.faults.add(Fault(kind="error", after_events=2, error=error))
    with open_socket(server.address.websocket_url) as ws:
        create(ws, input=user("read a.py"))
        events = read_response(ws)
        assert [e["type"] for e in events] == ["response.created", "response.in_progress", "error"]
        assert events[-1] == {"type": "error", **error}
        create(ws, input=user("read a.py"))
        assert read_response(ws)[-1]["type"] == "response.completed"


def test_stall_sends_nothing_but_keeps_answering_pings(server):
    server.state.faults.add(Fault(kind="stall", after_events=3))
    with open_socket(server.address.websocket_url) as ws:
        create(ws, input=user("read a.py"))
        for _ in range(3):
            ws.recv(timeout=5)
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.5)
        assert ws.ping().wait(timeout=5)


def test_oversize_frame_is_delivered_between_normal_events(server):
    server.state.faults.add(Fault(kind="oversize", after_events=1, size_bytes=2 * 1024 * 1024))
    with open_socket(server.address.websocket_url) as ws:
        create(ws, input=user("read a.py"))
        events = read_response(ws)
    padding = [e for e in events if e["type"] == "codeassist.padding"]
    assert len(padding) == 1 and len(json.dumps(padding[0])) >= 2 * 1024 * 1024 - 100
    assert events[-1]["type"] == "response.completed"


def test_oversize_frame_closes_a_client_with_a_small_limit(server):
    server.state.faults.add(Fault(kind="oversize", after_events=1, size_bytes=2 * 1024 * 1024))
    from websockets.sync.client import connect

    with connect(server.address.websocket_url, max_size=1024 * 1024) as ws:
        create(ws, input=user("read a.py"))
        with pytest.raises(ConnectionClosedError) as closed:
            while True:
                ws.recv(timeout=5)
    assert closed.value.rcvd is None or closed.value.sent.code == 1009


def test_forget_drops_the_cached_response(server):
    with open_socket(server.address.websocket_url) as ws:
        create(ws, input=user("read a.py"), store=False)
        parent = read_response(ws)[-1]["response"]["id"]
        server.state.faults.add(Fault(kind="forget"))
        create(ws, input=call_output("call_a"), previous_response_id=parent, store=False)
        assert read_response(ws)[-1]["error"]["code"] == "previous_response_not_found"


def test_a_turn_fault_in_the_scenario_fires_once_for_that_turn(start_server):
    scenario = tool_scenario()
    scenario.turns[1].fault = Fault(kind="close", after_events=3)
    server = start_server(scenario)
    with open_socket(server.address.websocket_url) as ws:
        create(ws, input=user("read a.py"), store=False)
        first = read_response(ws)[-1]["response"]
        create(ws, input=call_output("call_a"), previous_response_id=first["id"], store=False)
        with pytest.raises(ConnectionClosedError):
            read_response(ws)
    full_history = [*user("read a.py"), *first["output"], *call_output("call_a")]
    with open_socket(server.address.websocket_url) as ws:
        create(ws, input=full_history, store=False)
        assert read_response(ws)[-1]["response"]["output"][1]["content"][0]["text"] == "The file says hello."


def test_faults_can_be_armed_over_http(server):
    url = server.address.base_url.removesuffix("/v1") + "/_codeassist/faults"
    assert httpx.post(url, json=[{"kind": "reject_upgrade", "status": 426}]).json() == {"armed": 1}
    with pytest.raises(InvalidStatus):
        open_socket(server.address.websocket_url)
    assert httpx.post(url, json={"kind": "nonsense"}).status_code == 400


def test_stalled_http_stream_sends_nothing_more(server):
    server.state.faults.add(Fault(kind="stall", after_events=2))
    started = time.monotonic()
    with (
        httpx.Client(timeout=httpx.Timeout(5, read=0.5)) as client,
        client.stream(
            "POST", server.address.base_url + "/responses", json={"model": "m", "input": "read a.py", "stream": True}
        ) as response,
    ):
        lines = []
        with pytest.raises(httpx.ReadTimeout):
            for line in response.iter_lines():
                lines.append(line)
    assert sum(line.startswith("data:") for line in lines) == 2
    assert time.monotonic() - started < 5
