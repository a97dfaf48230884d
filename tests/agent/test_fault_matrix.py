"""The fault matrix: every model-connection row of the reliability table, end to end.

Each case runs a real `Session` (the agent loop, the model client, the real transports, the
session log) in a real temporary git repository against a real server on a loopback port:
`codeassist serve` started as a process with faults armed over its control routes, or a raw
WebSocket server for streams `codeassist serve` never sends (`tests/agent/raw_server.py`, or the
model-like one of `tests/agent/fault_rig.py`, which also sends text frames that are not UTF-8). The
model asks for one shell command that appends a line to `ran.log`; every case then checks
the same two promises:

- nothing lost: the session log holds the prompt, every function call has exactly one output,
  and each turn ended with exactly one `turn_ended`;
- nothing run twice: `ran.log` holds at most one line (exactly one when the turn completed).

Backoff delays go to a recording `sleep` (the delay asked for is asserted, never a wall clock).
The rows are numbered as in docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from collections.abc import Callable, Iterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.events import AgentEvent, TransportChanged, TurnEnded
from agent.model_client import backoff_delay
from agent.session import Session
from agent.session_log import load_session
from agent.transport.scripted import function_call, message, response_events
from bench.serve_process import CODEASSIST
from tests.agent.conftest import make_repo
from tests.agent.fault_rig import (
    BlackHoleProxy,
    ModelLikeServer,
    Run,
    ServeProcess,
    TextBytes,
    alive,
    assert_failed_cleanly,
    assert_log_whole,
    assert_nothing_lost,
    exec_environment,
    full_resend,
    model_like_server,
    run_session,
    session_settings,
    start_serve,
    stop_serve,
    wait_for,
)
from tests.agent.raw_server import Frame, RawServer, raw_server

COMMAND = "echo ran >> ran.log"
PROMPT = "run the check"

SCENARIO = {
    "name": "fault-matrix",
    "turns": [
        {
            "output": [
                {"type": "message", "text": "Running it."},
                {"type": "function_call", "call_id": "c_run", "name": "shell", "arguments": {"command": COMMAND}},
            ]
        },
        {
            "expect": [{"type": "function_call_output", "call_id": "c_run"}],
            "output": [{"type": "message", "text": "Done."}],
        },
        {"output": [{"type": "message", "text": "Nothing else."}]},
    ],
}
"""Turn 0 streams (event index: what it is) 0 created, 1 in_progress, 2-8 the message (4 and 5
its text deltas), 9 the call added, 10-14 its argument deltas, 15 arguments done, 16 the call's
`output_item.done`, 17 `response.completed`. A fault's `after_events` counts from 0."""

AFTER_FIRST_DELTA = 5
MID_ARGUMENTS = 12
BEFORE_CALL_DONE = 16
BEFORE_COMPLETED = 17

RUN = function_call("shell", "c_run", {"command": COMMAND})
DONE = message("Done.")
"""The same call and answer as SCENARIO, as items for the raw servers."""

STALL_DETECTED_S = 1.0
"""The idle and ping timeouts of the cases that stall: short, yet far above any pause of a
healthy loopback connection on a loaded machine."""

HANG_GUARD_S = 5.0
"""How long a test waits for something that should happen at once before calling it a hang."""

CONNECTION_LIMIT = {
    "status": 400,
    "error": {
        "type": "invalid_request_error",
        "code": "websocket_connection_limit_reached",
        "message": "Responses websocket connection limit reached (60 minutes). Create a new connection.",
    },
}


# ---- the fixtures and the checks -----------------------------------------------------------------


@pytest.fixture(scope="module")
def serve_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    running = start_serve(tmp_path_factory.mktemp("serve"), SCENARIO)
    yield running
    stop_serve(running)


@pytest.fixture
def serve(serve_process: ServeProcess) -> ServeProcess:
    """The module's `codeassist serve`, with no fault armed and nothing received yet."""
    serve_process.reset()
    return serve_process


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"README.md": "A project.\n"})


async def run_case(base_url: str, workspace: Path, *prompts: str, **overrides: Any) -> Run:
    """One session against `base_url` running `prompts` (by default the one `PROMPT`)."""
    return await run_session(base_url, workspace, *(prompts or (PROMPT,)), **overrides)


def assert_ran_once(run: Run) -> None:
    """The turn completed and the command ran exactly once, after the response completed."""
    assert_nothing_lost(run)
    assert [event.reason for event in run.ended] == ["completed"] * len(run.ended)
    assert run.runs == 1
    assert "Done." in run.text()


