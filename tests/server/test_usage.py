"""Usage accounting: the whole context is input, the reused part is cached."""

from __future__ import annotations

import httpx

from server.tokens import json_tokens, text_tokens
from tests.server.wsclient import call_output, create, open_socket, read_response, user

TOOLS = [{"type": "function", "name": "read_file", "parameters": {"type": "object", "properties": {}}}]


def usage_of(events):
    return events[-1]["response"]["usage"]


def test_token_approximation_is_four_bytes_per_token():
    assert text_tokens("") == 0
    assert text_tokens("abcd") == 1
    assert text_tokens("abcde") == 2
    assert text_tokens("é" * 2) == 1
    assert json_tokens(None) == json_tokens([]) == 0
    assert json_tokens({"a": 1}) == 2


def test_chained_turn_counts_the_whole_context_and_caches_the_prefix(server):
    with open_socket(server.address.websocket_url) as ws:
        create(ws, input=user("read a.py"), instructions="Be brief.", tools=TOOLS, store=False)
        first = read_response(ws)
        create(
            ws,
            input=call_output("call_a"),
            previous_response_id=first[-1]["response"]["id"],
            instructions="Be brief.",
            tools=TOOLS,
            store=False,
        )
        second = read_response(ws)
    first_usage, second_usage = usage_of(first), usage_of(second)
    assert first_usage["input_tokens_details"]["cached_tokens"] == 0
    output_tokens = sum(json_tokens(item) for item in first[-1]["response"]["output"])
    new_tokens = sum(json_tokens(item) for item in call_output("call_a"))
    assert second_usage["input_tokens"] == first_usage["input_tokens"] + output_tokens + new_tokens
    assert second_usage["input_tokens_details"]["cached_tokens"] == first_usage["input_tokens"] + output_tokens
    assert second_usage["total_tokens"] == second_usage["input_tokens"] + second_usage["output_tokens"]


def test_changed_instructions_are_not_counted_as_cached(server):
    with open_socket(server.address.websocket_url) as ws:
        create(ws, input=user("read a.py"), instructions="Be brief.", store=False)
        first = read_response(ws)
        create(
            ws,
            input=call_output("call_a"),
            previous_response_id=first[-1]["response"]["id"],
            instructions="Be thorough.",
            store=False,
        )
        second = read_response(ws)
    cached = usage_of(second)["input_tokens_details"]["cached_tokens"]
    assert cached == usage_of(first)["input_tokens"] - json_tokens("Be brief.") + sum(
        json_tokens(item) for item in first[-1]["response"]["output"]
    )


def test_full_resend_has_the_same_input_but_nothing_cached(server):
    with open_socket(server.address.websocket_url) as ws:
        create(ws, input=user("read a.py"), store=False)
        first = read_response(ws)
        create(ws, input=call_output("call_a"), previous_response_id=first[-1]["response"]["id"], store=False)
        chained = usage_of(read_response(ws))
    history = [*user("read a.py"), *first[-1]["response"]["output"], *call_output("call_a")]
    with open_socket(server.address.websocket_url) as ws:
        create(ws, input=history, store=False)
        resent = usage_of(read_response(ws))
    assert resent["input_tokens"] == chained["input_tokens"]
    assert resent["input_tokens_details"]["cached_tokens"] == 0 < chained["input_tokens_details"]["cached_tokens"]


def test_output_and_reasoning_tokens(server):
    with open_socket(server.address.websocket_url) as ws:
        create(ws, input=user("read a.py"), store=False)
        first = read_response(ws)
        create(ws, input=call_output("call_a"), previous_response_id=first[-1]["response"]["id"], store=False)
        second = usage_of(read_response(ws))
    summaries = ["The file has one line.", "Report it."]
    reasoning = second["output_tokens_details"]["reasoning_tokens"]
    assert reasoning >= sum(text_tokens(s) for s in summaries) - 2
    assert second["output_tokens"] > reasoning


def test_received_requests_are_recorded_with_their_size(server):
    with open_socket(server.address.websocket_url) as ws:
        create(ws, input=user("read a.py"))
        read_response(ws)
    [entry] = [e for e in server.state.received if e.transport == "websocket"]
    assert entry.body["input"] == user("read a.py")
    assert entry.size > 50
    url = server.address.base_url.removesuffix("/v1") + "/_codeassist/received"
    assert httpx.get(url).json()[0]["body"]["type"] == "response.create"
