"""Compaction, the context window and the models list of `codeassist serve`, over both transports."""

from __future__ import annotations

import json

import httpx
import openai
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openai import OpenAI

from server.compaction_seal import CompactedState, SealError, key_for, seal, unseal
from server.scenario import Scenario
from server.tokens import json_tokens
from tests.server.event_order import check_event_order
from tests.server.test_hygiene import serving
from tests.server.wsclient import call_output, create, open_socket, read_response, user

BIG_OUTPUT = "line of a long file\n" * 100
THRESHOLD = 300
COMPACT = [{"type": "compaction", "compact_threshold": THRESHOLD}]
LONG_SCENARIO = {
    "name": "long",
    "model": "scripted-long",
    "turns": [
        {
            "expect": [{"type": "message", "role": "user", "contains": "start"}],
            "output": [{"type": "function_call", "call_id": "call_0", "name": "read_file", "arguments": {"path": "a"}}],
        },
        {
            "expect": [{"type": "function_call_output", "call_id": "call_0"}],
            "output": [{"type": "function_call", "call_id": "call_1", "name": "read_file", "arguments": {"path": "b"}}],
        },
        {
            "expect": [{"type": "function_call_output", "call_id": "call_1"}],
            "output": [{"type": "message", "text": "Both files read."}],
        },
        {
            "expect": [{"type": "message", "role": "user", "contains": "bye"}],
            "output": [{"type": "message", "text": "Goodbye."}],
        },
    ],
}


def long_scenario(**changes: object) -> Scenario:
    return Scenario.model_validate({**LONG_SCENARIO, **changes})


def terminal(events):
    return events[-1]["response"]


def output_types(response):
    return [item["type"] for item in response["output"]]


def sdk(server) -> OpenAI:
    return OpenAI(base_url=server.address.base_url, api_key="sk-test", max_retries=0, timeout=10)


def post(server, path, body):
    return httpx.post(server.address.base_url + path, json=body, timeout=10)


def compaction_of(response):
    [item] = [item for item in response["output"] if item["type"] == "compaction"]
    return item


# ---- automatic compaction (context_management) -----------------------------------------------


def test_websocket_compacts_when_the_threshold_is_crossed_and_goes_on_from_the_pruned_window(start_server):
    server = start_server(long_scenario())
    with open_socket(server.address.websocket_url) as ws:
        create(ws, input=user("start"), context_management=COMPACT, store=False)
        first = read_response(ws)
        assert output_types(terminal(first)) == ["function_call"]

        create(
            ws,
            previous_response_id=terminal(first)["id"],
            input=call_output("call_0", BIG_OUTPUT),
            context_management=COMPACT,
            store=False,
        )
        second = read_response(ws)
        check_event_order(second)
        added = [event for event in second if event["type"] == "response.output_item.added"]
        assert added[0]["item"]["type"] == "compaction" and added[0]["output_index"] == 0
        item = compaction_of(terminal(second))
        assert item["id"].startswith("cmp_") and item["encrypted_content"]
        assert output_types(terminal(second)) == ["compaction", "function_call"]
        assert terminal(second)["output"][1]["call_id"] == "call_1"  # the scripted turn did not move

        uncompacted = (
            terminal(first)["usage"]["input_tokens"]
            + sum(json_tokens(out) for out in terminal(first)["output"])
            + sum(json_tokens(new) for new in call_output("call_0", BIG_OUTPUT))
        )
        assert uncompacted > THRESHOLD
        assert terminal(second)["usage"]["input_tokens"] == json_tokens(item) < THRESHOLD

        create(
            ws,
            previous_response_id=terminal(second)["id"],
            input=call_output("call_1", "short"),
            context_management=COMPACT,
            store=False,
        )
        third = read_response(ws)
    assert output_types(terminal(third)) == ["message"]
    assert terminal(third)["output"][0]["content"][0]["text"] == "Both files read."
    window = [*terminal(second)["output"], *call_output("call_1", "short")]
    usage = terminal(third)["usage"]
    assert usage["input_tokens"] == sum(json_tokens(entry) for entry in window) < THRESHOLD
    assert usage["input_tokens_details"]["cached_tokens"] == sum(json_tokens(out) for out in terminal(second)["output"])

    resend = [*window, *terminal(third)["output"], *user("bye")]
    with open_socket(server.address.websocket_url) as ws:  # a new connection: a full resend of the window
        create(ws, input=resend, context_management=COMPACT, store=False)
        fourth = read_response(ws)
    assert terminal(fourth)["status"] == "completed"
    assert terminal(fourth)["output"][0]["content"][0]["text"] == "Goodbye."
    assert terminal(fourth)["usage"]["input_tokens"] == sum(json_tokens(entry) for entry in resend)


