"""WebSocket mode against a real server on a loopback port."""

from __future__ import annotations

import json
import time

import pytest
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK, InvalidStatus

from tests.conftest import tool_scenario
from tests.server.event_order import check_event_order
from tests.server.wsclient import call_output, create, open_socket, read_response, user


def run_chain(ws, **extra):
    first = read_after(ws, input=user("please read a.py"), **extra)
    second = read_after(ws, input=call_output("call_a"), previous_response_id=first[-1]["response"]["id"], **extra)
    third = read_after(ws, input=user("thanks"), previous_response_id=second[-1]["response"]["id"], **extra)
    return first, second, third


def read_after(ws, **body):
    create(ws, **body)
    return read_response(ws)


def test_multi_turn_chain_follows_the_event_order_on_every_turn(server):
    with open_socket(server.address.websocket_url) as ws:
        turns = run_chain(ws, store=False)
    for events in turns:
        check_event_order(events)
        assert events[-1]["type"] == "response.completed"
    first, second, third = (events[-1]["response"] for events in turns)
    assert [item["type"] for item in first["output"]] == ["message", "function_call"]
    call = first["output"][1]
    assert (call["call_id"], call["name"], json.loads(call["arguments"])) == ("call_a", "read_file", {"path": "a.py"})
    assert [item["type"] for item in second["output"]] == ["reasoning", "message"]
    assert [part["text"] for part in second["output"][0]["summary"]] == ["The file has one line.", "Report it."]
    assert third["output"][0]["content"][0]["text"] == "Goodbye."
    assert second["previous_response_id"] == first["id"]
    assert len({first["id"], second["id"], third["id"]}) == 3