def raw_model(*first: list[Frame]) -> AbstractAsyncContextManager[ModelLikeServer]:
    """A raw server sending `first` to the first requests, then answering as SCENARIO does."""
    return model_like_server(*first, call=RUN, done=DONE)


def http_url(server: RawServer) -> str:
    """The base URL a session is given for a raw server (it derives the WebSocket URL from it)."""
    return server.url.replace("ws://", "http://", 1).removesuffix("/responses")


# ---- row 1: the socket drops mid-response ---------------------------------------------------------


@pytest.mark.parametrize("after_events", [AFTER_FIRST_DELTA, MID_ARGUMENTS, BEFORE_CALL_DONE, BEFORE_COMPLETED])
async def test_row1_a_drop_mid_response_runs_nothing_from_it_and_resends_everything(serve, workspace, after_events):
    serve.arm(kind="close", turn=0, after_events=after_events)
    run = await run_case(serve.base_url, workspace)
    assert_ran_once(run)
    [reconnect] = run.reconnects
    assert reconnect.cause == "closed_1011" and run.delays == [reconnect.delay_s]
    kinds = [type(event).__name__ for event in run.events]
    assert kinds.index("Reconnecting") < kinds.index("ApprovalRequested"), "no tool runs from the dropped attempt"
    assert "OutputDiscarded" in kinds[: kinds.index("Reconnecting")], "the partial text is marked discarded"
    dropped, resent, follow_up = (entry["body"] for entry in serve.requests())
    assert full_resend(resent) and resent["input"] == dropped["input"]
    assert follow_up["previous_response_id"], "the next request chains again on the new socket"


@pytest.mark.parametrize("transport", ["websocket", "http"])
@pytest.mark.parametrize("kind", ["close", "stall", "malformed", "error"])
async def test_row1_a_fault_in_the_answer_after_the_command_never_runs_it_again(serve, workspace, transport, kind):
    serve.arm(kind=kind, turn=1, after_events=3)
    run = await run_case(serve.base_url, workspace, transport=transport, idle_timeout_s=STALL_DETECTED_S)
    assert_ran_once(run)
    assert len(run.reconnects) == 1
    resent = serve.requests()[-1]["body"]
    assert full_resend(resent)
    assert [item["type"] for item in resent["input"]][-2:] == ["function_call", "function_call_output"]


async def test_row1_retries_are_bounded_then_the_turn_fails_cleanly(serve, workspace):
    serve.arm(kind="close", turn=0, after_events=BEFORE_COMPLETED, times=0)
    run = await run_case(serve.base_url, workspace, max_retries=2)
    assert_failed_cleanly(run, message="Gave up after 2 retries")
    sent = serve.requests()
    assert [entry["transport"] for entry in sent] == ["websocket"] * 3 + ["http"] * 3
    assert all(full_resend(entry["body"]) for entry in sent)
    assert [type(event).__name__ for event in run.events].count("TransportChanged") == 1
    assert len(run.delays) == 4 and all(delay <= backoff_delay(2) for delay in run.delays)


# ---- row 2: websocket_connection_limit_reached, and rotation by age ----------------------------------


async def test_row2_the_connection_limit_rotates_once_and_resends_everything(serve, workspace):
    serve.arm(kind="error", turn=1, error=CONNECTION_LIMIT)
    run = await run_case(serve.base_url, workspace)
    assert_ran_once(run)
    [reconnect] = run.reconnects
    assert (reconnect.cause, reconnect.attempt, reconnect.delay_s) == ("websocket_connection_limit_reached", 0, 0.0)
    assert run.delays == [], "a rotation waits for nothing and costs no retry"
    first, refused, resent = serve.requests()
    assert refused["body"]["previous_response_id"] and full_resend(resent["body"])
    assert first["connection"] == refused["connection"] != resent["connection"]
    assert [item["type"] for item in resent["body"]["input"]] == [
        "message",
        "message",
        "function_call",
        "function_call_output",
    ]


async def test_row2_an_old_socket_is_replaced_at_a_turn_start_never_mid_turn(serve, workspace):
    run = await run_case(serve.base_url, workspace, PROMPT, "anything else?", max_connection_age_s=0.001)
    assert_nothing_lost(run)
    assert [event.reason for event in run.ended] == ["completed", "completed"] and run.runs == 1
    first, second, third = (entry["connection"] for entry in serve.requests())
    assert first == second != third, "the tool round trip stays on its socket; the next turn gets a new one"