def test_a_resend_of_the_whole_history_counts_turns_from_the_compaction_item(start_server):
    server = start_server(long_scenario())
    client = sdk(server)
    first = client.responses.create(model="m", input="start", store=False)
    history = [*user("start"), *[item.model_dump(mode="json") for item in first.output]]
    history += call_output("call_0", BIG_OUTPUT)
    second = client.responses.create(model="m", input=history, context_management=COMPACT, store=False)
    assert [item.type for item in second.output] == ["compaction", "function_call"]
    everything = [*history, *[item.model_dump(mode="json", exclude_none=True) for item in second.output]]
    third = client.responses.create(model="m", input=[*everything, *call_output("call_1")], store=False)
    assert third.output_text == "Both files read."


def test_http_sse_compacts_and_chains_through_the_store(start_server):
    server = start_server(long_scenario())
    client = sdk(server)
    first = client.responses.create(model="m", input="start", context_management=COMPACT)
    stream = client.responses.create(
        model="m",
        previous_response_id=first.id,
        input=call_output("call_0", BIG_OUTPUT),
        context_management=COMPACT,
        stream=True,
    )
    events = list(stream)
    check_event_order([event.model_dump(mode="json", exclude_unset=True) for event in events])
    added = [event for event in events if event.type == "response.output_item.added"]
    assert [event.item.type for event in added] == ["compaction", "function_call"]
    second = events[-1].response
    assert second.output[0].type == "compaction"
    assert second.usage.input_tokens == json_tokens(second.output[0].model_dump(mode="json", exclude_none=True))

    third = client.responses.create(
        model="m", previous_response_id=second.id, input=call_output("call_1", "short"), context_management=COMPACT
    )
    assert third.output_text == "Both files read."
    assert third.usage.input_tokens < THRESHOLD
    assert third.usage.input_tokens_details.cached_tokens > 0
    # the stored response is the pruned one, and a full resend of the window is accepted
    window = [item.model_dump(mode="json", exclude_none=True) for item in second.output]
    answered = [item.model_dump(mode="json") for item in third.output]
    resent = client.responses.create(
        model="m", input=[*window, *call_output("call_1", "short"), *answered, *user("bye")]
    )
    assert resent.output_text == "Goodbye."


def test_a_request_under_the_threshold_is_not_compacted(start_server):
    server = start_server(long_scenario())
    response = sdk(server).responses.create(
        model="m", input="start", context_management=[{"type": "compaction", "compact_threshold": 10_000}]
    )
    assert [item.type for item in response.output] == ["function_call"]


def test_without_a_threshold_compaction_starts_at_80_percent_of_the_window(start_server):
    server = start_server(long_scenario(context_window=1000))
    client = sdk(server)
    first = client.responses.create(model="m", input="start", context_management=[{"type": "compaction"}])
    assert [item.type for item in first.output] == ["function_call"]
    second = client.responses.create(
        model="m",
        previous_response_id=first.id,
        input=call_output("call_0", "y" * 3300),  # about 850 tokens: over 800, under 1000
        context_management=[{"type": "compaction"}],
    )
    assert [item.type for item in second.output] == ["compaction", "function_call"]


def test_a_compaction_item_survives_a_restart_of_the_server_with_the_same_scenario(tmp_path):
    script = tmp_path / "long.json"
    script.write_text(json.dumps(LONG_SCENARIO))
    body = {"model": "m", "input": [*user("start")], "context_management": COMPACT, "store": False}
    with serving(script=script) as served:
        base = f"http://127.0.0.1:{served.port}/v1"
        first = httpx.post(base + "/responses", json=body, timeout=10).json()
        body["input"] = [*body["input"], *first["output"], *call_output("call_0", BIG_OUTPUT)]
        second = httpx.post(base + "/responses", json=body, timeout=10).json()
    assert output_types(second) == ["compaction", "function_call"]
    with serving(script=script) as served:
        answer = httpx.post(
            f"http://127.0.0.1:{served.port}/v1/responses",
            json={"model": "m", "input": [*second["output"], *call_output("call_1")], "store": False},
            timeout=10,
        )
    assert answer.status_code == 200
    assert answer.json()["output"][0]["content"][0]["text"] == "Both files read."


