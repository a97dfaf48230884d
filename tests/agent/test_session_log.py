"""Append-only JSONL session log (`agent.session_log`): writing, crash recovery, loading, listing."""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import string
import tempfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from agent import session_log
from agent.frame_trace import FrameTrace
from agent.paths import sessions_dir
from agent.redact import PRIVATE_KEY_REDACTED, REDACTED, Redactor
from agent.resume import resume_record
from agent.session_log import (
    SESSION_FORMAT_VERSION,
    SessionLog,
    SessionLogError,
    list_sessions,
    load_session,
)
from tests.agent.test_redact import SEPARATORS, known_secret_values, shaped_secrets, surrounding_text

HEADER = {"cwd": "/work/project", "git_head": "4705500", "model": "gpt-test", "version": "0.1.0"}


def new_log(root: Path, redactor: Redactor | None = None, *, header: Any = HEADER, **kwargs: Any) -> FrameTrace:
    """A session log that takes raw frames too (the trace is a session log of frames)."""
    return FrameTrace.create(root=root, header=header, redactor=redactor or Redactor(environ={}), **kwargs)


def lines_of(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def log(tmp_path: Path) -> Iterator[FrameTrace]:
    with new_log(tmp_path / "sessions") as log:
        yield log


# Creating


def test_session_file_is_0600_and_every_directory_created_is_0700(tmp_path: Path) -> None:
    root = tmp_path / "data" / "codeassist" / "sessions"

    with new_log(root) as log:
        pass

    assert mode(log.path) == 0o600
    for directory in (tmp_path / "data", tmp_path / "data" / "codeassist", root, log.path.parent):
        assert mode(directory) == 0o700, directory


def test_existing_root_is_tightened_to_0700(tmp_path: Path) -> None:
    root = tmp_path / "sessions"
    root.mkdir(mode=0o755)
    os.chmod(root, 0o755)

    with new_log(root):
        pass

    assert mode(root) == 0o700


def test_header_is_the_first_line_and_names_the_session(log: FrameTrace) -> None:
    header = lines_of(log.path)[0]

    assert list(header)[:5] == ["type", "v", "seq", "t", "wall"]
    assert header["type"] == "session_meta"
    assert header["v"] == SESSION_FORMAT_VERSION
    assert header["seq"] == 0
    assert isinstance(header["t"], float)
    assert datetime.fromisoformat(header["wall"]).tzinfo is not None
    assert header["id"] == log.id
    assert {key: header[key] for key in HEADER} == HEADER


def test_default_id_is_timestamp_plus_hex_and_file_sits_in_a_date_directory(log: FrameTrace) -> None:
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{6}", log.id)
    assert log.path.name == f"{log.id}.jsonl"
    assert log.path.parent.name == f"{log.id[:4]}-{log.id[4:6]}-{log.id[6:8]}"


def test_explicit_session_id_or_header_id_is_used(tmp_path: Path) -> None:
    with new_log(tmp_path, session_id="chosen-id") as by_argument:
        pass
    with new_log(tmp_path, header={**HEADER, "id": "from-header"}) as by_header:
        pass

    assert by_argument.path.name == "chosen-id.jsonl"
    assert lines_of(by_argument.path)[0]["id"] == "chosen-id"
    assert by_header.id == "from-header"


@pytest.mark.parametrize("bad_id", ["../escape", "a/b", ".hidden", ""])
def test_session_id_that_is_not_a_plain_file_name_is_rejected(tmp_path: Path, bad_id: str) -> None:
    with pytest.raises(ValueError, match="invalid session id"):
        new_log(tmp_path, session_id=bad_id)


def test_creating_an_existing_session_id_fails_without_touching_it(tmp_path: Path) -> None:
    with new_log(tmp_path, session_id="same") as first:
        first.append("user_message", text="keep me")
    before = first.path.read_bytes()

    with pytest.raises(SessionLogError, match="already exists"):
        new_log(tmp_path, session_id="same")

    assert first.path.read_bytes() == before


def test_reserved_header_and_record_keys_are_rejected(tmp_path: Path, log: FrameTrace) -> None:
    with pytest.raises(ValueError, match="wall"):
        new_log(tmp_path / "other", header={"wall": "yesterday"})
    with pytest.raises(ValueError, match="seq"):
        log.append("user_message", seq=7)


def test_the_sessions_directory_follows_xdg_data_home() -> None:
    assert sessions_dir({"XDG_DATA_HOME": "/xdg", "HOME": "/home/u"}) == Path("/xdg/codeassist/sessions")
    assert sessions_dir({"HOME": "/home/u"}) == Path("/home/u/.local/share/codeassist/sessions")
    assert sessions_dir({"XDG_DATA_HOME": "relative", "HOME": "/home/u"}) == Path(
        "/home/u/.local/share/codeassist/sessions"
    )


# Writing


def test_records_round_trip_with_increasing_seq(log: FrameTrace) -> None:
    log.append("user_message", text="fix the bug", attachments=["a.py"])
    log.append("tool_intent", call_id="call_1", name="read_file", args={"path": "a.py"})
    log.append("tool_result", call_id="call_1", output="print('hi')\n", ok=True)
    log.append("turn_ended")
    log.flush()

    loaded = load_session(log.path)

    assert [record["seq"] for record in loaded.records] == [1, 2, 3, 4]
    assert all(list(record)[:4] == ["v", "seq", "t", "type"] for record in loaded.records)
    assert [record["type"] for record in loaded.records] == ["user_message", "tool_intent", "tool_result", "turn_ended"]
    assert loaded.records[1]["args"] == {"path": "a.py"}
    assert loaded.records[2]["output"] == "print('hi')\n"
    assert loaded.warnings == []
    assert loaded.header == lines_of(log.path)[0]


def test_raw_frame_is_stored_verbatim_under_data(log: FrameTrace) -> None:
    raw = b'{"type":"response.output_text.delta","delta":"h\\u00e9llo","sequence_number":3}'

    log.append_raw_frame("received", raw, t=12.5, connection="ws-1")
    log.append_raw_frame("sent", raw.decode(), t=12.75)
    log.flush()

    lines = log.path.read_bytes().splitlines()
    assert lines[1] == b'{"v":2,"seq":1,"t":12.5,"type":"frame","dir":"received","conn":"ws-1","data":' + raw + b"}"
    received, sent = load_session(log.path).records
    assert received["data"] == {"type": "response.output_text.delta", "delta": "héllo", "sequence_number": 3}
    assert sent["dir"] == "sent" and "conn" not in sent and sent["data"] == received["data"]


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"\xff\xfe{not utf-8", "\\xff\\xfe{not utf-8"),
        ("plain text, not JSON", "plain text, not JSON"),
        (b'{"type":"response.created","resp', '{"type":"response.created","resp'),
        ("", ""),
    ],
)
def test_raw_frame_that_is_not_json_is_stored_as_data_text(log: FrameTrace, raw: bytes | str, text: str) -> None:
    log.append_raw_frame("received", raw, t=1.0)
    log.flush()

    loaded = load_session(log.path)

    assert loaded.warnings == []
    assert loaded.records[0]["data_text"] == text
    assert "data" not in loaded.records[0]


