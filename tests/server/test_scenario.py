"""Scenario files and the scripted engine."""

from __future__ import annotations

import json

import pytest

from agent.wire import FunctionCall, FunctionCallOutput, Message, user_message
from server.engines.base import count_model_turns, trailing_input
from server.engines.scripted import chunk_text
from server.scenario import Scenario, ScenarioError, bundled_scenario_path, load_scenario
from tests.conftest import TOOL_SCENARIO, tool_scenario
from tests.server.event_order import check_event_order
from tests.server.wsclient import create, open_socket, read_response, user


def test_the_bundled_demo_scenario_loads():
    scenario = load_scenario(bundled_scenario_path("demo"))
    assert scenario.name == "demo"
    assert len(scenario.turns) >= 4
    assert any(o.type == "function_call" for turn in scenario.turns for o in turn.output)


def test_json_and_toml_scenarios_are_equivalent(tmp_path):
    as_json = tmp_path / "s.json"
    as_json.write_text(json.dumps(TOOL_SCENARIO))
    as_toml = tmp_path / "s.toml"
    as_toml.write_text(
        'name = "tools"\nmodel = "scripted-test"\n'
        '[[turns]]\nexpect = [{type = "message", role = "user", contains = "read a.py"}]\n'
        '[[turns.output]]\ntype = "message"\ntext = "Let me check the file."\n'
        '[[turns.output]]\ntype = "function_call"\ncall_id = "call_a"\nname = "read_file"\n'
        'arguments = {path = "a.py"}\n'
        '[[turns]]\nexpect = [{type = "function_call_output", call_id = "call_a"}]\n'
        '[[turns.output]]\ntype = "reasoning"\nsummary = ["The file has one line.", "Report it."]\n'
        '[[turns.output]]\ntype = "message"\ntext = "The file says hello."\n'
        '[[turns]]\nexpect = [{type = "message", role = "user"}]\n'
        '[[turns.output]]\ntype = "message"\ntext = "Goodbye."\n'
    )
    assert load_scenario(as_json) == load_scenario(as_toml)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{broken", "not valid"),
        ('{"turns": [{"output": [{"type": "sing"}]}]}', "does not match"),
        ('{"turnz": []}', "does not match"),
    ],
)
def test_bad_scenarios_give_a_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ScenarioError, match=message):
        load_scenario(path)


def test_a_missing_scenario_file(tmp_path):
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "absent.json")


def test_chunks_reassemble_the_text():
    text = 'Hello,  world!\nA {"long_argument_name_here": "value with spaces"}'
    chunks = chunk_text(text)
    assert "".join(chunks) == text
    assert all(len(chunk) <= 16 for chunk in chunks)
    assert len(chunks) > 5


def test_turns_are_counted_from_model_outputs_in_the_context():
    call = FunctionCall(call_id="c", name="f", arguments="{}")
    context = [user_message("a"), call, FunctionCallOutput(call_id="c", output="x")]
    assert count_model_turns([user_message("a")]) == 0
    assert count_model_turns(context) == 1
    answer = Message(role="assistant", content="done")
    assert count_model_turns([*context, answer, user_message("b")]) == 2
    assert trailing_input([*context, answer, user_message("b")]) == [user_message("b")]


def test_an_unmet_expectation_fails_the_response_with_the_reason(server):
    with open_socket(server.address.websocket_url) as ws:
        create(ws, input=user("hello there"))
        events = read_response(ws)
    check_event_order(events)
    error = events[-1]["response"]["error"]
    assert events[-1]["type"] == "response.failed"
    assert error["code"] == "scenario_mismatch"
    assert "read a.py" in error["message"]


@pytest.mark.parametrize(("on_exhausted", "terminal"), [("message", "response.completed"), ("fail", "response.failed")])
def test_requests_past_the_last_turn(start_server, on_exhausted, terminal):
    server = start_server(tool_scenario(turns=TOOL_SCENARIO["turns"][:1], on_exhausted=on_exhausted))
    history = [*user("read a.py"), {"type": "message", "role": "assistant", "content": "ok"}, *user("more")]
    with open_socket(server.address.websocket_url) as ws:
        create(ws, input=history)
        assert read_response(ws)[-1]["type"] == terminal