# ---- POST /v1/responses/compact ---------------------------------------------------------------


def test_compact_endpoint_keeps_user_messages_and_adds_one_compaction_item(start_server):
    server = start_server(long_scenario())
    client = sdk(server)
    first = client.responses.create(model="m", input="start")
    history = [
        *user("start"),
        *[item.model_dump(mode="json", exclude_none=True) for item in first.output],
        *call_output("call_0", BIG_OUTPUT),
    ]
    compacted = client.responses.compact(model="m", input=history)
    assert compacted.object == "response.compaction"
    assert [item.type for item in compacted.output] == ["message", "compaction"]
    assert compacted.output[0].model_dump(mode="json", exclude_none=True, warnings=False) == user("start")[0]
    assert compacted.usage.input_tokens == sum(json_tokens(item) for item in history)
    assert compacted.usage.total_tokens == compacted.usage.input_tokens + compacted.usage.output_tokens

    window = [item.model_dump(mode="json", exclude_none=True, warnings=False) for item in compacted.output]
    going_on = client.responses.create(model="m", input=window, store=False)
    assert [(item.type, item.call_id) for item in going_on.output] == [("function_call", "call_1")]
    assert going_on.usage.input_tokens == sum(json_tokens(item) for item in window)
    assert going_on.usage.input_tokens < compacted.usage.input_tokens


def test_compact_endpoint_takes_a_previous_response_id(start_server):
    server = start_server(long_scenario())
    client = sdk(server)
    first = client.responses.create(model="m", input="start")
    compacted = client.responses.compact(model="m", previous_response_id=first.id)
    assert [item.type for item in compacted.output] == ["message", "compaction"]
    window = [item.model_dump(mode="json", exclude_none=True, warnings=False) for item in compacted.output]
    with open_socket(server.address.websocket_url) as ws:
        create(ws, input=[*window, *call_output("call_0")], store=False)
        answer = read_response(ws)
    assert terminal(answer)["output"][0]["call_id"] == "call_1"


def test_compact_endpoint_requires_a_model(start_server):
    server = start_server(long_scenario())
    answer = post(server, "/responses/compact", {"input": "start"})
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "model"


# ---- foreign and tampered compaction items ----------------------------------------------------


def a_compaction_item(server) -> dict:
    compacted = post(server, "/responses/compact", {"model": "m", "input": user("start")}).json()
    return compacted["output"][-1]


def tampered(item: dict) -> dict:
    prefix, payload, signature = item["encrypted_content"].split(".")
    flipped = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1]
    return {**item, "encrypted_content": f"{prefix}.{flipped}.{signature}"}


@pytest.mark.parametrize("kind", ["foreign", "tampered", "another_server"])
def test_a_compaction_item_the_server_did_not_issue_is_refused_over_http(start_server, kind):
    server = start_server(long_scenario())
    if kind == "foreign":
        item = {"type": "compaction", "id": "cmp_foreign", "encrypted_content": "gAAAAABfake-opaque-blob"}
    elif kind == "tampered":
        item = tampered(a_compaction_item(server))
    else:
        item = a_compaction_item(start_server(long_scenario(name="another")))
    for path in ("/responses", "/responses/compact"):
        answer = post(server, path, {"model": "m", "input": [item, *user("bye")]})
        assert answer.status_code == 400
        error = answer.json()["error"]
        assert error["type"] == "invalid_request_error"
        assert error["code"] == "invalid_encrypted_content"
        assert error["param"] == "input[0].encrypted_content"


