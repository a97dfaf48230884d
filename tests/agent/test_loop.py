"""The agent loop end to end: a real server, a real temp git repository, real tools."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, ClassVar

from pydantic import Field

from agent.approvals import ApprovalRequest, Decision
from agent.events import (
    ApprovalDecided,
    ApprovalRequested,
    MessageCompleted,
    OutputDiscarded,
    Reconnecting,
    ResponseFinished,
    ResponseStarted,
    TextDelta,
    ToolCallReady,
    ToolCallStarted,
    ToolFinished,
    TurnEnded,
)
from agent.session import Session
from agent.tools import ToolArgs, ToolContext, ToolResult, read_only_tools
from agent.tools.base import Tool
from agent.tools.paths import resolve_path
from agent.transport import StreamInterrupted
from agent.transport.scripted import ScriptedFailure, function_call, message, response_events
from server.faults import Fault
from server.scenario import Scenario
from tests.agent.conftest import answered_turn, settings_for
from tests.agent.scripted import scripted_agent


class TouchArgs(ToolArgs):
    path: str = Field(description="File to create")


class TouchFile(Tool[TouchArgs]):
    """A small mutating tool: creates an empty file."""

    name = "touch_file"
    description = "Create an empty file."
    Args = TouchArgs
    kind = "edit"
    mutating = True

    async def run(self, args: TouchArgs, ctx: ToolContext) -> ToolResult:
        resolve_path(ctx, args.path, for_write=True).touch()
        return ToolResult(output=f"created {args.path}")


class SleepArgs(ToolArgs):
    seconds: int = Field(description="How long")


class SleepTool(Tool[SleepArgs]):
    """Runs a real `sleep` subprocess and kills it when cancelled."""

    name = "sleep"
    description = "Sleep."
    Args = SleepArgs
    pids: ClassVar[list[int]] = []

    async def run(self, args: SleepArgs, ctx: ToolContext) -> ToolResult:
        process = await asyncio.create_subprocess_exec("sleep", str(args.seconds))
        SleepTool.pids.append(process.pid)
        try:
            await process.wait()
        except asyncio.CancelledError:
            process.kill()
            await process.wait()
            raise
        return ToolResult(output="slept")


def call(name: str, call_id: str, **arguments: Any) -> dict[str, Any]:
    return {"type": "function_call", "name": name, "call_id": call_id, "arguments": arguments}


def scenario(*turns: dict[str, Any], **extra: Any) -> Scenario:
    return Scenario.model_validate({"name": "loop", "turns": list(turns), **extra})


TWO_CALLS = scenario(
    {
        "output": [
            {"type": "message", "text": "Looking."},
            call("list_files", "c_list"),
            call("read_file", "c_read", path="a.py"),
        ]
    },
    {
        "expect": [
            {"type": "function_call_output", "call_id": "c_list", "contains": "pkg/b.py"},
            {"type": "function_call_output", "call_id": "c_read", "contains": "print('hello')"},
        ],
        "output": [{"type": "message", "text": "Done."}],
    },
    {"output": [{"type": "message", "text": "Again."}]},
)


async def run_turn(agent, prompt: str, decide=None) -> list:
    return await answered_turn(agent, prompt, decide) if decide else await answered_turn(agent, prompt)


def requests(server) -> list[dict]:
    return [entry.body for entry in server.state.received if entry.body is not None]


def session(server, repo: Path, tmp_path: Path, *, tools=None, **settings) -> Session:
    return Session.open(settings_for(server, **settings), cwd=repo, tools=tools, log_root=tmp_path / "sessions")


async def test_a_multi_step_tool_task_sends_increments_after_the_first_request(start_server, repo, tmp_path):
    server = start_server(TWO_CALLS)
    handle = session(server, repo, tmp_path)
    events = await run_turn(handle.agent, "look around")
    ended = events[-1]
    assert isinstance(ended, TurnEnded) and ended.reason == "completed"
    finished = {e.call_id: e for e in events if isinstance(e, ToolFinished)}  # as each finished: they ran together
    assert {call_id: e.status for call_id, e in finished.items()} == {"c_list": "ok", "c_read": "ok"}
    assert "a.py" in finished["c_list"].output and "print('hello')" in finished["c_read"].output
    assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "Looking.Done."
    first, second = requests(server)
    assert "previous_response_id" not in first
    assert second["previous_response_id"] and [(item["type"], item["call_id"]) for item in second["input"]] == [
        ("function_call_output", "c_list"),
        ("function_call_output", "c_read"),
    ]
    assert first["tools"] == second["tools"] and first["instructions"] == second["instructions"]
    assert "Use tabs." in first["instructions"], "AGENTS.md is part of the instructions"
    started = [e for e in events if isinstance(e, ResponseStarted)]
    assert [(e.incremental, e.reason) for e in started] == [(False, "first request"), (True, "incremental")]
    assert ended.stats.tool_calls == 2 and len(ended.stats.responses) == 2
    assert ended.stats.responses[1].cached_tokens > 0
    await handle.close()


async def test_warm_up_lets_the_first_turn_chain(start_server, repo, tmp_path):
    server = start_server(TWO_CALLS)
    handle = session(server, repo, tmp_path, warmup=True)
    assert (await handle.agent.warm_up()) is not None
    await run_turn(handle.agent, "look around")
    warm, first, _ = requests(server)
    assert warm["generate"] is False and warm["tools"] and warm["input"] == []
    assert first["previous_response_id"] and len(first["input"]) == 1
    await handle.close()


async def test_a_drop_mid_stream_runs_no_tool_and_the_turn_completes_after_reconnect(start_server, repo, tmp_path):
    server = start_server(TWO_CALLS)
    server.state.faults.add(Fault(kind="close", turn=0, after_events=12))
    handle = session(server, repo, tmp_path)
    events = await run_turn(handle.agent, "look around")
    kinds = [type(e).__name__ for e in events]
    assert kinds.index("ToolCallReady") < kinds.index("Reconnecting") < kinds.index("ToolFinished")
    assert sorted(e.call_id for e in events if isinstance(e, ToolFinished)) == ["c_list", "c_read"]
    assert events[-1].reason == "completed"
    dropped, resent, follow = requests(server)
    assert "previous_response_id" not in resent and resent["input"] == dropped["input"]
    assert follow["previous_response_id"]
    await handle.close()


async def test_non_interactive_ask_denies_and_the_model_hears_why(start_server, repo, tmp_path):
    server = start_server(
        scenario(
            {"output": [call("touch_file", "c1", path="new.txt")]},
            {
                "expect": [
                    {
                        "type": "function_call_output",
                        "call_id": "c1",
                        "contains": "Not run: denied without asking the user. This run is non-interactive",
                    }
                ],
                "output": [{"type": "message", "text": "ok"}],
            },
        )
    )
    handle = session(server, repo, tmp_path, tools=[*read_only_tools(), TouchFile()])
    events = await run_turn(handle.agent, "make a file")
    assert not (repo / "new.txt").exists()
    decided = [e for e in events if isinstance(e, ApprovalDecided)]
    assert decided[0].decision == "deny" and decided[0].rule == "policy:non-interactive"
    assert events[-1].reason == "completed"
    await handle.close()


async def test_approve_always_is_remembered_for_the_session(start_server, repo, tmp_path):
    server = start_server(
        scenario(
            {"output": [call("touch_file", "c1", path="one.txt")]},
            {"output": [call("touch_file", "c2", path="two.txt")]},
            {"output": [{"type": "message", "text": "ok"}]},
        )
    )
    asked: list[ApprovalRequest] = []

    def decide(request: ApprovalRequest) -> Decision:
        asked.append(request)
        return Decision(kind="approve_always")

    handle = session(server, repo, tmp_path, tools=[TouchFile()])
    events = await run_turn(handle, "make files", decide)
    assert (repo / "one.txt").exists() and (repo / "two.txt").exists()
    assert len(asked) == 1
    assert [e.rule for e in events if isinstance(e, ApprovalDecided)] == ["user", "rule:touch_file"]
    assert len([e for e in events if isinstance(e, ApprovalRequested)]) == 1
    await handle.close()


async def test_read_only_policy_refuses_mutating_tools(start_server, repo, tmp_path):
    server = start_server(
        scenario({"output": [call("touch_file", "c1", path="x.txt")]}, {"output": [{"type": "message", "text": "ok"}]})
    )
    handle = session(server, repo, tmp_path, tools=[TouchFile()], approval="read-only")
    events = await run_turn(handle.agent, "go")
    [finished] = [e for e in events if isinstance(e, ToolFinished)]
    assert finished.status == "denied" and "read-only" in finished.output
    assert not (repo / "x.txt").exists()
    await handle.close()


async def test_cancel_mid_stream_abandons_the_response_and_the_next_turn_resends(start_server, repo, tmp_path):
    long_text = " ".join(f"word{i}" for i in range(200))
    server = start_server(
        scenario(
            {"output": [{"type": "message", "text": long_text}]},
            {"output": [{"type": "message", "text": "fresh"}]},
            tokens_per_second=100,
        )
    )
    handle = session(server, repo, tmp_path)
    agent = handle.agent
    events = []
    async for event in agent.run_turn("talk"):
        events.append(event)
        if isinstance(event, TextDelta) and len(events) > 5:
            await agent.cancel()
    assert events[-1].reason == "cancelled"
    events = await run_turn(agent, "again")
    assert events[-1].reason == "completed"
    started = [e for e in events if isinstance(e, ResponseStarted)]
    assert started[0].incremental is False
    body = requests(server)[-1]
    assert "previous_response_id" not in body
    assert [item.get("role") for item in body["input"]] == ["user", "user"]
    assert agent.client.websocket.generation == 2
    await handle.close()


async def test_cancel_mid_tool_kills_it_and_records_an_aborted_output(start_server, repo, tmp_path):
    server = start_server(
        scenario(
            {"output": [call("sleep", "c_sleep", seconds=30), call("read_file", "c_read", path="a.py")]},
            {
                "expect": [
                    {"type": "function_call_output", "call_id": "c_sleep", "contains": "aborted"},
                    {"type": "function_call_output", "call_id": "c_read", "contains": "aborted"},
                ],
                "output": [{"type": "message", "text": "understood"}],
            },
        )
    )
    handle = session(server, repo, tmp_path, tools=[*read_only_tools(), SleepTool()])
    agent = handle.agent
    events = []
    async for event in agent.run_turn("sleep"):
        events.append(event)
        if isinstance(event, ToolCallReady) and event.call_id == "c_read":
            asyncio.get_running_loop().call_later(0.3, lambda: asyncio.ensure_future(agent.cancel()))
    assert events[-1].reason == "cancelled"
    finished = {e.call_id: e.status for e in events if isinstance(e, ToolFinished)}
    assert finished == {"c_sleep": "aborted", "c_read": "aborted"}
    pid = SleepTool.pids[-1]
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().split()[2]
    events = await run_turn(agent, "what happened?")
    assert events[-1].reason == "completed"
    await handle.close()


async def test_the_session_log_records_frames_tools_and_stats_without_secrets(start_server, repo, tmp_path):
    from agent.resume import resume_record
    from agent.session_log import load_session

    server = start_server(TWO_CALLS)
    secret = "sk-test-abcdefghijklmnopqrstuvwxyz012345"
    (repo / "a.py").write_text(f"KEY = '{secret}'\n")
    handle = session(server, repo, tmp_path, trace_frames=True)
    await run_turn(handle.agent, "look around")
    path = handle.recorder.path
    await handle.close()
    trace = path.with_suffix(".trace")
    assert secret not in path.read_text() and secret not in trace.read_text()
    assert oct(path.stat().st_mode & 0o777) == oct(trace.stat().st_mode & 0o777) == "0o600"
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
    loaded = load_session(path)
    assert loaded.header["model"] == "scripted-test" and loaded.header["git_head"]
    kinds = [record["type"] for record in loaded.records]
    calls = [item for r in loaded.records if r["type"] == "items" for item in r["items"]]
    assert [item["type"] for item in calls].count("function_call") == kinds.count("tool_finished") == 2
    assert "frame" not in kinds, "raw frames go to the opt-in trace, not the record"
    frames = [r for r in load_session(trace).records if r["type"] == "frame"]
    assert [f["dir"] for f in frames].count("sent") == 2
    assert frames[0]["data"]["type"] == "response.create"
    assert "turn_ended" in kinds and "response_finished" in kinds
    restored = resume_record(path)
    assert [call.interrupted for turn in restored.turns for call in turn.tool_calls] == [False, False]


async def test_exec_style_http_transport_completes_the_same_task(start_server, repo, tmp_path):
    server = start_server(TWO_CALLS)
    handle = session(server, repo, tmp_path, transport="http")
    events = await run_turn(handle.agent, "look around")
    assert events[-1].reason == "completed"
    assert [e.reason for e in events if isinstance(e, ResponseStarted)] == ["first request", "HTTP without store"]
    assert all(entry.transport == "http" for entry in server.state.received)
    await handle.close()


async def test_agents_md_pointing_out_of_the_workspace_is_not_read(start_server, tmp_path):
    from tests.agent.conftest import make_repo

    secret = tmp_path / "credentials"
    secret.write_text("aws_secret_access_key = SHOULD-NOT-LEAK\n")
    work = make_repo(tmp_path / "linked", {"a.py": "x = 1\n"})
    os.symlink(secret, work / "AGENTS.md")
    server = start_server(TWO_CALLS)
    handle = session(server, work, tmp_path)
    await run_turn(handle.agent, "look around")
    assert "SHOULD-NOT-LEAK" not in requests(server)[0]["instructions"]
    await handle.close()


async def test_stats_count_the_bytes_of_abandoned_attempts(start_server, repo, tmp_path):
    server = start_server(TWO_CALLS)
    server.state.faults.add(Fault(kind="close", turn=1, after_events=4))
    handle = session(server, repo, tmp_path)
    events = await run_turn(handle.agent, "look around")
    ended = events[-1]
    assert ended.reason == "completed"
    assert ended.stats.bytes_sent == sum(entry.size for entry in server.state.received)
    await handle.close()


async def test_a_drop_mid_stream_discards_the_shown_output_and_the_final_text_comes_once(start_server, repo, tmp_path):
    server = start_server(scenario({"output": [{"type": "message", "text": "The whole answer, said once."}]}))
    server.state.faults.add(Fault(kind="close", after_events=5))
    handle = session(server, repo, tmp_path)
    events = await run_turn(handle.agent, "say it")
    assert events[-1].reason == "completed"
    kinds = [type(e) for e in events]
    discarded = kinds.index(OutputDiscarded)
    assert kinds[discarded + 1] is Reconnecting and TextDelta in kinds[:discarded]
    shown = "".join(e.text for e in events[discarded:] if isinstance(e, TextDelta))
    [completed] = [e for e in events if isinstance(e, MessageCompleted)]
    assert shown == completed.text == "The whole answer, said once."
    assert kinds.index(MessageCompleted) == kinds.index(ResponseFinished) - 1
    await handle.close()


# ---- the loop's logic over an in-process scripted transport -------------------------------------


async def test_every_call_gets_exactly_one_output_even_when_invalid(repo):
    agent, transport = scripted_agent(
        repo,
        response_events(
            function_call("read_file", "c1", {"path": "a.py", "extra": 1}),
            function_call("no_such_tool", "c2"),
            function_call("read_file", "c3", {"path": "../../etc/passwd"}),
            function_call("read_file", "c4", {"path": "a.py"}),
        ),
        response_events(message("ok")),
    )
    events = await run_turn(agent, "go")
    finished = {e.call_id: e for e in events if isinstance(e, ToolFinished)}
    assert [finished[c].status for c in ("c1", "c2", "c3", "c4")] == ["invalid", "invalid", "error", "ok"]
    assert "extra" in finished["c1"].output and "no tool named" in finished["c2"].output
    assert "outside the workspace" in finished["c3"].output
    outputs = [item["call_id"] for item in transport.requests[1]["input"]]
    assert outputs == ["c1", "c2", "c3", "c4"]


TWO_CALLS_SCRIPT = (
    response_events(
        message("Looking."),
        function_call("list_files", "c_list"),
        function_call("read_file", "c_read", {"path": "a.py"}),
    ),
    response_events(message("Done.")),
)


async def test_step_limit_ends_the_turn_with_every_call_answered(repo):
    agent, transport = scripted_agent(repo, *TWO_CALLS_SCRIPT, max_steps=1)
    events = await run_turn(agent, "look around")
    assert events[-1].reason == "step_limit"
    assert {e.call_id: e.status for e in events if isinstance(e, ToolFinished)} == {"c_list": "ok", "c_read": "ok"}
    events = await run_turn(agent, "continue")
    assert events[-1].reason == "completed"
    assert [item.get("call_id") for item in transport.requests[1]["input"]][:2] == ["c_list", "c_read"]


async def test_a_failed_response_ends_the_turn_with_its_message(repo):
    agent, _ = scripted_agent(
        repo, response_events(status="failed", error={"code": "invalid_prompt", "message": "Too long."})
    )
    events = await run_turn(agent, "go")
    assert events[-1].reason == "failed" and "Too long." in events[-1].message
    assert not [e for e in events if isinstance(e, MessageCompleted)]


async def test_an_incomplete_response_answers_its_calls_and_keeps_its_text(repo):
    agent, transport = scripted_agent(
        repo,
        response_events(message("Partly"), function_call("list_files", "c1"), status="incomplete"),
        response_events(message("next")),
    )
    events = await run_turn(agent, "go")
    assert events[-1].reason == "incomplete" and "max_output_tokens" in events[-1].message
    [finished] = [e for e in events if isinstance(e, ToolFinished)]
    assert finished.status == "aborted" and finished.output.startswith("not run:")
    assert [e.text for e in events if isinstance(e, MessageCompleted)] == ["Partly"]
    await run_turn(agent, "again")
    assert transport.requests[1]["previous_response_id"], "an incomplete response is committed"


async def test_message_completed_comes_once_per_response_with_text_before_its_stats(repo):
    agent, _ = scripted_agent(repo, *TWO_CALLS_SCRIPT)
    events = await run_turn(agent, "look around")
    kinds = [type(e).__name__ for e in events]
    assert [e.text for e in events if isinstance(e, MessageCompleted)] == ["Looking.", "Done."]
    finished_at = [i for i, kind in enumerate(kinds) if kind == "ResponseFinished"]
    assert [kinds[i - 1] for i in finished_at] == ["MessageCompleted", "MessageCompleted"]
    assert not [e for e in events if isinstance(e, OutputDiscarded)]


async def test_a_retry_discards_output_only_when_the_abandoned_attempt_showed_some(repo):
    answer = response_events(message("Final words."), function_call("list_files", "c1"))
    agent, transport = scripted_agent(
        repo,
        ScriptedFailure(StreamInterrupted("dropped"), answer[:1]),  # only response.created: nothing shown
        ScriptedFailure(StreamInterrupted("dropped"), answer[:4]),  # text shown
        answer,
        response_events(message("ok")),
    )
    events = await run_turn(agent, "go")
    assert events[-1].reason == "completed"
    first_response = events[: [type(e) for e in events].index(ToolFinished)]
    names = [type(e).__name__ for e in first_response]
    assert names.count("Reconnecting") == 2
    assert names.count("OutputDiscarded") == 1
    discarded = names.index("OutputDiscarded")
    assert names[discarded + 1] == "Reconnecting" and "TextDelta" in names[:discarded]
    after = first_response[discarded:]
    assert "".join(e.text for e in after if isinstance(e, TextDelta)) == "Final words."
    assert [e.call_id for e in after if isinstance(e, ToolCallStarted)] == ["c1"]
    assert all("previous_response_id" not in body for body in transport.requests[:3])
    assert transport.generation == 3


async def test_cancel_mid_stream_breaks_the_chain_and_the_next_turn_resends(repo):
    agent, transport = scripted_agent(
        repo,
        response_events(message("one")),
        response_events(message(" ".join(f"word{i}" for i in range(200)))),
        response_events(message("fresh")),
        pause_s=0.001,
    )
    await run_turn(agent, "first")
    events = []
    async for event in agent.run_turn("talk"):
        events.append(event)
        if isinstance(event, TextDelta) and len(events) > 5:
            await agent.cancel()
    assert events[-1].reason == "cancelled"
    events = await run_turn(agent, "again")
    assert events[-1].reason == "completed"
    [started] = [e for e in events if isinstance(e, ResponseStarted)]
    assert started.incremental is False and started.reason == "previous turn cancelled"
    assert "previous_response_id" not in transport.requests[-1]


async def test_warm_up_commits_so_the_first_turn_chains(repo):
    agent, transport = scripted_agent(repo, response_events(), response_events(message("hi")))
    stats = await agent.warm_up()
    assert stats is not None and stats.status == "warm-up" and stats.reason == "warm-up"
    assert transport.requests[0]["generate"] is False
    events = await run_turn(agent, "hello")
    [started] = [e for e in events if isinstance(e, ResponseStarted)]
    assert started.incremental and transport.requests[1]["previous_response_id"]


async def test_cancel_while_an_approval_waits_answers_it_with_cancel(start_server, repo, tmp_path):
    server = start_server(
        scenario(
            {"output": [call("touch_file", "c1", path="new.txt")]},
            {"output": [{"type": "message", "text": "fresh"}]},
        )
    )
    handle = session(server, repo, tmp_path, tools=[TouchFile()])
    events = []
    async for event in handle.run_turn("make a file"):
        events.append(event)
        if isinstance(event, ApprovalRequested):
            assert handle.agent.approvals.pending == ["c1"]
            await handle.cancel()  # Esc: nobody answers the card
    assert events[-1].reason == "cancelled"
    [decided] = [e for e in events if isinstance(e, ApprovalDecided)]
    assert decided.decision == "cancel"
    assert not (repo / "new.txt").exists()
    assert handle.agent.approvals.pending == []
    assert not handle.answer_approval("c1", Decision(kind="approve_once")), "its turn is over"
    events = await run_turn(handle, "again")
    assert events[-1].reason == "completed"
    await handle.close()


async def test_a_turn_stopped_at_an_approval_leaves_nothing_pending(start_server, repo, tmp_path):
    """What the app does on /new or quit while a card waits: the worker running the turn is cancelled."""
    server = start_server(scenario({"output": [call("touch_file", "c1", path="new.txt")]}))
    handle = session(server, repo, tmp_path, tools=[TouchFile()])
    asked = asyncio.Event()

    async def consume() -> None:
        async for event in handle.run_turn("make a file"):
            if isinstance(event, ApprovalRequested):
                asked.set()

    worker = asyncio.create_task(consume())
    await asked.wait()
    await asyncio.sleep(0.05)
    assert handle.agent.approvals.pending == ["c1"]
    worker.cancel()
    await asyncio.gather(worker, return_exceptions=True)
    assert handle.agent.approvals.pending == []
    assert not (repo / "new.txt").exists()
    await handle.close()
