"""MCP servers end to end: a real SDK server process (stdio and HTTP), a `Session`, and the scripted
model of `codeassist serve` calling the server's tools."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from agent.approvals import ApprovalRequest, Decision
from agent.events import ApprovalDecided, ApprovalRequested, Notice, ToolFinished, TurnStarted
from agent.session import Session
from server.scenario import Scenario
from tests.agent.conftest import answered_turn, settings_for
from tests.agent.mcp.conftest import stdio_server
from tests.agent.recording import requests


def call(tool: str, call_id: str, **arguments: Any) -> dict[str, Any]:
    return {"type": "function_call", "name": tool, "call_id": call_id, "arguments": arguments}


def scenario(*calls: dict[str, Any], answers: int = 1) -> Scenario:
    """The model calls `calls` in one response, then answers; a second prompt gets `answers` more."""
    turns = [
        {"output": [*calls]},
        {"output": [{"type": "message", "text": "Done."}]},
    ]
    turns += [{"output": [{"type": "message", "text": "Again."}]} for _ in range(answers)]
    return Scenario.model_validate({"name": "mcp", "turns": turns})


def opened(server, repo: Path, tmp_path: Path, servers: dict[str, Any], **overrides: Any) -> Session:
    settings = settings_for(server, mcp_servers=servers, **overrides)
    return Session.open(settings, cwd=repo, log_root=tmp_path / "sessions")


def approve(request: ApprovalRequest) -> Decision:
    return Decision(kind="approve_once")


def outputs(events: list) -> dict[str, ToolFinished]:
    return {event.call_id: event for event in events if isinstance(event, ToolFinished)}


def function_outputs(body: dict[str, Any]) -> dict[str, Any]:
    return {item["call_id"]: item["output"] for item in body["input"] if item.get("type") == "function_call_output"}


async def test_a_stdio_servers_tools_are_offered_in_the_first_request_and_called(start_server, repo, tmp_path):
    server = start_server(
        scenario(
            call("mcp__t__echo", "c1", text="hi", times=None),
            call("mcp__t__add", "c2", a=2, b=3),
            call("mcp__t__picture", "c3"),
            call("mcp__t__documents", "c4"),
        )
    )
    session = opened(server, repo, tmp_path, {"t": stdio_server()})
    events = await answered_turn(session, "use the tools", approve)
    first = requests(server)[0]
    offered = {tool["name"]: tool for tool in first["tools"]}
    assert {"mcp__t__echo", "mcp__t__add", "read_file"} <= set(offered)
    assert offered["mcp__t__echo"]["strict"] is True
    assert offered["mcp__t__echo"]["parameters"]["required"] == ["text", "times"]
    assert offered["mcp__t__tag"]["strict"] is False  # a free-form object: not expressible strictly
    done = outputs(events)
    assert done["c1"].output == "hi" and done["c2"].output == "5"
    assert done["c3"].images == 1 and "attached as image 1" in done["c3"].output
    assert "# Notes\nship it" in done["c4"].output and "https://example.invalid/spec" in done["c4"].output
    sent = function_outputs(requests(server)[1])
    image = [part for part in sent["c3"] if part.get("type") == "input_image"]
    assert image and image[0]["image_url"].startswith("data:image/png;base64,")
    assert [view.status for view in session.mcp_servers()] == ["ready"]
    await session.close()


async def test_calls_ask_by_default_and_a_denied_call_does_nothing(start_server, repo, tmp_path):
    server = start_server(
        scenario(
            call("mcp__t__echo", "c1", text="hi", times=2), call("mcp__t__write_note", "c2", name="n.txt", text="x")
        )
    )
    session = opened(server, repo, tmp_path, {"t": stdio_server()})
    asked: list[ApprovalRequest] = []

    def deny_writes(request: ApprovalRequest) -> Decision:
        asked.append(request)
        return Decision(kind="deny" if "write_note" in request.tool else "approve_once")

    events = await answered_turn(session, "go", deny_writes)
    assert [request.tool for request in asked] == ["mcp__t__echo", "mcp__t__write_note"]
    assert asked[1].summary.startswith("MCP t · write_note") and '"name": "n.txt"' in asked[1].summary
    assert asked[1].rule_scope == "every call of write_note on the MCP server t"
    assert outputs(events)["c2"].status == "denied"
    assert not (repo / "n.txt").exists()
    await session.close()


async def test_a_trusted_read_only_hint_runs_without_asking_and_rules_still_apply(start_server, repo, tmp_path):
    server = start_server(
        scenario(call("mcp__t__echo", "c1", text="hi", times=None), call("mcp__t__add", "c2", a=1, b=1))
    )
    session = opened(server, repo, tmp_path, {"t": stdio_server(trust_read_only_hint=True)}, deny=["mcp__t__add"])
    events = await answered_turn(session, "go")  # anything that asks is denied
    assert not [event for event in events if isinstance(event, ApprovalRequested)]
    done = outputs(events)
    assert done["c1"].status == "ok" and done["c1"].output == "hi"
    assert done["c2"].status == "denied" and "deny mcp__t__add" in done["c2"].output
    await session.close()


async def test_approve_always_covers_that_tool_for_the_session(start_server, repo, tmp_path):
    server = start_server(scenario(call("mcp__t__add", "c1", a=1, b=2), call("mcp__t__add", "c2", a=3, b=4)))
    session = opened(server, repo, tmp_path, {"t": stdio_server()})
    asked = []

    def always(request: ApprovalRequest) -> Decision:
        asked.append(request.call_id)
        return Decision(kind="approve_always")

    events = await answered_turn(session, "go", always)
    assert asked == ["c1"] and outputs(events)["c2"].output == "7"
    assert "mcp__t__add" in [rule.spec for rule in session.permission_rules()]
    await session.close()


async def test_bad_arguments_and_error_results_are_error_outputs(start_server, repo, tmp_path):
    server = start_server(
        scenario(
            call("mcp__t__add", "c1", a="two", b=3),
            call("mcp__t__fail", "c2", reason="broken"),
            call("mcp__t__shout", "c3"),
        )
    )
    session = opened(server, repo, tmp_path, {"t": stdio_server()}, approval="full-auto")
    done = outputs(await answered_turn(session, "go"))
    assert done["c1"].status == "invalid" and "a: 'two' is not of type 'integer'" in done["c1"].output
    assert done["c2"].status == "error"
    assert done["c3"].status == "ok"  # the text is passed on; the app draws it through safe_terminal_text
    views = session.mcp_servers()[0].tools
    assert all("\x1b" not in view.description for view in views)
    await session.close()


async def test_a_server_that_crashes_is_started_again_on_the_next_call(start_server, repo, tmp_path):
    server = start_server(
        Scenario.model_validate(
            {
                "name": "crash",
                "turns": [
                    {"output": [call("mcp__t__pid", "c1"), call("mcp__t__crash", "c2")]},
                    {"output": [call("mcp__t__pid", "c3")]},
                    {"output": [{"type": "message", "text": "Done."}]},
                ],
            }
        )
    )
    session = opened(server, repo, tmp_path, {"t": stdio_server()}, approval="full-auto")
    done = outputs(await answered_turn(session, "go"))
    assert done["c2"].status == "error"
    assert "stopped while answering" in done["c2"].output and "crashing on purpose" in done["c2"].output
    assert done["c3"].status == "ok" and done["c3"].output != done["c1"].output
    assert session.mcp_servers()[0].restarts == 1 and session.mcp_servers()[0].status == "ready"
    await session.close()


async def test_a_server_killed_between_calls_is_started_again_before_the_call(start_server, repo, tmp_path):
    turns = [
        {"output": [call("mcp__t__pid", "c1")]},
        {"output": [{"type": "message", "text": "Done."}]},
        {"output": [call("mcp__t__pid", "c2")]},
        {"output": [{"type": "message", "text": "Done again."}]},
    ]
    server = start_server(Scenario.model_validate({"name": "killed", "turns": turns}))
    session = opened(server, repo, tmp_path, {"t": stdio_server()}, approval="full-auto")
    first = outputs(await answered_turn(session, "go"))["c1"].output
    connection = session.mcp._servers["t"].connection
    os.kill(int(first), signal.SIGKILL)
    while connection is not None and connection.alive():  # until its output ends: it is gone
        await asyncio.sleep(0.01)
    second = outputs(await answered_turn(session, "again"))["c2"]
    assert second.status == "ok" and second.output != first  # a new process answered, nothing failed
    assert session.mcp_servers()[0].restarts == 1
    await session.close()


async def test_a_call_past_its_timeout_and_a_server_past_its_start_timeout(start_server, repo, tmp_path):
    server = start_server(scenario(call("mcp__t__hang", "c1"), call("mcp__t__pid", "c2")))
    silent = {"command": sys.executable, "args": ["-c", "import time; time.sleep(600)"], "start_timeout_s": 0.5}
    servers = {"t": stdio_server(call_timeout_s=0.5), "silent": silent}
    session = opened(server, repo, tmp_path, servers, approval="full-auto")
    events = await answered_turn(session, "go")
    done = outputs(events)
    assert done["c1"].status == "error" and "no answer within 0.5 s (call_timeout_s)" in done["c1"].output
    assert done["c2"].status == "ok"  # the server goes on after a call that timed out
    failed = [event.message for event in events if isinstance(event, Notice) and "failed" in event.message]
    assert failed == [
        "MCP server 'silent' failed to start: it did not start within 0.5 s (start_timeout_s). "
        "The session goes on without its tools."
    ]
    await session.close()


async def test_a_missing_command_is_said_once_and_the_session_goes_on(start_server, repo, tmp_path):
    server = start_server(scenario(call("mcp__t__add", "c1", a=1, b=1), answers=1))
    exits = {"command": sys.executable, "args": ["-c", "import sys; sys.exit('boom: no config')"]}
    servers = {"gone": {"command": "codeassist-no-such-server"}, "t": stdio_server(), "exits": exits}
    session = opened(server, repo, tmp_path, servers, approval="full-auto")
    events = await answered_turn(session, "go")
    notices = [event.message for event in events if isinstance(event, Notice)]
    failed = [message for message in notices if "failed to start" in message]
    assert len(failed) == 2 and "'codeassist-no-such-server' was not found on PATH" in failed[0]
    assert "MCP server 'exits' failed to start" in failed[1] and "its stderr ends: boom: no config" in failed[1]
    assert events.index(next(e for e in events if isinstance(e, TurnStarted))) < events.index(
        next(e for e in events if isinstance(e, Notice) and "failed" in e.message)
    )
    assert outputs(events)["c1"].output == "2"  # the other server works
    again = await answered_turn(session, "more")
    assert not [event for event in again if isinstance(event, Notice) and "failed" in event.message]
    views = {view.name: view for view in session.mcp_servers()}
    assert views["gone"].status == "failed" and "not found" in (views["gone"].reason or "")
    assert not [tool for tool in requests(server)[0]["tools"] if tool["name"].startswith("mcp__gone")]
    await session.close()


async def test_the_warm_up_carries_the_tools_and_the_first_turn_chains_from_it(start_server, repo, tmp_path):
    server = start_server(scenario(call("mcp__t__echo", "c1", text="a", times=None)))
    session = opened(server, repo, tmp_path, {"t": stdio_server()}, warmup=True, approval="full-auto")
    await session.warm_up()
    await answered_turn(session, "go")
    warm, first = requests(server)[0], requests(server)[1]
    assert warm.get("generate") is False
    assert [tool["name"] for tool in warm["tools"]] == [tool["name"] for tool in first["tools"]]
    assert first.get("previous_response_id")  # the tool list did not change: the chain holds
    await session.close()


async def test_a_disabled_server_does_not_start(start_server, repo, tmp_path):
    server = start_server(scenario(call("read_file", "c1", path="a.py")))
    session = opened(server, repo, tmp_path, {"t": stdio_server(enabled=False)})
    await answered_turn(session, "go")
    assert [view.status for view in session.mcp_servers()] == ["disabled"]
    assert not [tool for tool in requests(server)[0]["tools"] if tool["name"].startswith("mcp__")]
    await session.close()


async def test_an_http_server_with_headers(start_server, repo, tmp_path, http_server, monkeypatch):
    monkeypatch.setenv("CODEASSIST_TEST_MCP_TOKEN", "secret")
    monkeypatch.delenv("CODEASSIST_TEST_MCP_UNSET", raising=False)
    server = start_server(scenario(call("mcp__h__add", "c1", a=20, b=22)))
    servers = {
        "h": http_server.table(headers={"X-Token": "${CODEASSIST_TEST_MCP_TOKEN}"}),
        "locked": http_server.table(headers={}, start_timeout_s=10),
        "unset": http_server.table(headers={"X-Token": "${CODEASSIST_TEST_MCP_UNSET}"}),
    }
    session = opened(server, repo, tmp_path, servers, approval="full-auto")
    events = await answered_turn(session, "go")
    assert outputs(events)["c1"].output == "42"
    views = {view.name: view for view in session.mcp_servers()}
    assert views["h"].status == "ready" and views["h"].transport == "http"
    assert views["locked"].status == "failed" and "(HTTP 401)" in (views["locked"].reason or "")
    assert views["unset"].reason == "its headers name ${CODEASSIST_TEST_MCP_UNSET}, which is not set in the environment"
    await session.close()


async def test_the_tools_are_recorded_as_calls_and_replayed_without_servers(start_server, repo, tmp_path):
    server = start_server(scenario(call("mcp__t__add", "c1", a=1, b=2)))
    session = opened(server, repo, tmp_path, {"t": stdio_server()}, approval="full-auto")
    await answered_turn(session, "go")
    path = session.flush()
    await session.close()
    assert path is not None
    records = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    assert any(record.get("name") == "mcp__t__add" for record in records if isinstance(record, dict))
    assert Session.describe_call("mcp__t__add", '{"a": 1, "b": 2}').summary == "a=1, b=2"


async def test_the_servers_tools_join_apply_patch_in_the_models_own_form(start_server, repo, tmp_path):
    server = start_server(scenario(call("mcp__t__pid", "c1")))
    models = {"scripted-test": {"apply_patch_format": "freeform"}}
    session = opened(server, repo, tmp_path, {"t": stdio_server()}, models=models, approval="full-auto")
    await answered_turn(session, "go")
    offered = {tool["name"]: tool["type"] for tool in requests(server)[0]["tools"]}
    assert offered["apply_patch"] == "custom" and offered["mcp__t__pid"] == "function"
    await session.close()


async def test_esc_during_a_call_aborts_it_and_the_server_goes_on(start_server, repo, tmp_path):
    turns = [
        {"output": [call("mcp__t__hang", "c1")]},
        {"output": [call("mcp__t__echo", "c2", text="still here", times=None)]},
        {"output": [{"type": "message", "text": "Done."}]},
    ]
    server = start_server(Scenario.model_validate({"name": "esc", "turns": turns, "off_script_text": "ok"}))
    session = opened(server, repo, tmp_path, {"t": stdio_server()}, approval="full-auto")
    events = []
    async for event in session.run_turn("go"):
        events.append(event)
        if isinstance(event, ApprovalDecided) and event.call_id == "c1":  # decided: the call runs next
            asyncio.get_running_loop().call_soon(lambda: asyncio.ensure_future(session.cancel()))
    assert outputs(events)["c1"].status == "aborted"
    again = outputs(await answered_turn(session, "again"))
    assert again["c2"].status == "ok" and again["c2"].output == "still here"
    await session.close()


async def test_a_stdio_server_gets_its_env_and_not_codeassists_secrets(start_server, repo, tmp_path, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-not-for-servers-0123456789abcdef")
    monkeypatch.setenv("CODEASSIST_TEST_MCP_SOURCE", "from the environment")
    server = start_server(
        scenario(
            call("mcp__t__variable", "c1", name="OPENAI_API_KEY"),
            call("mcp__t__variable", "c2", name="GREETING"),
            call("mcp__t__variable", "c3", name="SOURCED"),
        )
    )
    env = {"GREETING": "hello", "SOURCED": "${CODEASSIST_TEST_MCP_SOURCE}"}
    session = opened(server, repo, tmp_path, {"t": stdio_server(env=env)}, approval="full-auto")
    done = outputs(await answered_turn(session, "go"))
    assert [done[key].output for key in ("c1", "c2", "c3")] == ["(unset)", "hello", "from the environment"]
    await session.close()


async def test_esc_while_a_turn_waits_for_a_slow_server_cancels_the_turn(start_server, repo, tmp_path):
    server = start_server(scenario(call("read_file", "c1", path="a.py")))
    marker = f"codeassist-slow-{os.getpid()}-{id(tmp_path)}"
    slow = {
        "command": sys.executable,
        "args": ["-c", f"import time; time.sleep(600)  # {marker}"],
        "start_timeout_s": 600,
    }
    session = opened(server, repo, tmp_path, {"slow": slow})
    events = []
    async for event in session.run_turn("go"):
        events.append(event)
        if isinstance(event, Notice) and event.message.startswith("Waiting for the MCP servers"):
            session.start_mcp()  # as the turn does once it goes on (or /mcp, or the warm-up)
            while not running_with(marker):  # the server's process started
                await asyncio.sleep(0.01)
            await session.cancel()
    assert events[-1].reason == "cancelled"
    assert requests(server) == []  # nothing was sent
    assert session.mcp_servers()[0].status == "starting"  # it goes on starting for the next turn
    await session.close()
    assert not running_with(marker)  # closing the session stopped the server it was starting


def running_with(marker: str) -> bool:
    """Whether a process whose command line holds `marker` runs."""
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                return True
        except OSError:
            continue
    return False


async def test_what_a_turn_says_about_the_mcp_servers_is_recorded_as_shown(start_server, repo, tmp_path):
    server = start_server(scenario(call("mcp__t__add", "c1", a=1, b=2)))
    servers = {"t": stdio_server(), "gone": {"command": "codeassist-no-such-server"}}
    session = opened(server, repo, tmp_path, servers, approval="full-auto")
    events = await answered_turn(session, "go")
    shown = [event.message for event in events if isinstance(event, Notice)]
    assert shown[0].startswith("Waiting for the MCP servers to start") and "failed to start" in shown[1]
    path = session.flush()
    await session.close()
    assert path is not None
    records = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    recorded = [record["message"] for record in records if isinstance(record, dict) and record.get("type") == "notice"]
    assert recorded == shown