def test_a_foreign_compaction_item_is_an_error_event_and_the_connection_goes_on(start_server):
    server = start_server(long_scenario())
    item = tampered(a_compaction_item(server))
    with open_socket(server.address.websocket_url) as ws:
        create(ws, input=[item, *user("bye")], store=False)
        [error] = read_response(ws)
        assert error["type"] == "error" and error["status"] == 400
        assert error["error"]["type"] == "invalid_request_error"
        assert error["error"]["code"] == "invalid_encrypted_content"
        create(ws, input=user("start"), store=False)
        assert terminal(read_response(ws))["status"] == "completed"


SEALED = CompactedState(turns=3, ends_with_output=False, items=7, tokens=900, digest="d" * 32)
KEY = key_for(b"{}")


@settings(max_examples=200, deadline=None)
@given(position=st.integers(min_value=0), replacement=st.characters(codec="ascii"))
def test_any_change_to_a_sealed_compaction_is_refused(position, replacement):
    token = seal(SEALED, KEY)
    index = position % len(token)
    changed = token[:index] + replacement + token[index + 1 :]
    if changed == token:
        assert unseal(changed, KEY) == SEALED
        return
    with pytest.raises(SealError):
        unseal(changed, KEY)


@settings(max_examples=100, deadline=None)
@given(st.one_of(st.text(max_size=300), st.integers(), st.none(), st.lists(st.text(), max_size=3)))
def test_anything_else_is_refused_cleanly(value):
    with pytest.raises(SealError):
        unseal(value, KEY)


def test_the_encrypted_content_reveals_no_text_of_the_conversation(start_server):
    import base64

    server = start_server(long_scenario())
    marker = "sk-proj-SECRETMARKER0123456789"
    history = [*user("start"), *call_output("call_0", marker)]
    item = post(server, "/responses/compact", {"model": "m", "input": history}).json()["output"][-1]
    payload = item["encrypted_content"].split(".")[1]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert marker not in item["encrypted_content"] and marker.encode() not in decoded
    assert b"call_0" not in decoded and b"turns" not in decoded


def test_another_key_refuses_the_seal():
    assert unseal(seal(SEALED, KEY), KEY) == SEALED
    with pytest.raises(SealError):
        unseal(seal(SEALED, key_for(b"[]")), KEY)


# ---- the context window ------------------------------------------------------------------------


def test_a_request_over_the_window_is_context_length_exceeded_over_both_transports(start_server):
    server = start_server(long_scenario(context_window=200))
    big = [*user("start " + "x" * 1000)]
    answer = post(server, "/responses", {"model": "m", "input": big, "stream": True})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["type"], error["code"]) == ("invalid_request_error", "context_length_exceeded")
    with pytest.raises(openai.BadRequestError) as raised:
        sdk(server).responses.create(model="m", input=big)
    assert raised.value.code == "context_length_exceeded"
    with open_socket(server.address.websocket_url) as ws:
        create(ws, input=big, store=False)
        [event] = read_response(ws)
        assert event["type"] == "error" and event["status"] == 400
        assert event["error"]["code"] == "context_length_exceeded"
        create(ws, input=user("start"), store=False)  # under the window: answered
        assert terminal(read_response(ws))["status"] == "completed"


def test_compaction_keeps_a_long_chain_under_the_window(start_server):
    server = start_server(long_scenario(context_window=THRESHOLD * 2))
    with open_socket(server.address.websocket_url) as ws:
        create(ws, input=user("start"), context_management=COMPACT, store=False)
        first = read_response(ws)
        create(
            ws,
            previous_response_id=terminal(first)["id"],
            input=call_output("call_0", "z" * 1500),  # the context would be over the window
            context_management=COMPACT,
            store=False,
        )
        second = read_response(ws)
    assert terminal(second)["status"] == "completed"
    assert output_types(terminal(second)) == ["compaction", "function_call"]


def test_a_compaction_request_still_over_the_window_afterwards_is_refused_the_same_way(start_server):
    server = start_server(long_scenario(context_window=10))
    answer = post(server, "/responses", {"model": "m", "input": user("start"), "context_management": COMPACT})
    assert answer.json()["error"]["code"] == "context_length_exceeded"


def test_reject_over_window_false_answers_anyway(start_server):
    server = start_server(long_scenario(context_window=50, reject_over_window=False))
    response = sdk(server).responses.create(model="m", input="start " + "x" * 1000)
    assert response.status == "completed"
    assert response.usage.input_tokens > 50