def test_deltas_reassemble_into_the_done_text(server):
    with open_socket(server.address.websocket_url) as ws:
        events = read_after(ws, input=user("read a.py"))
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    args = "".join(e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta")
    done = {e["type"]: e for e in events}
    assert text == done["response.output_text.done"]["text"] == "Let me check the file."
    assert args == done["response.function_call_arguments.done"]["arguments"]
    assert done["response.function_call_arguments.done"]["name"] == "read_file"


def test_requests_sent_back_to_back_are_answered_in_order_not_rejected(server):
    with open_socket(server.address.websocket_url) as ws:
        create(ws, input=user("read a.py"), store=False)
        create(ws, input=user("read a.py"), store=False, metadata={"n": "2"})
        first, second = read_response(ws), read_response(ws)
    check_event_order(first)
    check_event_order(second)
    assert first[-1]["response"]["metadata"] == {}
    assert second[-1]["response"]["metadata"] == {"n": "2"}


def test_store_false_miss_is_previous_response_not_found(server):
    with open_socket(server.address.websocket_url) as ws:
        events = read_after(ws, input=call_output("call_a"), previous_response_id="resp_missing", store=False)
        assert events == [
            {
                "type": "error",
                "status": 400,
                "error": {
                    "type": "invalid_request_error",
                    "code": "previous_response_not_found",
                    "message": "Previous response with id 'resp_missing' not found.",
                    "param": "previous_response_id",
                },
            }
        ]
        assert read_after(ws, input=user("read a.py"))[-1]["type"] == "response.completed"


def test_connection_cache_is_not_shared_between_connections(server):
    with open_socket(server.address.websocket_url) as first, open_socket(server.address.websocket_url) as second:
        response_id = read_after(first, input=user("read a.py"), store=False)[-1]["response"]["id"]
        events = read_after(second, input=call_output("call_a"), previous_response_id=response_id, store=False)
        assert events[-1]["error"]["code"] == "previous_response_not_found"
        chained = read_after(first, input=call_output("call_a"), previous_response_id=response_id, store=False)
        assert chained[-1]["type"] == "response.completed"


def test_stored_responses_chain_across_connections(server):
    with open_socket(server.address.websocket_url) as first:
        response_id = read_after(first, input=user("read a.py"), store=True)[-1]["response"]["id"]
    with open_socket(server.address.websocket_url) as second:
        events = read_after(second, input=call_output("call_a"), previous_response_id=response_id)
    assert events[-1]["type"] == "response.completed"
    assert events[-1]["response"]["usage"]["input_tokens_details"]["cached_tokens"] > 0


def test_only_the_latest_response_is_cached(server):
    with open_socket(server.address.websocket_url) as ws:
        older = read_after(ws, input=user("read a.py"), store=False)[-1]["response"]["id"]
        read_after(ws, input=user("read a.py"), store=False)
        events = read_after(ws, input=call_output("call_a"), previous_response_id=older, store=False)
    assert events[-1]["error"]["code"] == "previous_response_not_found"


def test_a_failed_continuation_evicts_its_parent(server):
    with open_socket(server.address.websocket_url) as ws:
        parent = read_after(ws, input=user("read a.py"), store=False)[-1]["response"]["id"]
        # The scripted model expects the output of call_a; another call id fails the response.
        failed = read_after(ws, input=call_output("call_other"), previous_response_id=parent, store=False)
        assert failed[-1]["type"] == "response.failed"
        assert failed[-1]["response"]["error"]["code"] == "scenario_mismatch"
        retry = read_after(ws, input=call_output("call_a"), previous_response_id=parent, store=False)
    assert retry[-1]["error"]["code"] == "previous_response_not_found"


def test_warm_up_creates_a_chainable_empty_response(server):
    with open_socket(server.address.websocket_url) as ws:
        warm = read_after(ws, input=user("read a.py"), generate=False, store=False, instructions="Be brief.")
        assert [e["type"] for e in warm] == ["response.created", "response.completed"]
        response = warm[-1]["response"]
        assert response["output"] == []
        assert response["usage"] == {
            "input_tokens": 0,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 0,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 0,
        }
        chained = read_after(ws, input=[], previous_response_id=response["id"], store=False, instructions="Be brief.")
    check_event_order(chained)
    assert chained[-1]["response"]["output"][1]["call_id"] == "call_a"
    usage = chained[-1]["response"]["usage"]
    assert usage["input_tokens_details"]["cached_tokens"] == usage["input_tokens"] > 0


def test_ignored_fields_are_accepted(server):
    with open_socket(server.address.websocket_url) as ws:
        events = read_after(
            ws,
            input=user("read a.py"),
            stream=True,
            stream_options={"include_obfuscation": False},
            client_metadata={"trace": "x"},
            prompt_cache_key="conversation-1",
            include=["reasoning.encrypted_content"],
            service_tier="auto",
            some_future_field={"nested": [1, 2]},
        )
    assert events[-1]["type"] == "response.completed"


def test_background_is_rejected_with_an_error_event(server):
    with open_socket(server.address.websocket_url) as ws:
        events = read_after(ws, input=user("read a.py"), background=True)
        assert events[-1]["error"]["param"] == "background"
        assert events[-1]["error"]["type"] == "invalid_request_error"
        assert read_after(ws, input=user("read a.py"))[-1]["type"] == "response.completed"


def test_encrypted_reasoning_is_returned_when_included(server):
    with open_socket(server.address.websocket_url) as ws:
        first = read_after(ws, input=user("read a.py"), store=False, include=["reasoning.encrypted_content"])
        second = read_after(
            ws,
            input=call_output("call_a"),
            previous_response_id=first[-1]["response"]["id"],
            store=False,
            include=["reasoning.encrypted_content"],
        )
    reasoning = second[-1]["response"]["output"][0]
    assert reasoning["type"] == "reasoning" and reasoning["encrypted_content"]


def test_connection_limit_sends_the_error_then_closes_normally(start_server):
    server = start_server(max_connection_minutes=0.5 / 60)
    with open_socket(server.address.websocket_url) as ws:
        assert read_after(ws, input=user("read a.py"))[-1]["type"] == "response.completed"
        event = json.loads(ws.recv(timeout=5))
        assert event["type"] == "error"
        assert event["status"] == 400
        assert event["error"]["code"] == "websocket_connection_limit_reached"
        assert "Create a new websocket connection" in event["error"]["message"]
        with pytest.raises(ConnectionClosedOK):
            ws.recv(timeout=5)
        assert ws.close_code == 1000


def test_api_key_is_required_on_the_handshake_when_set(start_server):
    server = start_server(api_key="sk-test-123")
    with pytest.raises(InvalidStatus) as refused:
        open_socket(server.address.websocket_url)
    assert refused.value.response.status_code == 401
    with pytest.raises(InvalidStatus):
        open_socket(server.address.websocket_url, additional_headers={"Authorization": "Bearer wrong"})
    with open_socket(server.address.websocket_url, additional_headers={"Authorization": "Bearer sk-test-123"}) as ws:
        assert read_after(ws, input=user("read a.py"))[-1]["type"] == "response.completed"


def test_beta_header_and_deflate_are_accepted(server):
    with open_socket(
        server.address.websocket_url,
        additional_headers={"OpenAI-Beta": "responses_websockets=2026-02-06"},
        compression="deflate",
    ) as ws:
        assert read_after(ws, input=user("read a.py"))[-1]["type"] == "response.completed"


def test_pings_are_answered(server):
    with open_socket(server.address.websocket_url) as ws:
        pong = ws.ping()
        assert pong.wait(timeout=5)


def test_closing_mid_response_does_not_disturb_other_connections(start_server):
    server = start_server(tool_scenario(tokens_per_second=200))
    with open_socket(server.address.websocket_url) as ws:
        create(ws, input=user("read a.py"))
        ws.recv(timeout=5)
        ws.close()
    time.sleep(0.1)
    with open_socket(server.address.websocket_url) as other:
        assert read_after(other, input=user("read a.py"))[-1]["type"] == "response.completed"


def test_sequence_numbers_restart_for_every_response(server):
    with open_socket(server.address.websocket_url) as ws:
        for events in run_chain(ws):
            assert events[0]["sequence_number"] == 0


def test_closed_socket_raises_on_the_client(server):
    with open_socket(server.address.websocket_url) as ws:
        ws.close()
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=1)