def test_raw_frame_with_newlines_between_tokens_stays_on_one_line(log: FrameTrace) -> None:
    log.append_raw_frame("received", json.dumps({"type": "x", "text": "a\nb"}, indent=2), t=1.0)
    log.flush()

    assert log.path.read_bytes().count(b"\n") == 2
    assert load_session(log.path).records[0]["data"] == {"type": "x", "text": "a\nb"}


def test_lone_surrogates_are_escaped_rather_than_refused(log: FrameTrace) -> None:
    log.append("tool_result", call_id="c", output="bad name \udcff")
    log.append_raw_frame("received", '{"delta":"\udcff"}', t=1.0)
    log.flush()

    loaded = load_session(log.path)

    assert loaded.warnings == []
    assert loaded.records[0]["output"] == "bad name \\udcff"
    assert "\\udcff" in loaded.records[1]["data_text"]


def test_nothing_reaches_disk_before_flush(log: FrameTrace) -> None:
    header_only = log.path.read_bytes()

    log.append("user_message", text="hello")
    log.append_raw_frame("received", b'{"type":"x"}', t=1.0)

    assert log.path.read_bytes() == header_only
    log.flush()
    assert len(log.path.read_bytes().splitlines()) == 3


def test_flush_writes_the_whole_buffer_with_one_write(monkeypatch: pytest.MonkeyPatch, log: FrameTrace) -> None:
    for index in range(50):
        log.append("delta", index=index)
    calls: list[int] = []
    real_write = os.write

    def counting_write(fd: int, data: Any) -> int:
        calls.append(fd)
        return real_write(fd, data)

    monkeypatch.setattr(session_log.os, "write", counting_write)
    log.flush()
    monkeypatch.undo()

    assert len(calls) == 1
    assert len(load_session(log.path).records) == 50


def test_flush_with_fsync_syncs_the_session_file(monkeypatch: pytest.MonkeyPatch, log: FrameTrace) -> None:
    synced: list[int] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        synced.append(os.fstat(fd).st_ino)
        real_fsync(fd)

    monkeypatch.setattr(session_log.os, "fsync", recording_fsync)
    log.append("turn_ended")
    log.flush()
    assert synced == []
    log.flush(fsync=True)

    assert synced == [os.stat(log.path).st_ino]
    assert load_session(log.path).records[0]["type"] == "turn_ended"


def test_writing_after_close_raises_a_clear_error(tmp_path: Path) -> None:
    log = new_log(tmp_path)
    log.append("user_message", text="kept")
    log.close()
    log.close()  # closing twice is harmless

    with pytest.raises(SessionLogError, match="is closed"):
        log.append("user_message", text="lost")
    with pytest.raises(SessionLogError, match="is closed"):
        log.append_raw_frame("received", b"{}", t=0.0)
    with pytest.raises(SessionLogError, match="is closed"):
        log.flush()
    assert [record["text"] for record in load_session(log.path).records] == ["kept"]