# ---- an endpoint without compaction ----------------------------------------------------------


def test_an_endpoint_without_compaction_refuses_the_field_over_both_transports(start_server):
    server = start_server(long_scenario(compaction=False))
    answer = post(server, "/responses", {"model": "m", "input": "start", "context_management": COMPACT})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", "context_management")
    assert "context_management" in error["message"]
    with open_socket(server.address.websocket_url) as ws:
        create(ws, input=user("start"), context_management=COMPACT, store=False)
        [event] = read_response(ws)
        assert event["status"] == 400 and event["error"]["param"] == "context_management"
        create(ws, input=user("start"), store=False)  # without the field: answered
        assert terminal(read_response(ws))["status"] == "completed"
    assert post(server, "/responses/compact", {"model": "m", "input": "start"}).status_code == 404
    item = a_compaction_item(start_server(long_scenario()))
    refused = post(server, "/responses", {"model": "m", "input": [item, *user("bye")]})
    assert refused.status_code == 400 and refused.json()["error"]["param"] == "input[0].type"


def test_a_malformed_context_management_entry_names_its_param(start_server):
    server = start_server(long_scenario())
    for entry, param in (
        ({"type": "truncate"}, "context_management[0].type"),
        ({"type": "compaction", "compact_threshold": -5}, "context_management[0].compact_threshold"),
    ):
        answer = post(server, "/responses", {"model": "m", "input": "start", "context_management": [entry]})
        assert answer.status_code == 400 and answer.json()["error"]["param"] == param


# ---- the models list --------------------------------------------------------------------------


def test_models_list_and_retrieve_name_the_scenario_model_and_its_window(start_server):
    server = start_server(long_scenario(context_window=4096))
    client = sdk(server)
    [model] = client.models.list().data
    assert (model.id, model.object, model.owned_by) == ("scripted-long", "model", "codeassist")
    assert model.model_extra["context_window"] == 4096
    assert client.models.retrieve("scripted-long").model_extra["context_window"] == 4096
    with pytest.raises(openai.NotFoundError) as raised:
        client.models.retrieve("gpt-unknown")
    assert raised.value.code == "model_not_found"
    assert httpx.get(server.address.base_url + "/models/org/unknown", timeout=10).status_code == 404


def test_models_report_the_catalogue_window_when_the_scenario_sets_none(start_server):
    from agent.catalogue import catalogue

    server = start_server(long_scenario(model="gpt-5.4"))
    [model] = httpx.get(server.address.base_url + "/models", timeout=10).json()["data"]
    assert model["context_window"] == catalogue().lookup("gpt-5.4").context_window


def test_the_new_routes_need_the_api_key(start_server):
    server = start_server(long_scenario(), api_key="secret")
    assert httpx.get(server.address.base_url + "/models", timeout=10).status_code == 401
    assert post(server, "/responses/compact", {"model": "m", "input": "start"}).status_code == 401
    authorised = httpx.get(server.address.base_url + "/models", headers={"Authorization": "Bearer secret"}, timeout=10)
    assert authorised.status_code == 200


def test_compact_requests_are_recorded(start_server):
    server = start_server(long_scenario())
    post(server, "/responses/compact", {"model": "m", "input": "start"})
    received = httpx.get(server.address.base_url.removesuffix("/v1") + "/_codeassist/received", timeout=10).json()
    assert received[-1]["body"]["input"] == "start"


def until_completed(connection) -> list:
    events = []
    for event in connection:
        events.append(event)
        if event.type in ("response.completed", "response.failed", "error"):
            return events
    raise AssertionError("the connection ended before a terminal event")


def test_the_sdk_over_websocket_sees_the_compaction_item_first(start_server):
    server = start_server(long_scenario())
    with sdk(server).responses.connect() as connection:
        connection.response.create(model="m", input="start", context_management=COMPACT, store=False)
        first = until_completed(connection)
        connection.response.create(
            model="m",
            previous_response_id=first[-1].response.id,
            input=call_output("call_0", BIG_OUTPUT),
            context_management=COMPACT,
            store=False,
        )
        events = until_completed(connection)
    added = [event.item.type for event in events if event.type == "response.output_item.added"]
    assert added == ["compaction", "function_call"]
    assert events[-1].response.output[0].type == "compaction"
