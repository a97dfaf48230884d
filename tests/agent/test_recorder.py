"""The session record: events and items on disk, deltas coalesced, secrets never in pieces."""

from __future__ import annotations

import itertools
import tempfile
from pathlib import Path

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.events import (
    ApprovalRequested,
    Notice,
    ReasoningDelta,
    TextDelta,
    ToolFinished,
    ToolOutput,
    TurnStarted,
)
from agent.recorder import SessionRecorder
from agent.redact import Redactor
from agent.replay import SessionReplay
from agent.session import Session
from agent.session_log import SessionLog, load_session
from agent.wire import user_message
from tests.agent.conftest import settings_for
from tests.agent.recording import BEARER, RICH, RICH_PROMPTS, approve_but_rm

KEY = "sk-proj-" + "Q7x9ZrT2mW4pL8vN3kJ6hY1cB5"
"""An OpenAI-shaped key: redacted by its shape, whatever else surrounds it."""


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        self.now += 0.25
        return self.now


def recorder_in(root: Path, redactor: Redactor | None = None) -> SessionRecorder:
    redactor = redactor or Redactor(environ={})
    log = SessionLog.create(root=root, header={"model": "m"}, redactor=redactor)
    return SessionRecorder(log, redactor, clock=Clock())


def records(path: Path) -> list[dict]:
    return load_session(path).records


def test_events_are_records_of_their_own_type_and_deltas_are_coalesced_with_their_pace(tmp_path):
    recorder = recorder_in(tmp_path)
    recorder.items([user_message("hi")])
    recorder.event(TurnStarted(turn=1, prompt="hi"))
    for piece in ("Hel", "lo", " there"):
        recorder.event(TextDelta(text=piece))
    recorder.event(ReasoningDelta(text="hm"))
    recorder.event(Notice(message="note"))
    recorder.close()

    found = records(recorder.path)
    assert [r["type"] for r in found] == ["items", "turn_started", "text_delta", "reasoning_delta", "notice"]
    assert found[0]["items"] == [user_message("hi").model_dump(mode="json")]
    assert found[1]["prompt"] == "hi" and found[4]["message"] == "note"
    assert found[2]["text"] == "Hello there" and found[2]["parts"] == [[0.0, 3], [0.25, 2], [0.5, 6]]
    assert "parts" not in found[3], "a single delta needs no parts"
    events = [timed.event for timed in SessionReplay(recorder.path).timeline]
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hello there"]


async def test_replay_yields_the_recorded_deltas_at_their_recorded_offsets(tmp_path):
    recorder = recorder_in(tmp_path)
    recorder.event(TurnStarted(turn=1, prompt="hi"))
    for piece in ("a", "b", "c"):
        recorder.event(TextDelta(text=piece))
    recorder.close()
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    replay = SessionReplay(recorder.path, sleep=sleep)
    events = [event async for event in replay.events()]
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["a", "b", "c"]
    assert slept == [0.25, 0.25, 0.25] and replay.total == replay.position == len(events)


def test_flushes_mid_stream_keep_the_run_in_memory_until_another_event(tmp_path):
    recorder = recorder_in(tmp_path)
    recorder.event(TurnStarted(turn=1, prompt="hi"))
    recorder.event(TextDelta(text="half"))
    recorder.flush(durable=True)
    assert [r["type"] for r in records(recorder.path)] == ["turn_started"]
    recorder.event(TextDelta(text=" whole"))
    recorder.event(ToolFinished(call_id="c", name="x", status="ok", output="", duration_s=0.0))
    assert [r["type"] for r in records(recorder.path)] == ["turn_started", "text_delta", "tool_finished"], (
        "a tool result is flushed durably"
    )
    recorder.close()