def test_unknown_frame_direction_is_rejected(log: FrameTrace) -> None:
    with pytest.raises(ValueError, match="direction"):
        log.append_raw_frame("inbound", b"{}", t=0.0)  # type: ignore[arg-type]


def test_disk_full_raises_and_keeps_records_for_the_next_flush(
    monkeypatch: pytest.MonkeyPatch, log: FrameTrace
) -> None:
    log.append("user_message", text="first")
    log.flush()
    log.append("user_message", text="second")
    log.append_raw_frame("received", b'{"type":"x"}', t=1.0)

    def disk_full(fd: int, data: Any) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(session_log.os, "write", disk_full)
    with pytest.raises(SessionLogError, match="disk is full"):
        log.flush()
    monkeypatch.undo()
    log.flush()

    records = load_session(log.path).records
    assert [record["seq"] for record in records] == [1, 2, 3]
    assert [record.get("text") for record in records] == ["first", "second", None]


def test_disk_full_after_a_partial_write_loses_and_repeats_nothing(
    monkeypatch: pytest.MonkeyPatch, log: FrameTrace
) -> None:
    for index in range(10):
        log.append("delta", index=index)
    real_write = os.write
    calls = 0

    def half_then_full(fd: int, data: Any) -> int:
        nonlocal calls
        calls += 1
        if calls == 1:
            return real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(session_log.os, "write", half_then_full)
    with pytest.raises(SessionLogError):
        log.flush()
    monkeypatch.undo()
    log.flush()

    loaded = load_session(log.path)
    assert [record["index"] for record in loaded.records] == list(range(10))
    assert loaded.warnings == []


def test_failed_close_keeps_the_log_open_for_a_retry(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    log = new_log(tmp_path)
    log.append("turn_ended")

    def disk_full(fd: int, data: Any) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(session_log.os, "write", disk_full)
    with pytest.raises(SessionLogError):
        log.close()
    monkeypatch.undo()
    log.close()

    assert [record["type"] for record in load_session(log.path).records] == ["turn_ended"]


def test_secret_that_looks_like_json_punctuation_never_corrupts_a_record(tmp_path: Path) -> None:
    awkward = '","text":"'
    with new_log(tmp_path, Redactor([awkward], environ={})) as log:
        log.append("user_message", a="x", text="y", note=f"contains {awkward}")
        log.append_raw_frame("received", b'{"a":"x","text":"y"}', t=1.0)

    loaded = load_session(log.path)

    assert loaded.warnings == []
    assert loaded.records[0]["text"] == "y"
    assert loaded.records[0]["note"] == f"contains {REDACTED}"
    assert loaded.records[1]["data"] == {"a": "x", "text": "y"}


def test_scrub_that_would_split_a_json_escape_falls_back_to_redacting_field_by_field(tmp_path: Path) -> None:
    secret = "\\nsecret1"  # backslash, n, "secret1": JSON-escaped it starts with two backslashes
    with new_log(tmp_path, Redactor([secret], environ={})) as log:
        log.append("tool_result", output="\\\nsecret1", other=f"<{secret}>")  # backslash, newline, ...
        log.append_raw_frame("received", orjson.dumps({"delta": "\\\nsecret1"}), t=1.0)

    loaded = load_session(log.path)

    assert loaded.warnings == []
    assert loaded.records[0]["output"] == "\\\nsecret1"
    assert loaded.records[0]["other"] == f"<{REDACTED}>"
    assert "data_text" in loaded.records[1]


# Loading


def write_session(path: Path, *lines: dict[str, Any] | bytes, end: bytes = b"\n") -> Path:
    encoded = [line if isinstance(line, bytes) else orjson.dumps(line) for line in lines]
    path.write_bytes(b"\n".join(encoded) + end)
    return path


META = {"type": "session_meta", "v": 1, "seq": 0, "t": 0.0, "wall": "2025-01-01T10:00:00+00:00", "id": "s"}


def test_newer_major_version_is_refused_with_an_upgrade_message(tmp_path: Path) -> None:
    path = write_session(tmp_path / "s.jsonl", {**META, "v": SESSION_FORMAT_VERSION + 1})

    with pytest.raises(SessionLogError, match=rf"format v{SESSION_FORMAT_VERSION + 1}.*[Uu]pgrade codeassist"):
        load_session(path)


@pytest.mark.parametrize(
    "content",
    [b"", b"hello world\n", b'{"type":"message","v":1}\n', b"[1,2]\n", b'{"type":"session_meta"}\n', b"\xff\n"],
)
def test_file_that_is_not_a_session_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "other.jsonl"
    path.write_bytes(content)

    with pytest.raises(SessionLogError, match="is not a codeassist session file"):
        load_session(path)


def test_garbage_line_in_the_middle_is_skipped_with_a_warning(tmp_path: Path) -> None:
    path = write_session(
        tmp_path / "s.jsonl", META, {"type": "a", "seq": 1}, b"{not json", b"[]", {"type": "b", "seq": 2}
    )

    loaded = load_session(path)

    assert [record["type"] for record in loaded.records] == ["a", "b"]
    assert len(loaded.warnings) == 2 and all("skipped line" in warning for warning in loaded.warnings)


@pytest.mark.parametrize(
    ("last", "end"),
    [(b'{"type":"b","seq":2,"te', b""), (b'{"type":"b","seq":2}', b""), (b'{"type":"b","se', b"\n")],
)
def test_torn_last_line_is_dropped_with_a_warning(tmp_path: Path, last: bytes, end: bytes) -> None:
    path = write_session(tmp_path / "s.jsonl", META, {"type": "a", "seq": 1}, last, end=end)

    loaded = load_session(path)

    assert [record["type"] for record in loaded.records] == ["a"]
    assert len(loaded.warnings) == 1 and "torn last line" in loaded.warnings[0]


def test_unknown_record_types_are_kept(tmp_path: Path) -> None:
    path = write_session(tmp_path / "s.jsonl", META, {"type": "from_the_future", "seq": 1, "x": [1]})

    assert load_session(path).records == [{"type": "from_the_future", "seq": 1, "x": [1]}]


def test_tool_calls_without_a_later_output_are_reported_as_interrupted(log: FrameTrace) -> None:
    def call(call_id: str, name: str) -> dict[str, Any]:
        return {"type": "function_call", "call_id": call_id, "name": name, "arguments": "{}"}

    def output(call_id: str, text: str) -> dict[str, Any]:
        return {"type": "function_call_output", "call_id": call_id, "output": text}

    prompt = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "go"}]}
    log.append("items", items=[prompt, output("early", "result before its call")])
    log.append("items", items=[call("done", "shell"), call("early", "shell"), call("lost", "edit_file")])
    log.append("items", items=[output("done", "ok")])
    log.flush()

    calls = [call for turn in resume_record(log.path).turns for call in turn.tool_calls]

    assert [(call.call_id, call.name) for call in calls if call.interrupted] == [
        ("early", "shell"),
        ("lost", "edit_file"),
    ]
    assert [call.call_id for call in calls if not call.interrupted] == ["done"]