# ---- row 3: previous_response_not_found -------------------------------------------------------------


async def test_row3_a_forgotten_response_is_resent_once_at_once_on_the_same_socket(serve, workspace):
    serve.arm(kind="forget")
    run = await run_case(serve.base_url, workspace)
    assert_ran_once(run)
    [reconnect] = run.reconnects
    assert (reconnect.cause, reconnect.delay_s) == ("previous_response_not_found", 0.0) and run.delays == []
    first, refused, resent = serve.requests()
    assert refused["body"]["previous_response_id"] and full_resend(resent["body"])
    assert first["connection"] == refused["connection"] == resent["connection"]


# ---- row 4: a server that stalls while answering pings, and a half-open connection --------------------


@pytest.mark.parametrize("after_events", [AFTER_FIRST_DELTA, BEFORE_COMPLETED])
async def test_row4_a_stalled_response_trips_the_idle_watchdog_and_is_resent(serve, workspace, after_events):
    serve.arm(kind="stall", turn=0, after_events=after_events)
    run = await run_case(serve.base_url, workspace, idle_timeout_s=STALL_DETECTED_S)
    assert_ran_once(run)
    assert [event.cause for event in run.reconnects] == ["stalled"]
    assert full_resend(serve.requests()[1]["body"])


async def test_row4_a_half_open_connection_is_detected_by_pings_and_resent(serve, workspace):
    port = int(serve.base_url.rsplit(":", 1)[1].split("/")[0])
    async with BlackHoleProxy(port, trigger=b'"response.output_text.done"') as proxy:
        run = await run_case(
            f"http://127.0.0.1:{proxy.port}/v1",
            workspace,
            ping_interval_s=0.2,
            ping_timeout_s=STALL_DETECTED_S,
            idle_timeout_s=60.0,
        )
    assert_ran_once(run)
    assert [event.cause for event in run.reconnects] == ["closed_1011"], "keepalive ping timeout, not the watchdog"
    assert proxy.connections == 2
    assert full_resend(serve.requests()[1]["body"])


# ---- row 5: the upgrade refused with 429 Retry-After, and with 401 -----------------------------------


async def test_row5_a_429_upgrade_waits_at_least_retry_after_then_connects(serve, workspace):
    serve.arm(kind="reject_upgrade", status=429, retry_after=3)
    run = await run_case(serve.base_url, workspace)
    assert_ran_once(run)
    assert len(run.delays) == 1 and 3 <= run.delays[0] <= 3.25
    assert [event.cause for event in run.reconnects] == ["rate_limited"]


async def test_row5_a_429_upgrade_that_persists_is_no_tight_loop(serve, workspace):
    serve.arm(kind="reject_upgrade", status=429, retry_after=2, times=0)
    run = await run_case(serve.base_url, workspace, max_retries=2)
    assert_ran_once(run)
    assert len(run.delays) == 2 and all(delay >= 2 for delay in run.delays), "every attempt waited"
    changed = [event for event in run.events if isinstance(event, TransportChanged)]
    assert [event.transport for event in changed] == ["http"]
    assert [entry["transport"] for entry in serve.requests()] == ["http", "http"]


async def test_row5_a_401_fails_fast_with_a_clear_message(tmp_path, workspace):
    guarded = start_serve(tmp_path / "guarded", SCENARIO, "--api-key", "sk-the-right-key")
    try:
        run = await run_case(guarded.base_url, workspace)
        assert_failed_cleanly(run, message="refused the API key")
        assert run.delays == [] and run.reconnects == []
        assert guarded.connections() == 0 and guarded.requests() == []
    finally:
        stop_serve(guarded)


# ---- row 6: error events (429 rate limit, insufficient quota, 5xx) and response.failed ---------------


def error_event(status: int, code: str, message: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"status": status, "error": {"type": kind, "code": code, "message": message}}


@pytest.mark.parametrize(
    ("error", "cause", "least_delay"),
    [
        (
            error_event(429, "rate_limit_exceeded", "Rate limit reached. Please try again in 1.5s."),
            "rate_limit_exceeded",
            1.5,
        ),
        (error_event(500, "server_error", "The server had an error.", "server_error"), "server_error", 0.0),
        (error_event(503, "server_is_overloaded", "Overloaded.", "server_error"), "server_is_overloaded", 0.0),
    ],
    ids=["rate_limit_exceeded", "500", "503"],
)
async def test_row6_transient_error_events_are_retried_with_a_full_resend(serve, workspace, error, cause, least_delay):
    serve.arm(kind="error", turn=0, after_events=BEFORE_COMPLETED, error=error)
    run = await run_case(serve.base_url, workspace)
    assert_ran_once(run)
    [reconnect] = run.reconnects
    assert reconnect.cause == cause
    [delay] = run.delays
    assert least_delay <= delay <= max(least_delay + 0.25, backoff_delay(1))
    assert full_resend(serve.requests()[1]["body"])


