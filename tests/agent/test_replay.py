"""Replay: a recorded session plays back as the live events, with no network and no tools."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from agent.events import (
    AgentError,
    ApprovalDecided,
    ApprovalRequested,
    Notice,
    ReasoningDelta,
    Reconnecting,
    TextDelta,
    ToolFinished,
    TransportChanged,
    TurnEnded,
    TurnStarted,
)
from agent.replay import (
    INTERRUPTED_TURN_MESSAGE,
    MAX_SPEED,
    MIN_SPEED,
    REPLAY_INTERRUPTED_OUTPUT,
    SessionReplay,
)
from agent.session import Session
from agent.session_log import LoadedSession, load_session
from agent.tools import default_tools
from server.faults import Fault
from server.scenario import Scenario
from tests.agent.conftest import settings_for
from tests.agent.recording import TASK, record_task, run_turn


def dumps(events: list) -> list[dict]:
    """Event payloads, every field included."""
    return [event.model_dump(mode="json") for event in events]


async def replayed(source, **options) -> list:
    """The replayed turns: the `git_baseline` the session recorded when it opened (outside any turn,
    so no live turn streamed it) comes first and is left out."""
    events = [event async for event in SessionReplay(source, instant=True, **options).events()]
    assert events[0].type == "git_baseline"
    return events[1:]


def tree(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(path.relative_to(root)): (path.read_bytes(), path.stat().st_mtime_ns)
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def loaded(*records: dict) -> LoadedSession:
    numbered = [{"v": 1, "seq": seq, **record} for seq, record in enumerate(records, start=1)]
    return LoadedSession({"type": "session_meta", "v": 1, "id": "s"}, numbered, [])


@pytest.mark.parametrize("transport", ["websocket", "http"])
async def test_replay_reproduces_the_live_events_and_their_payloads(start_server, repo, tmp_path, transport):
    server = start_server(TASK)
    handle = Session.open(settings_for(server, transport=transport), cwd=repo, log_root=tmp_path / "sessions")
    live = await run_turn(handle.agent, "look around and take notes") + await run_turn(handle.agent, "anything else?")
    await handle.close()

    events = await replayed(handle.recorder.path)

    assert dumps(events) == dumps(live)
    kinds = {type(event) for event in live}
    assert {ReasoningDelta, ApprovalRequested, ApprovalDecided, ToolFinished, TurnEnded} <= kinds
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == "Looking around.Done: wrote **notes.txt**.Second answer."
    ended = [e for e in events if isinstance(e, TurnEnded)]
    assert [e.stats.turn for e in ended] == [1, 2] and ended[0].stats.tool_calls == 3
    assert ended[0].stats == next(e for e in live if isinstance(e, TurnEnded)).stats


async def test_replay_opens_no_connection_runs_no_tool_and_writes_nothing(start_server, repo, tmp_path, monkeypatch):
    server = start_server(TASK)
    path, live = await record_task(server, repo, tmp_path / "sessions")
    before_repo, before_log = tree(repo), path.read_bytes()
    assert (repo / "shell.log").read_text() == "ran\n"

    def refuse(*args, **kwargs):
        raise AssertionError("replay tried to open a connection or start a process")

    class NoSocket(socket.socket):
        def __init__(self, *args, **kwargs):
            refuse()

    monkeypatch.setattr(socket, "socket", NoSocket)
    for name in ("create_connection", "getaddrinfo", "socketpair"):
        monkeypatch.setattr(socket, name, refuse)
    monkeypatch.setattr(subprocess, "Popen", refuse)
    monkeypatch.setattr(asyncio, "create_subprocess_exec", refuse)
    monkeypatch.setattr(asyncio, "create_subprocess_shell", refuse)
    monkeypatch.setattr(os, "system", refuse)
    for tool in default_tools(web_search=True):
        monkeypatch.setattr(type(tool), "run", refuse)

    replay = SessionReplay(path, speed=MAX_SPEED)  # real waits, scaled down
    baseline, *events = [event async for event in replay.events()]

    assert baseline.type == "git_baseline", "recorded when the session opened"
    assert dumps(events) == dumps(live)
    assert replay.position == replay.total == len(live) + 1
    assert tree(repo) == before_repo and path.read_bytes() == before_log
    assert (repo / "shell.log").read_text() == "ran\n"


async def test_a_crashed_session_ends_with_aborted_calls_and_an_interrupted_turn(start_server, repo, tmp_path):
    server = start_server(TASK)
    path, _ = await record_task(server, repo, tmp_path / "sessions", prompts=("look around and take notes",))
    lines = path.read_bytes().splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines) if b'"approval_requested"' in line and b"c_shell" in line)
    path.write_bytes(b"".join(lines[: cut + 1]) + b'{"v":2,"seq":99,"t":1.0,"type":"appro')

    replay = SessionReplay(path, instant=True)
    events = [event async for event in replay.events()]

    finished = [(e.call_id, e.status, e.output) for e in events if isinstance(e, ToolFinished)]
    assert finished[0][:2] == ("c_list", "ok")
    assert finished[1] == ("c_shell", "aborted", REPLAY_INTERRUPTED_OUTPUT)
    ended = events[-1]
    assert isinstance(ended, TurnEnded) and ended.reason == "cancelled" and ended.message == INTERRUPTED_TURN_MESSAGE
    assert ended.stats.turn == 1 and len(ended.stats.responses) == 1
    assert any("torn last line" in warning for warning in replay.warnings)


async def test_a_reconnect_mid_stream_replays_in_place(start_server, repo, tmp_path):
    server = start_server(TASK)
    server.state.faults.add(Fault(kind="close", turn=0, after_events=12))
    path, live = await record_task(server, repo, tmp_path / "sessions", prompts=("look around and take notes",))
    events = await replayed(path)

    [live_retry], [retry] = ([e for e in run if isinstance(e, Reconnecting)] for run in (live, events))
    assert retry == live_retry, "the log records each retry's attempt, delay and cause"
    assert dumps(live) == dumps(events)
    assert [type(e) for e in events] == [type(e) for e in live]


async def test_a_server_error_retry_keeps_its_cause_and_a_fallback_is_replayed(start_server, repo, tmp_path):
    server = start_server(TASK)
    server.state.faults.add(Fault(kind="error", turn=0, after_events=3))
    path, live = await record_task(server, repo, tmp_path / "s1", prompts=("look around and take notes",))
    events = await replayed(path)
    [live_retry], [retry] = ([e for e in run if isinstance(e, Reconnecting)] for run in (live, events))
    assert (retry.attempt, retry.cause) == (live_retry.attempt, live_retry.cause) == (1, "server_error")

    server = start_server(TASK)
    server.state.faults.add(Fault(kind="reject_upgrade", status=426, times=0))
    path, live = await record_task(server, repo, tmp_path / "s2", prompts=("look around and take notes",))
    events = await replayed(path)
    assert dumps(events) == dumps(live)
    assert [e.transport for e in events if isinstance(e, TransportChanged)] == ["http"]


async def test_an_errored_turn_replays_its_error_before_the_turn_end(start_server, repo, tmp_path):
    server = start_server(Scenario.model_validate({"turns": [{"output": [{"type": "message", "text": "x"}]}]}))
    server.state.faults.add(
        Fault(kind="error", turn=0, error={"error": {"code": "invalid_prompt", "message": "No."}, "status": 400})
    )
    path, live = await record_task(server, repo, tmp_path / "sessions", prompts=("go",))
    events = await replayed(path)
    assert [type(e) for e in events[-2:]] == [AgentError, TurnEnded]
    assert dumps(events) == dumps(live)


def test_timing_sleeps_the_recorded_gaps_capped_and_scaled():
    session = loaded(
        {"t": 10.0, "type": "user_message", "turn": 1, "text": "hi"},
        {"t": 10.5, "type": "frame", "dir": "sent", "data": {"type": "response.create", "input": []}},
        {"t": 40.5, "type": "frame", "dir": "received", "data": {"type": "response.output_text.delta", "delta": "a"}},
        {"t": 41.0, "type": "frame", "dir": "received", "data": {"type": "response.output_text.delta", "delta": "b"}},
        {"t": 9.0, "type": "frame", "dir": "received", "data": {"type": "response.output_text.delta", "delta": "c"}},
    )
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    replay = SessionReplay(session, speed=2, sleep=sleep)
    events = asyncio.run(_collect(replay))
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["a", "b", "c"]
    assert [t.gap_s for t in replay.timeline[:5]] == [0.0, 0.5, 30.0, 0.5, 0.0]
    assert slept == [0.25, 1.0, 0.25]  # 0.5/2, 2 s cap/2, 0.5/2; zero gaps are not slept
    assert replay.delay_for(30.0) == 1.0
    replay.instant = True
    assert replay.delay_for(30.0) == 0.0


def test_speed_doubles_and_halves_within_its_limits():
    replay = SessionReplay(loaded(), speed=100)
    assert replay.speed == MAX_SPEED
    assert replay.slower() == 32.0 and replay.faster() == 64.0 and replay.faster() == MAX_SPEED
    replay.speed = 0.01
    assert replay.speed == MIN_SPEED and replay.slower() == MIN_SPEED and replay.faster() == 0.5


async def test_pause_holds_the_next_event_until_resumed():
    session = loaded(
        {"t": 1.0, "type": "user_message", "turn": 1, "text": "one"},
        {"t": 2.0, "type": "user_message", "turn": 2, "text": "two"},
    )
    replay = SessionReplay(session, instant=True)
    stream = replay.events()
    assert isinstance(await anext(stream), TurnStarted)
    assert replay.toggle_pause() is True and replay.paused
    pending = asyncio.ensure_future(anext(stream))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not pending.done()
    assert replay.toggle_pause() is False
    assert isinstance(await pending, TurnEnded)  # turn 1 was never ended in this log
    await stream.aclose()


async def test_a_long_wait_gives_way_to_instant_mid_gap():
    session = loaded(
        {"t": 1.0, "type": "user_message", "turn": 1, "text": "one"},
        {"t": 3.0, "type": "frame", "dir": "received", "data": {"type": "response.output_text.delta", "delta": "x"}},
    )
    replay = SessionReplay(session, speed=MIN_SPEED)  # a 2 s gap lasts 8 s at this speed
    stream = replay.events()
    await anext(stream)
    pending = asyncio.ensure_future(anext(stream))
    for _ in range(3):
        await asyncio.sleep(0)
    assert not pending.done()
    replay.instant = True
    for _ in range(5):
        await asyncio.sleep(0)
    assert pending.done() and pending.result() == TextDelta(text="x")
    await stream.aclose()


def test_a_resumed_session_replays_as_one_stream_with_a_notice():
    session = loaded(
        {"t": 100.0, "type": "user_message", "turn": 1, "text": "one"},
        {"t": 100.1, "type": "turn_ended", "turn": 1, "reason": "completed", "message": None, "stats": {"turn": 1}},
        {"t": 5.0, "type": "session_resumed", "turns": 1},
        {"t": 5.5, "type": "user_message", "turn": 2, "text": "two"},
    )
    replay = SessionReplay(session, instant=True)
    events = asyncio.run(_collect(replay))
    assert [type(e) for e in events] == [TurnStarted, TurnEnded, Notice, TurnStarted, TurnEnded]
    assert [t.gap_s for t in replay.timeline] == [0.0, pytest.approx(0.1), 0.0, 0.5, 0.0]


def test_unreadable_records_are_skipped_with_a_warning():
    session = loaded(
        {"t": 1.0, "type": "user_message", "turn": 1, "text": "one"},
        {"t": 1.1, "type": "tool_result", "call_id": "c", "status": "exploded"},
        {"t": 1.2, "type": "frame", "dir": "received", "data_text": "not json"},
        {"t": 1.3, "type": "frame", "dir": "received", "data": {"type": "response.output_item.added", "item": 3}},
        {"t": 1.4, "type": "mystery"},
    )
    replay = SessionReplay(session)
    assert [type(t.event) for t in replay.timeline] == [TurnStarted, TurnEnded]
    assert len(replay.warnings) == 2 and "seq 2 (tool_result)" in replay.warnings[0]


def test_replay_reads_a_session_from_its_path(tmp_path):
    path = tmp_path / "s.jsonl"
    path.write_bytes(orjson.dumps({"type": "session_meta", "v": 1, "seq": 0, "id": "s"}) + b"\n")
    assert SessionReplay(str(path)).header["id"] == "s" and load_session(path).records == []


def test_the_headless_modules_do_not_load_the_ui():
    code = (
        "import sys; import agent.replay, agent.resume, agent.export, codeassist.sessions, codeassist.export; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'tui', 'themes')))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


async def _collect(replay: SessionReplay) -> list:
    return [event async for event in replay.events()]