# Resuming


def test_open_existing_after_a_torn_line_continues_with_the_next_seq(tmp_path: Path) -> None:
    with new_log(tmp_path) as log:
        log.append("user_message", text="one")
        log.append("turn_ended")
    with open(log.path, "ab") as file:
        file.write(b'{"v":2,"seq":3,"t":1.0,"type":"user_mes')

    with SessionLog.open_existing(log.path, Redactor(environ={})) as resumed:
        resumed.append("user_message", text="two")

    loaded = load_session(log.path)
    assert resumed.id == log.id
    assert loaded.warnings == []
    assert [(record["seq"], record["type"]) for record in loaded.records] == [
        (1, "user_message"),
        (2, "turn_ended"),
        (3, "user_message"),
    ]
    assert loaded.records[-1]["text"] == "two"


def test_open_existing_leaves_a_file_that_is_not_a_session_untouched(tmp_path: Path) -> None:
    path = tmp_path / "notes.jsonl"
    path.write_bytes(b"just some notes\nwithout a final newline")

    with pytest.raises(SessionLogError, match="not a codeassist session file"):
        SessionLog.open_existing(path, Redactor(environ={}))

    assert path.read_bytes() == b"just some notes\nwithout a final newline"


def test_a_session_has_one_writer_at_a_time(log: FrameTrace) -> None:
    with pytest.raises(SessionLogError, match="open in another codeassist process"):
        SessionLog.open_existing(log.path, Redactor(environ={}))


# Listing


def create_at(monkeypatch: pytest.MonkeyPatch, root: Path, when: datetime, **header: Any) -> SessionLog:
    class FrozenDatetime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:
            return when

    monkeypatch.setattr(session_log, "datetime", FrozenDatetime)
    return new_log(root, header=header)