def test_scripted_failure_and_incomplete_turns(start_server):
    scenario = Scenario.model_validate({"turns": [{"fail": {"code": "rate_limit_exceeded", "message": "Slow down."}}]})
    with open_socket(start_server(scenario).address.websocket_url) as ws:
        create(ws, input="hi")
        failed = read_response(ws)[-1]
    assert failed["type"] == "response.failed"
    assert failed["response"]["error"] == {"code": "rate_limit_exceeded", "message": "Slow down."}

    scenario = Scenario.model_validate(
        {"turns": [{"output": [{"type": "message", "text": "Partial"}], "incomplete": "max_output_tokens"}]}
    )
    with open_socket(start_server(scenario).address.websocket_url) as ws:
        create(ws, input="hi")
        events = read_response(ws)
    check_event_order(events)
    assert events[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


def test_custom_tool_calls_stream_their_input(start_server):
    patch = "*** Begin Patch\n*** Add File: x.txt\n+hi\n*** End Patch"
    scenario = Scenario.model_validate(
        {"turns": [{"output": [{"type": "custom_tool_call", "name": "apply_patch", "input": patch}]}]}
    )
    with open_socket(start_server(scenario).address.websocket_url) as ws:
        create(ws, input="hi")
        events = read_response(ws)
    check_event_order(events)
    streamed = "".join(e["delta"] for e in events if e["type"] == "response.custom_tool_call_input.delta")
    assert streamed == patch == events[-1]["response"]["output"][0]["input"]
    assert events[-1]["response"]["output"][0]["call_id"] == "call_0_0"


def test_pacing_spreads_the_deltas(start_server):
    scenario = Scenario.model_validate(
        {"tokens_per_second": 50, "turns": [{"output": [{"type": "message", "text": "a b c d e f"}]}]}
    )
    with open_socket(start_server(scenario).address.websocket_url) as ws:
        create(ws, input="hi")
        import time

        started = time.monotonic()
        read_response(ws)
        elapsed = time.monotonic() - started
    assert elapsed >= 5 / 50 * 0.9  # 6 deltas at 50/s are at least 5 intervals apart


BRANCHING = {
    "name": "branching",
    "off_script_text": "Off script.",
    "turns": [
        {"output": [{"type": "function_call", "call_id": "c", "name": "shell", "arguments": {"command": "ls"}}]},
        {
            "expect": [{"type": "function_call_output", "call_id": "c", "contains": "a.py"}],
            "output": [{"type": "message", "text": "Listed."}],
            "alternatives": [
                {
                    "expect": [{"type": "function_call_output", "call_id": "c", "contains": "denied"}],
                    "output": [{"type": "message", "text": "Not listed, then."}],
                },
                {
                    "expect": [{"type": "function_call_output", "call_id": "c", "contains": "aborted"}],
                    "output": [{"type": "message", "text": "Cancelled, then."}],
                },
            ],
        },
    ],
}


@pytest.mark.parametrize(
    ("output", "answer"),
    [
        ("a.py\n", "Listed."),
        ("The user denied this call.", "Not listed, then."),
        ("aborted: the user cancelled the turn", "Cancelled, then."),
        ("something else", "Off script."),
    ],
)
def test_a_turn_plays_the_alternative_its_newest_input_meets(start_server, output, answer):
    server = start_server(Scenario.model_validate(BRANCHING))
    history = [
        *user("list"),
        {"type": "function_call", "call_id": "c", "name": "shell", "arguments": '{"command": "ls"}'},
        {"type": "function_call_output", "call_id": "c", "output": output},
    ]
    with open_socket(server.address.websocket_url) as ws:
        create(ws, input=history)
        events = read_response(ws)
    check_event_order(events)
    assert events[-1]["type"] == "response.completed"
    texts = [e["delta"] for e in events if e["type"] == "response.output_text.delta"]
    assert "".join(texts) == answer


def test_without_off_script_text_a_request_no_alternative_meets_still_fails(start_server):
    server = start_server(Scenario.model_validate({**BRANCHING, "off_script_text": None}))
    history = [
        *user("list"),
        {"type": "function_call", "call_id": "c", "name": "shell", "arguments": '{"command": "ls"}'},
        {"type": "function_call_output", "call_id": "c", "output": "something else"},
    ]
    with open_socket(server.address.websocket_url) as ws:
        create(ws, input=history)
        events = read_response(ws)
    assert events[-1]["response"]["error"]["code"] == "scenario_mismatch"