async def test_row6_insufficient_quota_stops_at_once(serve, workspace):
    quota = error_event(429, "insufficient_quota", "You exceeded your current quota.", "insufficient_quota")
    serve.arm(kind="error", turn=0, after_events=BEFORE_COMPLETED, error=quota)
    run = await run_case(serve.base_url, workspace)
    assert_failed_cleanly(run, message="exceeded your current quota")
    assert run.delays == [] and run.reconnects == [] and len(serve.requests()) == 1


async def test_row6_a_failed_response_with_a_server_error_is_retried_like_a_drop(workspace):
    failed = response_events(status="failed", error={"code": "server_error", "message": "The model crashed."})
    async with raw_model(failed) as server:
        run = await run_case(server.url, workspace)
    assert_ran_once(run)
    assert [event.cause for event in run.reconnects] == ["server_error"] and len(run.delays) == 1
    assert full_resend(server.requests[1])


async def test_row6_a_failed_response_with_a_request_error_is_not_retried(workspace):
    failed = response_events(status="failed", error={"code": "invalid_prompt", "message": "The prompt was refused."})
    async with raw_server(failed) as server:
        run = await run_case(http_url(server), workspace)
    assert_nothing_lost(run)
    [ended] = run.ended
    assert ended.reason == "failed" and "The prompt was refused." in (ended.message or "")
    assert run.reconnects == [] and run.runs == 0 and len(server.requests) == 1


# ---- row 7: frames over 1 MiB -----------------------------------------------------------------------


async def test_row7_a_frame_over_one_mebibyte_is_accepted(serve, workspace):
    serve.arm(kind="oversize", turn=0, after_events=BEFORE_COMPLETED, size_bytes=2 * 1024 * 1024)
    run = await run_case(serve.base_url, workspace)
    assert_ran_once(run)
    assert run.reconnects == []


async def test_row7_a_frame_over_the_limit_is_a_clean_error_and_no_reconnect_storm(serve, workspace):
    before = serve.connections()
    limit = 16 * 1024 * 1024
    serve.arm(kind="oversize", turn=0, after_events=BEFORE_COMPLETED, size_bytes=limit + 1024 * 1024, times=0)
    run = await run_case(serve.base_url, workspace, max_frame_bytes=limit)
    assert_failed_cleanly(run, message=f"{limit}-byte limit")
    assert run.reconnects == [] and run.delays == []
    assert serve.connections() == before + 1 and len(serve.requests()) == 1


# ---- row 8: malformed and unknown events, frames that are not UTF-8 --------------------------------------


async def test_row8_a_frame_that_is_not_json_is_a_transport_error_and_is_resent(serve, workspace):
    serve.arm(kind="malformed", turn=0, after_events=BEFORE_COMPLETED)
    run = await run_case(serve.base_url, workspace)
    assert_ran_once(run)
    assert [event.cause for event in run.reconnects] == ["protocol_violation"]
    assert full_resend(serve.requests()[1]["body"])


async def test_row8_unknown_events_are_skipped(serve, workspace):
    serve.arm(kind="oversize", turn=0, after_events=MID_ARGUMENTS, size_bytes=200)
    run = await run_case(serve.base_url, workspace)
    assert_ran_once(run)
    assert run.reconnects == [] and len(serve.requests()) == 2


NOT_UTF8 = b'{"type": "response.output_text.delta", "delta": "\xff\xfe"}'
"""An event whose bytes are not UTF-8."""


@pytest.mark.parametrize("frame", [NOT_UTF8, TextBytes(NOT_UTF8)], ids=["binary", "text"])
async def test_row8_a_frame_that_is_not_utf8_is_a_transport_error_and_is_resent(workspace, frame):
    async with raw_model([*response_events(RUN)[:-1], frame]) as server:
        run = await run_case(server.url, workspace)
    assert_ran_once(run)
    assert [event.cause for event in run.reconnects] == ["protocol_violation"]
    assert full_resend(server.requests[1])


# ---- streams only a raw server sends: duplicates, reuse, events after the end, wrong types -----------