def test_list_sessions_is_newest_first_with_summary_fields(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with create_at(monkeypatch, tmp_path, datetime(2025, 3, 1, 9, 0), cwd="/a", model="m1") as older:
        older.append("items", items=[{"type": "message", "role": "user", "content": "first question"}])
        older.append("turn_started", turn=1, prompt="first question")
        older.append("turn_ended", totals={"turns": 1, "tokens": 120})
        older.append("turn_started", turn=2, prompt="second question")
        older.append("turn_ended", totals={"turns": 2, "tokens": 425})
        older.append("items", items=[{"type": "function_call_output", "call_id": "c", "output": "x" * 100_000}])
    with create_at(monkeypatch, tmp_path, datetime(2025, 3, 2, 8, 0), cwd="/b", model="m2") as newest:
        pass
    with create_at(monkeypatch, tmp_path, datetime(2025, 3, 1, 17, 30), cwd="/c", model="m3") as middle:
        middle.append("turn_started", turn=1, prompt="hello")
    (tmp_path / "2025-03-01" / "broken.jsonl").write_bytes(b"not a session\n")
    write_session(tmp_path / "2025-03-01" / "future.jsonl", {**META, "v": 99})

    summaries = list_sessions(tmp_path, include_empty=True)

    assert [summary.id for summary in summaries] == [newest.id, middle.id, older.id]
    assert [summary.id for summary in list_sessions(tmp_path)] == [middle.id, older.id], "no prompt, not listed"
    first = summaries[-1]
    assert (first.path, first.cwd, first.model) == (older.path, "/a", "m1")
    assert first.wall is not None and datetime.fromisoformat(first.wall).hour == 9
    assert (first.first_prompt, first.turns, first.total_tokens) == ("first question", 2, 425)
    assert (summaries[0].first_prompt, summaries[0].turns, summaries[0].total_tokens) == (None, 0, 0)


def test_list_sessions_of_a_missing_root_is_empty(tmp_path: Path) -> None:
    assert list_sessions(tmp_path / "nowhere") == []


# Properties

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec="utf-8"), max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)
field_names = st.text(st.characters(codec="utf-8"), max_size=10).filter(
    lambda name: name not in {"v", "seq", "t", "type"}
)
record_types = st.sampled_from(["user_message", "assistant_text", "tool_intent", "tool_result", "turn_ended", "odd"])
records = st.lists(st.tuples(record_types, st.dictionaries(field_names, json_values, max_size=4)), max_size=12)


@settings(deadline=None, max_examples=60)
@given(appended=records, data=st.data())
def test_truncated_file_loads_exactly_the_records_on_complete_lines(
    appended: list[tuple[str, dict[str, Any]]], data: st.DataObject
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        with new_log(Path(tmp)) as log:
            for kind, fields in appended:
                log.append(kind, **fields)
        content = log.path.read_bytes()
        header_end = content.index(b"\n") + 1
        # Line lengths vary between runs (timestamps), so draw with fixed bounds and fold into range.
        cut = header_end + data.draw(st.integers(min_value=0, max_value=2**20), label="cut") % (
            len(content) - header_end + 1
        )
        os.truncate(log.path, cut)

        loaded = load_session(log.path)

    complete = content[:cut].count(b"\n") - 1
    assert len(loaded.records) == complete
    for seq, (record, (kind, fields)) in enumerate(zip(loaded.records, appended, strict=False), start=1):
        assert record == {"v": SESSION_FORMAT_VERSION, "seq": seq, "t": record["t"], "type": kind, **fields}
    assert len(loaded.warnings) == (0 if content[:cut].endswith(b"\n") else 1)


def embed(value: str, target: str) -> tuple[dict[str, Any] | None, bytes | str | None]:
    """Place `value` in a record field, a nested value, a field name, or a raw frame."""
    match target:
        case "field":
            return {"text": value}, None
        case "nested":
            return {"output": {"lines": ["ok", value], "exit": 0}}, None
        case "key":
            return {value: 1}, None
        case "frame_bytes":
            return None, orjson.dumps({"type": "response.output_text.delta", "delta": value})
        case _:
            return None, json.dumps({"type": "response.output_text.delta", "delta": value})


def strings_in(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


SERIALISERS = (orjson.dumps, lambda value: json.dumps(value).encode())
ENVELOPE_KEYS = {"v", "seq", "t", "type", "call_id", "dir", "conn"}

secrets_to_hide = st.one_of(
    shaped_secrets.map(lambda pair: ("shape", *pair)),
    known_secret_values.map(lambda value: ("known", value, value)),
    known_secret_values.map(lambda value: ("environ", value, value)),
)


@settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.filter_too_much])
@given(
    secret=secrets_to_hide,
    before=surrounding_text,
    after=surrounding_text,
    separators=st.tuples(st.sampled_from(SEPARATORS), st.sampled_from(SEPARATORS)),
    target=st.sampled_from(["field", "nested", "key", "frame_bytes", "frame_text"]),
)
def test_secret_in_any_record_or_frame_never_reaches_the_file(
    secret: tuple[str, str, str], before: str, after: str, separators: tuple[str, str], target: str
) -> None:
    kind, embedded, hidden = secret
    text = before + separators[0] + embedded + separators[1] + after
    fields, frame = embed(text, target)
    empty_fields, empty_frame = embed("", target)
    skeleton = orjson.loads(empty_frame) if empty_frame is not None else empty_fields
    # How the secret can appear inside a JSON string; the raw text itself can only if it equals one.
    spellings = {orjson.dumps(hidden)[1:-1], json.dumps(hidden)[1:-1].encode()}
    # The secret is in the text once: not also by chance in the surrounding text, in its escapes,
    # in the record's fixed fields, or in the redaction marker.
    assume(all(dumps(text).count(spelling) <= 1 for dumps in SERIALISERS for spelling in spellings))
    assume(not any(spelling in dumps(skeleton) for dumps in SERIALISERS for spelling in spellings))
    assume(hidden not in PRIVATE_KEY_REDACTED)
    redactor = Redactor(
        known_secrets=[hidden] if kind == "known" else [],
        environ={"DEPLOY_API_KEY": hidden} if kind == "environ" else {},
    )
    with tempfile.TemporaryDirectory() as tmp:
        with new_log(Path(tmp), redactor) as log:
            if fields is not None:
                log.append("tool_result", call_id="c1", **fields)
            else:
                log.append_raw_frame("received", frame, t=1.0, connection="ws-1")
        content = log.path.read_bytes()
        loaded = load_session(log.path)

    payload = content.splitlines()[1].split(b'"c1",' if fields is not None else b'"ws-1",', 1)[1]
    for spelling in spellings:
        assert spelling not in payload
    assert loaded.warnings == []
    written = {key: value for key, value in loaded.records[0].items() if key not in ENVELOPE_KEYS}
    assert not any(hidden in string for string in strings_in(written))