@settings(deadline=None, max_examples=80, suppress_health_check=[HealthCheck.too_slow])
@given(
    before=st.text(st.sampled_from(" .,\n"), max_size=12),
    after=st.text(st.sampled_from(" .,\n"), max_size=12),
    cuts=st.lists(st.integers(min_value=1, max_value=60), max_size=12),
    flushes=st.lists(st.booleans(), min_size=40, max_size=40),
)
def test_a_secret_streamed_in_pieces_never_reaches_the_file_whatever_the_flushes(before, after, cuts, flushes):
    text = f"{before}{KEY}{after}"
    points = sorted({0, *(cut for cut in cuts if cut < len(text)), len(text)})
    pieces = [text[start:end] for start, end in itertools.pairwise(points)]
    with tempfile.TemporaryDirectory() as tmp:
        recorder = recorder_in(Path(tmp))
        recorder.event(TurnStarted(turn=1, prompt="go"))
        for index, piece in enumerate(pieces):
            recorder.event(TextDelta(text=piece))
            if flushes[index % len(flushes)]:
                recorder.flush(durable=index % 2 == 0)
        recorder.close()
        data = recorder.path.read_text()
        assert all(KEY[start : start + 6] not in data for start in range(len(KEY) - 5))
        [run] = [r for r in records(recorder.path) if r["type"] == "text_delta"]
        assert run["text"] == f"{before}[REDACTED]{after}"
        assert len(run.get("parts", [[0, 0]])) == len(pieces)


async def test_a_live_session_flushed_at_every_delta_holds_no_piece_of_a_streamed_token(start_server, repo, tmp_path):
    handle = Session.open(settings_for(start_server(RICH)), cwd=repo, log_root=tmp_path / "sessions")
    assert handle.recorder is not None
    seen = ""
    for prompt in RICH_PROMPTS:
        async for event in handle.run_turn(prompt):
            if isinstance(event, TextDelta):
                seen += event.text
                handle.recorder.flush(durable=True)
            elif isinstance(event, ApprovalRequested):
                handle.answer_approval(event.request.call_id, approve_but_rm(event.request))
    await handle.close()
    assert BEARER in seen
    data = handle.recorder.path.read_bytes()
    assert all(BEARER[start : start + 6].encode() not in data for start in range(len(BEARER) - 5))
    texts = [orjson.loads(line).get("text", "") for line in data.splitlines() if b'"text_delta"' in line[:80]]
    assert any("Bearer [REDACTED] and the greeting" in text for text in texts)


def test_an_unreadable_item_is_left_out_and_the_rest_of_the_session_resumes(tmp_path):
    from agent.resume import conversation_items

    recorder = recorder_in(tmp_path)
    recorder.items([user_message("hi"), {"type": "message", "role": "assistant", "content": 42}])
    recorder.event(TurnStarted(turn=1, prompt="hi"))
    recorder.items([{"type": "function_call", "call_id": "c", "name": "x", "arguments": "{}"}])
    recorder.close()

    items = conversation_items(recorder.path)
    assert [item.type for item in items] == ["message", "function_call", "function_call_output"]


async def test_an_instant_replay_on_screen_can_take_each_streamed_run_whole(tmp_path):
    from agent.replay import whole_runs

    recorder = recorder_in(tmp_path)
    recorder.event(TurnStarted(turn=1, prompt="hi"))
    for piece in ("a", "b", "c"):
        recorder.event(TextDelta(text=piece))
    recorder.close()

    every = [event async for event in SessionReplay(recorder.path, instant=True).events()]
    replay = SessionReplay(recorder.path, whole_runs=True)
    whole = [event async for event in replay.events()]
    assert whole == whole_runs(every) and [e.text for e in whole if isinstance(e, TextDelta)] == ["abc"]
    assert replay.position == replay.total == len(whole)


def test_live_tool_output_is_recorded_at_most_once_a_second_per_call(tmp_path):
    """The clock moves 0.25 s per reading: of 12 tails over 3 s, one a second is written, the first
    at once, and the last one held back just before the call's result, which ends its throttle (so
    another call's first tail is written at once)."""
    recorder = recorder_in(tmp_path)
    for number in range(12):
        recorder.event(ToolOutput(call_id="a", text=f"line {number}", total_bytes=7 * (number + 1)))
    recorder.event(ToolFinished(call_id="a", name="shell", status="ok", output="all of it", duration_s=3.0))
    recorder.event(ToolOutput(call_id="b", text="other", total_bytes=6))
    recorder.close()

    found = [r for r in records(recorder.path) if r["type"] == "tool_output"]
    assert [(r["call_id"], r["text"]) for r in found] == [
        ("a", "line 0"),
        ("a", "line 4"),
        ("a", "line 8"),
        ("a", "line 11"),
        ("b", "other"),
    ]
    kinds = [r["type"] for r in records(recorder.path)]
    assert kinds.index("tool_finished") == kinds.index("tool_output") + 4
    assert found[1]["total_bytes"] == 35