def with_response(events: list[dict[str, Any]], **changes: Any) -> list[dict[str, Any]]:
    """`events` with fields of the terminal event's response changed."""
    *body, end = events
    return [*body, {**end, "response": {**end["response"], **changes}}]


async def test_a_duplicated_completed_event_runs_nothing_twice(workspace):
    first = response_events(RUN)
    async with raw_model([*first, first[-1]]) as server:
        run = await run_case(server.url, workspace)
    assert_ran_once(run)


async def test_the_same_call_id_twice_in_one_response_runs_once(workspace):
    async with raw_model(response_events(RUN, {**RUN, "id": "fc_twin"})) as server:
        run = await run_case(server.url, workspace)
    assert_ran_once(run)


async def test_a_call_id_reused_by_the_next_response_is_not_run_again(workspace):
    async with raw_model(response_events(RUN), response_events({**RUN, "id": "fc_again"})) as server:
        run = await run_case(server.url, workspace)
    assert_nothing_lost(run)
    assert run.runs == 1


async def test_a_call_id_answered_before_a_resume_is_not_run_again(workspace):
    async with raw_model() as server:
        first = await run_case(server.url, workspace)
    assert_ran_once(first)
    async with raw_model(response_events({**RUN, "id": "fc_after_resume"})) as server:
        resumed = await run_case(server.url, workspace, "again", resume=first.path)
    assert resumed.prompts == (PROMPT, "again")
    assert_nothing_lost(resumed)
    assert resumed.runs == 1


async def test_a_duplicated_output_item_done_runs_once(workspace):
    events = with_response(response_events(RUN), output=[])
    done = [event for event in events if event["type"] == "response.output_item.done"]
    async with raw_model([*events[:-1], *done, events[-1]]) as server:
        run = await run_case(server.url, workspace)
    assert_ran_once(run)


async def test_events_after_the_terminal_event_are_not_part_of_the_next_response(workspace):
    first = response_events(RUN)
    late = [event for event in first if event["type"].startswith("response.output_item")]
    answer = with_response(response_events(DONE), output=[])
    async with raw_model([*first, *late, first[0]], answer) as server:
        run = await run_case(server.url, workspace)
    assert_ran_once(run)


async def test_leftovers_naming_unknown_items_are_not_part_of_the_next_response(workspace):
    stale_call = function_call("shell", "c_stale", {"command": "echo stale >> ran.log"})
    after_the_end: list[Frame] = [
        {"type": "response.output_text.delta", "item_id": "msg_stale", "output_index": 0, "delta": "STALE"},
        {"type": "response.output_item.done", "output_index": 1, "item": stale_call},
    ]
    answer = with_response(response_events(DONE), output=[])
    async with raw_model([*response_events(RUN), *after_the_end], answer) as server:
        run = await run_case(server.url, workspace)
    assert_ran_once(run)
    assert "STALE" not in run.text()


def _items_replaced(events: list[dict[str, Any]], kind: str, item: Any) -> list[dict[str, Any]]:
    return [{**event, "item": item} if event["type"] == kind else event for event in events]


WRONG_TYPES: dict[str, Callable[[list[dict[str, Any]]], list[dict[str, Any]]]] = {
    "item_not_a_dict": lambda events: _items_replaced(events, "response.output_item.added", "notadict"),
    "error_code_a_number": lambda events: [*events[:-1], {"type": "error", "code": 5, "message": "bad"}],
    "call_id_a_number": lambda events: with_response(
        _items_replaced(events, "response.output_item.done", {**RUN, "call_id": 7}), output=[{**RUN, "call_id": 7}]
    ),
    "usage_not_a_number": lambda events: with_response(events, usage={"input_tokens": "many"}),
}


@pytest.mark.parametrize(
    "mutation",
    list(WRONG_TYPES),
)
async def test_a_wrongly_typed_field_ends_the_response_as_a_protocol_error_never_a_crash(workspace, mutation):
    async with raw_model(WRONG_TYPES[mutation](response_events(RUN))) as server:
        run = await run_case(server.url, workspace)
    assert_nothing_lost(run)
    assert [event.reason for event in run.ended] in (["completed"], ["error"])
    assert run.runs == (1 if run.ended[0].reason == "completed" else 0)


# ---- any mix of connection faults -------------------------------------------------------------------

FAULTS = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["close", "stall", "malformed", "error", "oversize", "forget"]),
        "turn": st.sampled_from([0, 1]),
        "after_events": st.integers(0, BEFORE_COMPLETED + 1),
        "times": st.integers(1, 3),
        "size_bytes": st.just(300),
    }
)


@settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(faults=st.lists(FAULTS, min_size=1, max_size=3), transport=st.sampled_from(["websocket", "http"]))
def test_any_mix_of_connection_faults_loses_nothing_and_runs_nothing_twice(
    serve_process, tmp_path_factory, faults, transport
):
    serve_process.reset()
    for fault in faults:
        serve_process.arm(**fault)
    workspace = make_repo(tmp_path_factory.mktemp("mix") / "repo", {"README.md": "A project.\n"})
    run = asyncio.run(run_case(serve_process.base_url, workspace, transport=transport, idle_timeout_s=STALL_DETECTED_S))
    assert_nothing_lost(run)
    assert run.runs <= 1
    if run.ended[0].reason == "completed":
        assert run.runs == 1 and "Done." in run.text()
    else:
        assert run.ended[0].reason == "error", "only faults beyond the retries end a turn early"


# ---- row 24: Ctrl-C while a command runs, in `codeassist exec`, or while a retry waits -------------


async def test_row24_a_cancel_while_a_retry_waits_ends_the_turn_at_once(serve, workspace):
    serve.arm(kind="reject_upgrade", status=429, retry_after=60)
    waiting = asyncio.Event()

    async def wait_forever(delay: float) -> None:
        waiting.set()
        await asyncio.Event().wait()

    session = Session.open(
        session_settings(serve.base_url), cwd=workspace, log_root=workspace.parent / "s", sleep=wait_forever
    )
    events: list[AgentEvent] = []

    async def turn() -> None:
        async for event in session.run_turn(PROMPT):
            events.append(event)

    running = asyncio.ensure_future(turn())
    await asyncio.wait({running, asyncio.ensure_future(waiting.wait())}, return_when=asyncio.FIRST_COMPLETED)
    await session.cancel()
    try:
        await asyncio.wait_for(asyncio.shield(running), HANG_GUARD_S)
    finally:
        running.cancel()
        await session.close()
    assert isinstance(events[-1], TurnEnded) and events[-1].reason == "cancelled"


SLOW_COMMAND = "sleep 60 & echo $$ $! > pids; wait; echo ran >> ran.log"
SLOW_SCENARIO = {
    "name": "fault-matrix-slow",
    "turns": [
        {
            "output": [
                {"type": "function_call", "call_id": "c_slow", "name": "shell", "arguments": {"command": SLOW_COMMAND}}
            ]
        },
        {"output": [{"type": "message", "text": "Done."}]},
    ],
}


def test_row24_ctrl_c_during_a_command_kills_it_and_leaves_a_valid_session(tmp_path, workspace):
    slow = start_serve(tmp_path / "slow", SLOW_SCENARIO)
    environ = exec_environment(tmp_path)
    common = ["--base-url", slow.base_url, "--approval", "full-auto", "--sandbox", "off", "--json"]
    try:
        process = subprocess.Popen(
            [CODEASSIST, "exec", *common, PROMPT], cwd=workspace, env=environ, stdout=subprocess.PIPE, text=True
        )
        pids = workspace / "pids"
        wait_for(lambda: len(pids.read_text().split()) == 2 if pids.exists() else False, "the command to start")
        shell, sleep = (int(pid) for pid in pids.read_text().split())
        process.send_signal(signal.SIGINT)
        out, _ = process.communicate(timeout=30)
        assert process.returncode == 130
        wait_for(lambda: not alive(shell) and not alive(sleep), "the command and its child to die")
        assert not (workspace / "ran.log").exists()
        started = json.loads(out.splitlines()[0])
        log = load_session(Path(started["log_path"]))
        run = Run([], log, [], workspace, (PROMPT,))
        assert_log_whole(run)
        [ended] = run.records("turn_ended")
        assert ended["reason"] == "cancelled"
        [output] = run.items("function_call_output")
        assert output["call_id"] == "c_slow" and output["output"].startswith("aborted")

        before = len(slow.requests())
        again = subprocess.run(
            [CODEASSIST, "exec", *common, "--continue", "go on"],
            cwd=workspace,
            env=environ,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert again.returncode == 0, again.stderr
        first = slow.requests()[before]["body"]
        assert "previous_response_id" not in first, "the next session's first request resends the whole conversation"
        assert [item["type"] for item in first["input"]] == ["message", "function_call", "function_call_output"]
        assert first["input"][2]["output"].startswith("aborted")
    finally:
        stop_serve(slow)