# Secrets streamed in pieces across delta frames

CONFIGURED_KEY = "correct-horse-battery-staple-9f8e7d6c"
EXAMPLE_KEY = "sk-proj-ABCDEFGHIJKLMNOPQRSTUVWX"
STREAMS = {  # delta event type → where it sits within its item
    "response.output_text.delta": {"content_index": 0},
    "response.refusal.delta": {"content_index": 0},
    "response.function_call_arguments.delta": {},
    "response.custom_tool_call_input.delta": {},
    "response.reasoning_summary_text.delta": {"summary_index": 0},
    "response.reasoning_text.delta": {"content_index": 0},
}
ARGUMENT_STREAMS = {"response.function_call_arguments.delta", "response.custom_tool_call_input.delta"}

streamed_keys = st.one_of(
    st.just(("known", CONFIGURED_KEY)),
    st.just(("shape", EXAMPLE_KEY)),
    st.text(st.sampled_from(string.ascii_letters + string.digits + "_-"), min_size=20, max_size=40).map(
        lambda body: ("shape", f"sk-proj-{body}")
    ),
    st.text(st.sampled_from(string.ascii_letters + string.digits), min_size=36, max_size=36).map(
        lambda body: ("shape", f"ghp_{body}")
    ),
)


def streamed_text(kind: str, key: str) -> str:
    """What the model streams: a message, or tool arguments, that echo the key."""
    if kind == "response.function_call_arguments.delta":
        return orjson.dumps({"command": f"curl -H 'X-Api-Key: {key}' https://api.example.com", "timeout": 30}).decode()
    if kind == "response.custom_tool_call_input.delta":
        return f"*** Begin Patch\n*** Add File: .env\n+API_KEY={key}\n*** End Patch\n"
    return f"Here is the key you asked for: {key} — keep it safe."


def split_into(text: str, sizes: list[int]) -> list[str]:
    pieces, position = [], 0
    for size in sizes:
        if position >= len(text):
            break
        pieces.append(text[position : position + size])
        position += size
    return pieces


def delta_frame(kind: str, delta: str, *, output_index: int = 0, sequence_number: int = 0, **extra: Any) -> bytes:
    return orjson.dumps(
        {
            "type": kind,
            "sequence_number": sequence_number,
            "item_id": f"item_{output_index}",
            "output_index": output_index,
            **STREAMS[kind],
            "delta": delta,
            **extra,
        }
    )


def frame_records(path: Path) -> list[dict[str, Any]]:
    loaded = load_session(path)
    assert loaded.warnings == []
    return loaded.records


def joined_deltas(records: list[dict[str, Any]], output_index: int = 0) -> str:
    return "".join(
        record["data"]["delta"]
        for record in records
        if record["type"] == "frame"
        and "data" in record
        and record["data"].get("type", "").endswith(".delta")
        and record["data"]["output_index"] == output_index
    )


def assert_no_piece_of(key: str, content: bytes, run: int = 12) -> None:
    encoded = key.encode()
    assert encoded not in content
    for start in range(len(encoded) - run + 1):
        assert encoded[start : start + run] not in content, encoded[start : start + run]


