"""Resume: the transcript is rebuilt from the log, resent in full, and nothing runs again."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from agent.events import ResponseStarted, ToolFinished, TurnEnded, TurnStarted
from agent.redact import Redactor
from agent.replay import SessionReplay
from agent.resume import (
    INTERRUPTED_OUTPUT,
    SessionLookupError,
    conversation_items,
    find_session,
    latest_session,
    previous_turn_stats,
    read_header,
    resume_record,
    session_turns,
)
from agent.session_log import LoadedSession, SessionLog, SessionLogError, load_session
from agent.wire import CustomToolCallOutput, FunctionCallOutput, Message
from server.scenario import Scenario
from tests.agent.recording import PROMPTS, TASK, call, open_recorded, record_task, requests, run_turn

CRASH = Scenario.model_validate(
    {
        "name": "crash",
        "turns": [
            {"output": [call("list_files", "c_list"), call("shell", "c_shell", command="echo ran >> shell.log")]},
            {
                "expect": [{"type": "function_call_output", "call_id": "c_shell", "contains": "interrupted"}],
                "output": [{"type": "message", "text": "Understood."}],
            },
        ],
    }
)


def dumped(items: list) -> list[dict]:
    return [item.model_dump(mode="json") for item in items]


async def test_resume_resends_the_whole_history_on_a_new_socket_and_continues_the_file(start_server, repo, tmp_path):
    server = start_server(TASK)
    root = tmp_path / "sessions"
    first = open_recorded(server, repo, root)
    await run_turn(first.agent, PROMPTS[0])
    original_items = dumped(first.agent.conversation.items)
    await first.close()
    path = first.recorder.path
    before = load_session(path)
    repo_before = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}
    assert dumped(conversation_items(before)) == original_items

    handle = open_recorded(server, repo, root, resume=path)
    assert handle.recorder.path == path and handle.resumed is not None
    assert handle.agent.conversation.chained_response_id is None
    events = await run_turn(handle.agent, PROMPTS[1])
    await handle.close()

    assert isinstance(events[0], TurnStarted) and events[0].turn == 2
    assert isinstance(events[-1], TurnEnded) and events[-1].reason == "completed" and events[-1].stats.turn == 2
    [started] = [e for e in events if isinstance(e, ResponseStarted)]
    assert (started.incremental, started.reason, started.items_sent) == (False, "resumed session", 11)
    body = requests(server)[-1]
    assert "previous_response_id" not in body
    assert body["input"] == [
        *original_items,
        Message(role="user", content=[{"type": "input_text", "text": PROMPTS[1]}]).model_dump(mode="json"),
    ]
    assert handle.agent.client.websocket.generation == 1, "a fresh connection in this process"

    assert {p: p.read_bytes() for p in repo_before} == repo_before, "nothing ran again"
    assert (repo / "shell.log").read_text() == "ran\n"
    after = load_session(path)
    records = after.records
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    assert records[: len(before.records)] == before.records
    kinds = [r["type"] for r in records[len(before.records) :]]
    assert kinds[:3] == ["session_resumed", "items", "turn_started"] and "tool_finished" not in kinds
    assert sum(1 for line in path.read_bytes().splitlines() if b'"session_meta"' in line) == 1
    texts = [t.event.prompt for t in SessionReplay(after).timeline if isinstance(t.event, TurnStarted)]
    assert texts == list(PROMPTS)


async def test_resume_after_a_crash_answers_the_interrupted_call_and_never_runs_it(start_server, repo, tmp_path):
    server = start_server(CRASH)
    root = tmp_path / "sessions"
    path, _ = await record_task(server, repo, root, prompts=("look",))
    lines = path.read_bytes().splitlines(keepends=True)
    cut = next(i for i, line in enumerate(lines) if b'"approval_requested"' in line and b"c_shell" in line)
    path.write_bytes(b"".join(lines[: cut + 1]) + b'{"v":2,"seq":77,"t":1.0,"type":"approval_de')
    (repo / "shell.log").unlink()
    crashed = load_session(path)
    restored = resume_record(path)
    assert [c.call_id for turn in restored.turns for c in turn.tool_calls if c.interrupted] == ["c_shell"]

    items = conversation_items(crashed)
    assert dumped(items[-2:]) == [
        {"type": "function_call_output", "call_id": "c_list", "output": "AGENTS.md\na.py\npkg/b.py"},
        {"type": "function_call_output", "call_id": "c_shell", "output": INTERRUPTED_OUTPUT},
    ]
    [turn] = session_turns(crashed)
    assert turn.reason is None and [c.interrupted for c in turn.tool_calls] == [False, True]

    handle = open_recorded(server, repo, root, resume=path)
    assert len(handle.agent.turns) == 1
    events = await run_turn(handle.agent, "what happened?")
    await handle.close()
    assert events[0].turn == 2 and events[-1].reason == "completed"
    assert not [e for e in events if isinstance(e, ToolFinished)]
    assert not (repo / "shell.log").exists(), "the interrupted shell command was not run again"
    body = requests(server)[-1]
    assert body["input"][-2] == {"type": "function_call_output", "call_id": "c_shell", "output": INTERRUPTED_OUTPUT}
    assert path.read_bytes().endswith(b"\n") and b"approval_de" not in path.read_bytes()
    resumed = [r for r in load_session(path).records if r["type"] == "session_resumed"]
    assert resumed[0]["interrupted"] == ["c_shell"] and resumed[0]["turns"] == 1


async def test_resume_without_recording_leaves_the_file_alone(start_server, repo, tmp_path):
    server = start_server(TASK)
    path, _ = await record_task(server, repo, tmp_path / "sessions", prompts=PROMPTS[:1])
    before = path.read_bytes()
    handle = open_recorded(server, repo, tmp_path / "sessions", resume=path, record=False)
    assert handle.recorder is None and len(handle.agent.conversation.items) == 10
    assert handle.agent.conversation.settings.prompt_cache_key == path.stem
    await handle.close()
    assert path.read_bytes() == before


async def test_a_session_open_in_another_process_cannot_be_resumed(start_server, repo, tmp_path):
    server = start_server(TASK)
    path, _ = await record_task(server, repo, tmp_path / "sessions", prompts=PROMPTS[:1])
    with SessionLog.open_existing(path, Redactor()), pytest.raises(SessionLogError, match="another codeassist"):
        open_recorded(server, repo, tmp_path / "sessions", resume=path)


def _records(*records: dict) -> LoadedSession:
    numbered = [{"v": 1, "seq": seq, "t": float(seq), **record} for seq, record in enumerate(records, start=1)]
    return LoadedSession({"type": "session_meta", "v": 1, "id": "s"}, numbered, [])


def _received(event: dict) -> dict:
    return {"type": "frame", "dir": "received", "data": event}


def _sent(**body: object) -> dict:
    return {"type": "frame", "dir": "sent", "data": {"type": "response.create", **body}}


def _message(text: str) -> dict:
    return {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": text}]}


def test_only_committed_responses_join_the_transcript():
    custom = {"type": "custom_tool_call", "call_id": "k1", "name": "patch", "input": "*** x"}
    loaded = _records(
        _sent(generate=False),
        _received({"type": "response.completed", "response": {"id": "warm", "output": [_message("warm")]}}),
        {"type": "user_message", "turn": 1, "text": "hi"},
        _sent(input=[]),
        _received({"type": "response.output_item.done", "item": _message("dropped")}),
        _sent(input=[]),
        _received({"type": "response.failed", "response": {"id": "r0", "output": [_message("failed")]}}),
        _sent(input=[]),
        _received({"type": "response.output_item.done", "item": _message("from done items")}),
        _received({"type": "response.output_item.done", "item": custom}),
        _received({"type": "response.completed", "response": {"id": "r1", "output": []}}),
        {"type": "tool_intent", "call_id": "k1", "name": "patch", "arguments": "*** x"},
        {"type": "tool_result", "call_id": "k1", "name": "patch", "status": "invalid", "output": "no"},
        {"type": "turn_ended", "turn": 1, "reason": "completed", "message": None, "stats": {"turn": 1}},
        {"type": "user_message", "turn": 2, "text": "more"},
        _sent(input=[]),
        _received(
            {
                "type": "response.incomplete",
                "response": {
                    "id": "r2",
                    "output": [
                        _message("partial"),
                        {"type": "function_call", "call_id": "f1", "name": "read_file", "arguments": "{}"},
                    ],
                },
            }
        ),
    )
    items = conversation_items(loaded)
    texts = [item.text() if isinstance(item, Message) else item.type for item in items]
    assert texts == [
        "hi",
        "from done items",
        "custom_tool_call",
        "custom_tool_call_output",
        "more",
        "partial",
        "function_call",
        "function_call_output",
    ]
    assert isinstance(items[3], CustomToolCallOutput) and items[3].output == "no"
    assert isinstance(items[-1], FunctionCallOutput) and items[-1].output == INTERRUPTED_OUTPUT
    turns = session_turns(loaded)
    assert [t.reason for t in turns] == ["completed", None]
    assert turns[1].tool_calls[0].call_id == "f1" and turns[1].tool_calls[0].interrupted
    assert [t.turn for t in previous_turn_stats(turns)] == [1, 2]


def test_turn_numbers_continue_after_the_highest_recorded_turn():
    loaded = _records({"type": "user_message", "turn": 3, "text": "a"}, {"type": "user_message", "text": "b"})
    assert [t.turn for t in session_turns(loaded)] == [3, 4]
    assert [t.turn for t in previous_turn_stats(session_turns(loaded))] == [1, 2, 3, 4]


def _write_session(root: Path, session_id: str, wall: str, cwd: Path, prompt: str | None = "do it") -> Path:
    day = root / wall[:10]
    day.mkdir(parents=True, exist_ok=True)
    path = day / f"{session_id}.jsonl"
    lines = [
        {
            "type": "session_meta",
            "v": 1,
            "seq": 0,
            "t": 0.0,
            "wall": wall,
            "id": session_id,
            "cwd": str(cwd),
            "workspace": str(cwd),
        }
    ]
    if prompt is not None:
        lines.append({"v": 1, "seq": 1, "t": 1.0, "type": "user_message", "turn": 1, "text": prompt})
    path.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    return path


def test_latest_session_prefers_the_workspace_and_skips_empty_sessions(tmp_path):
    root, here, elsewhere = tmp_path / "sessions", (tmp_path / "here").resolve(), (tmp_path / "there").resolve()
    here.mkdir()
    assert latest_session(root, here) is None
    mine = _write_session(root, "20250101-100000-aaaaaa", "2025-01-01T10:00:00.000+00:00", here)
    newest = _write_session(root, "20250102-100000-bbbbbb", "2025-01-02T10:00:00.000+00:00", elsewhere)
    _write_session(root, "20250103-100000-cccccc", "2025-01-03T10:00:00.000+00:00", here, prompt=None)
    assert latest_session(root, here) == mine
    assert latest_session(root, tmp_path / "nowhere") == newest
    assert latest_session(root) == newest


def test_find_session_by_id_prefix_or_path_with_clear_errors(tmp_path):
    root, cwd = tmp_path / "sessions", tmp_path
    one = _write_session(root, "20250101-100000-aaaaaa", "2025-01-01T10:00:00.000+00:00", cwd)
    two = _write_session(root, "20250101-100000-abbbbb", "2025-01-01T10:00:00.000+00:00", cwd)
    assert find_session(root, "20250101-100000-aaaaaa") == one
    assert find_session(root, "20250101-100000-ab") == two
    assert find_session(root, str(one)) == one and find_session(root, one) == one
    with pytest.raises(
        SessionLookupError, match=r"matches 2 sessions \(20250101-100000-abbbbb, 20250101-100000-aaaaaa\)"
    ):
        find_session(root, "20250101")
    with pytest.raises(SessionLookupError, match="no session matches 'zzz'"):
        find_session(root, "zzz")
    with pytest.raises(SessionLookupError, match="no session file at"):
        find_session(root, str(tmp_path / "missing.jsonl"))


def test_read_header_reads_what_the_session_log_reads_and_nothing_else(tmp_path):
    session = _write_session(tmp_path / "sessions", "20250101-100000-aaaaaa", "2025-01-01T10:00:00.000+00:00", tmp_path)
    assert read_header(session)["id"] == "20250101-100000-aaaaaa"
    not_a_session = tmp_path / "other.jsonl"
    not_a_session.write_text('{"type": "items", "v": 2}\n')
    newer = tmp_path / "newer.jsonl"
    newer.write_text('{"type": "session_meta", "v": 99, "id": "x"}\n')
    torn = tmp_path / "torn.jsonl"
    torn.write_text('{"type": "session_meta", "v": 2, "id": "x"}')
    for path in (not_a_session, newer, torn, tmp_path / "missing.jsonl"):
        assert read_header(path) == {}, path.name