@settings(deadline=None, max_examples=150)
@given(secret=streamed_keys, kind=st.sampled_from(sorted(STREAMS)), as_text=st.booleans(), data=st.data())
def test_a_key_streamed_in_pieces_never_reaches_the_file(
    secret: tuple[str, str], kind: str, as_text: bool, data: st.DataObject
) -> None:
    how, key = secret
    text = streamed_text(kind, key)
    sizes = data.draw(st.lists(st.integers(min_value=1, max_value=8), min_size=len(text), max_size=len(text)))
    pieces = split_into(text, sizes)
    redactor = Redactor([key] if how == "known" else [], environ={})
    with tempfile.TemporaryDirectory() as tmp:
        with new_log(Path(tmp), redactor) as log:
            log.append_raw_frame("sent", b'{"type":"response.create","input":[]}', t=0.5)
            log.append_raw_frame("received", b'{"type":"response.created","sequence_number":0}', t=1.0)
            for number, piece in enumerate(pieces, start=1):
                frame = delta_frame(kind, piece, sequence_number=number)
                log.append_raw_frame("received", frame.decode() if as_text else frame, t=1.0 + number / 1000)
            log.append_raw_frame(
                "received", orjson.dumps({"type": kind.replace(".delta", ".done"), "text": text}), t=2.0
            )
            log.append("response_stats", status="completed")
        content = log.path.read_bytes()
        records = frame_records(log.path)

    assert_no_piece_of(key, content)
    assert [record["seq"] for record in records] == list(range(1, len(pieces) + 5))
    assert [record["type"] for record in records] == ["frame"] * (len(pieces) + 3) + ["response_stats"]
    assert [record["data"].get("sequence_number") for record in records[2:-2]] == list(range(1, len(pieces) + 1))
    assert joined_deltas(records) == text.replace(key, REDACTED)
    assert records[-2]["data"]["text"] == text.replace(key, REDACTED)


@settings(deadline=None, max_examples=60)
@given(
    text=st.text(st.characters(codec="utf-8"), max_size=80),
    kind=st.sampled_from(sorted(STREAMS)),
    data=st.data(),
)
def test_streamed_text_without_secrets_is_written_unchanged(text: str, kind: str, data: st.DataObject) -> None:
    redactor = Redactor([CONFIGURED_KEY], environ={})
    assume(not redactor.secret_spans(text))
    sizes = data.draw(st.lists(st.integers(min_value=1, max_value=8), min_size=len(text), max_size=len(text)))
    frames = [
        delta_frame(kind, piece, sequence_number=n, logprobs=[]) for n, piece in enumerate(split_into(text, sizes))
    ]
    with tempfile.TemporaryDirectory() as tmp:
        with new_log(Path(tmp), redactor) as log:
            for frame in frames:
                log.append_raw_frame("received", frame, t=1.5, connection="ws-1")
        lines = log.path.read_bytes().splitlines()[1:]

    assert lines == [
        b'{"v":2,"seq":%d,"t":1.5,"type":"frame","dir":"received","conn":"ws-1","data":%s}' % (seq, frame)
        for seq, frame in enumerate(frames, start=1)
    ]


def test_held_frames_keep_their_seq_and_order_around_other_records(log: FrameTrace) -> None:
    text = f"one {EXAMPLE_KEY} two"
    pieces = [text[index : index + 3] for index in range(0, len(text), 3)]
    half = len(pieces) // 2

    log.append_raw_frame("sent", b'{"type":"response.create"}', t=1.0)  # seq 1
    log.append_raw_frame("received", delta_frame("response.output_text.delta", pieces[0]), t=1.1)
    log.append_raw_frame("received", b'{"type":"response.output_text.annotation.added"}', t=1.2)
    for piece in pieces[1:half]:
        log.append_raw_frame("received", delta_frame("response.output_text.delta", piece), t=1.3)
    log.append_raw_frame("received", b"not json", t=1.35)
    for piece in pieces[half:]:
        log.append_raw_frame("received", delta_frame("response.output_text.delta", piece), t=1.4)
    log.append("response_stats", status="completed")
    log.append_raw_frame("received", delta_frame("response.output_text.delta", "late"), t=1.5)
    log.append_raw_frame("sent", b'{"type":"response.create","n":2}', t=1.6)
    log.append_raw_frame("received", delta_frame("response.output_text.delta", "after"), t=1.7)
    log.flush()

    records = frame_records(log.path)
    content = log.path.read_bytes()
    assert [record["seq"] for record in records] == list(range(1, len(pieces) + 8))
    kinds = [(record["type"], record.get("dir"), (record.get("data") or {}).get("type", "?")) for record in records]
    assert kinds == [
        ("frame", "sent", "response.create"),
        ("frame", "received", "response.output_text.delta"),
        ("frame", "received", "response.output_text.annotation.added"),
        *[("frame", "received", "response.output_text.delta")] * (half - 1),
        ("frame", "received", "?"),
        *[("frame", "received", "response.output_text.delta")] * (len(pieces) - half),
        ("response_stats", None, "?"),
        ("frame", "received", "response.output_text.delta"),
        ("frame", "sent", "response.create"),
        ("frame", "received", "response.output_text.delta"),
    ]
    assert records[half + 2]["data_text"] == "not json"
    assert [record["t"] for record in records[:3]] == [1.0, 1.1, 1.2]
    assert joined_deltas(records[: len(pieces) + 3]) == f"one {REDACTED} two"
    assert_no_piece_of(EXAMPLE_KEY, content)


@settings(deadline=None, max_examples=60)
@given(
    secrets_=st.tuples(streamed_keys, streamed_keys),
    kinds=st.tuples(st.sampled_from(sorted(STREAMS)), st.sampled_from(sorted(STREAMS))),
    order=st.lists(st.booleans(), min_size=200, max_size=200),
    data=st.data(),
)
def test_interleaved_items_are_scrubbed_stream_by_stream(
    secrets_: tuple[tuple[str, str], tuple[str, str]], kinds: tuple[str, str], order: list[bool], data: st.DataObject
) -> None:
    keys = [key for _, key in secrets_]
    texts = [streamed_text(kind, key) for kind, key in zip(kinds, keys, strict=True)]
    queues = []
    for text in texts:
        sizes = data.draw(st.lists(st.integers(min_value=1, max_value=8), min_size=len(text), max_size=len(text)))
        queues.append(split_into(text, sizes))
    redactor = Redactor([key for (how, key) in secrets_ if how == "known"], environ={})
    count = 0
    with tempfile.TemporaryDirectory() as tmp:
        with new_log(Path(tmp), redactor) as log:
            log.append_raw_frame("received", b'{"type":"response.output_item.added","output_index":0}', t=1.0)
            for pick in [*order, *[False] * 200, *[True] * 200]:
                index = int(pick)
                if queues[index]:
                    if count == 3:  # the second item starts while the first one streams
                        log.append_raw_frame(
                            "received", b'{"type":"response.output_item.added","output_index":1}', t=1.0
                        )
                    log.append_raw_frame(
                        "received", delta_frame(kinds[index], queues[index].pop(0), output_index=index), t=1.0
                    )
                    count += 1
        content = log.path.read_bytes()
        records = frame_records(log.path)

    for key in keys:
        assert_no_piece_of(key, content)
    assert [record["seq"] for record in records] == list(range(1, count + 3))
    for index, (text, key) in enumerate(zip(texts, keys, strict=True)):
        assert joined_deltas(records, index) == text.replace(key, REDACTED)


def test_frames_that_carried_a_piece_lose_their_token_logprobs(log: FrameTrace) -> None:
    pieces = ["key ", EXAMPLE_KEY[:10], EXAMPLE_KEY[10:], " ok"]
    for piece in pieces:
        logprobs = [{"token": piece, "logprob": -0.1, "top_logprobs": []}]
        log.append_raw_frame("received", delta_frame("response.output_text.delta", piece, logprobs=logprobs), t=1.0)
    log.flush()

    records = frame_records(log.path)
    assert [record["data"]["delta"] for record in records] == ["key ", REDACTED, "", " ok"]
    assert [len(record["data"]["logprobs"]) for record in records] == [1, 0, 0, 1]
    assert_no_piece_of(EXAMPLE_KEY, log.path.read_bytes(), run=8)


def test_a_configured_key_that_json_escapes_is_scrubbed_across_frames(tmp_path: Path) -> None:
    key = 'pa"ss\\word-0123456789'
    text = f"the key is {key}!"
    with new_log(tmp_path, Redactor([key], environ={})) as log:
        for index in range(0, len(text), 2):
            log.append_raw_frame("received", delta_frame("response.output_text.delta", text[index : index + 2]), t=1.0)

    content = log.path.read_bytes()
    escaped = orjson.dumps(key)[1:-1]
    assert not any(escaped[start : start + 8] in content for start in range(len(escaped) - 7))
    assert joined_deltas(frame_records(log.path)) == f"the key is {REDACTED}!"


def test_disk_full_while_releasing_held_frames_loses_nothing(monkeypatch: pytest.MonkeyPatch, log: FrameTrace) -> None:
    text = f"token {EXAMPLE_KEY} end"
    pieces = [text[index : index + 4] for index in range(0, len(text), 4)]
    log.append("user_message", text="go")
    log.flush()
    header_and_message = log.path.read_bytes()
    for piece in pieces:
        log.append_raw_frame("received", delta_frame("response.output_text.delta", piece), t=1.0)
    log.append_raw_frame("received", b'{"type":"response.completed"}', t=2.0)

    def disk_full(fd: int, data: Any) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(session_log.os, "write", disk_full)
    with pytest.raises(SessionLogError, match="disk is full"):
        log.flush()
    with pytest.raises(SessionLogError, match="disk is full"):
        log.close()
    monkeypatch.undo()
    assert log.path.read_bytes() == header_and_message
    log.append("turn_ended")
    log.close()

    records = frame_records(log.path)
    assert [record["seq"] for record in records] == list(range(1, len(pieces) + 4))
    assert [record["type"] for record in records] == ["user_message", *["frame"] * (len(pieces) + 1), "turn_ended"]
    assert joined_deltas(records[1:-2]) == f"token {REDACTED} end"
    assert_no_piece_of(EXAMPLE_KEY, log.path.read_bytes())
