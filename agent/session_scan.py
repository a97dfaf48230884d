"""Reading the ends of session files without decoding them whole: the tail (where the last
complete record ends, the next `seq`) and the few records a listing needs; and the JSON of their
lines (`dumps_json`, `is_json`).

Every record line starts with the envelope `{"v":…,"seq":…,"t":…,"type":"…"`, and a line never
holds a raw newline, so a record's type is read from the first bytes of its line and a file can
be walked backwards from its end.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeGuard

import orjson

__all__ = [
    "dumps_json",
    "escape_surrogates",
    "is_json",
    "map_strings",
    "record_type",
    "tail",
    "v1_summary",
    "v2_summary",
]

_INVALID = object()


_PROMPT_SEARCH_LINES = 16
"""How many records after the header may come before the first `turn_started`."""


def record_type(line: bytes) -> bytes | None:
    """The `type` of a record line, read from its envelope without decoding the line."""
    start = line.find(b'"type":"', 0, 96)
    if start < 0:
        return None
    start += 8
    end = line.find(b'"', start, start + 64)
    return line[start:end] if end > 0 else None


def v2_summary(file: Any, size: int) -> tuple[str | None, int, int]:
    """First prompt, turns and tokens of a version-2 file open just after its header."""
    first_prompt = None
    for _ in range(_PROMPT_SEARCH_LINES):
        line = file.readline()
        if not line.endswith(b"\n"):
            break
        if record_type(line) == b"turn_started":
            record = _loads(line)
            if isinstance(record, dict) and isinstance(record.get("prompt"), str):
                first_prompt = record["prompt"]
            break
    if first_prompt is None:
        return None, 0, 0
    totals = _last_totals(file, size)
    turns, tokens = (totals.get("turns"), totals.get("tokens")) if totals else (0, 0)
    return first_prompt, turns if _is_int(turns) else 0, tokens if _is_int(tokens) else 0


def _last_totals(file: Any, size: int) -> dict[str, Any] | None:
    """The `totals` of the last `turn_ended` record, reading backwards from the end."""
    end = size
    carry = b""
    while end > 0:
        start = max(0, end - _TAIL_CHUNK)
        file.seek(start)
        chunk = file.read(end - start) + carry
        lines = chunk.split(b"\n")
        carry = lines[0] if start > 0 else b""
        for line in reversed(lines[1:] if start > 0 else lines):
            if record_type(line) == b"turn_ended":
                record = _loads(line)
                totals = record.get("totals") if isinstance(record, dict) else None
                if isinstance(totals, dict):
                    return totals
        end = start
    return None


def v1_summary(file: Any) -> tuple[str | None, int, int]:
    """First prompt, turns and tokens of a version-1 file open just after its header (it has no
    totals, so every line is looked at, but only the records that count are decoded)."""
    first_prompt = None
    turns = 0
    total_tokens = 0
    for line in file:
        kind = record_type(line)
        if kind == b"user_message" and first_prompt is None:
            record = _loads(line)
            if isinstance(record, dict) and isinstance(record.get("text"), str):
                first_prompt = record["text"]
        elif kind == b"turn_ended" and line.endswith(b"\n"):
            turns += 1
        elif kind == b"response_stats":
            record = _loads(line)
            if isinstance(record, dict):
                total_tokens += sum(
                    value for value in (record.get("input_tokens"), record.get("output_tokens")) if _is_int(value)
                )
    return first_prompt, turns, total_tokens


_TAIL_CHUNK = 1 << 16


def tail(file: Any, size: int) -> tuple[int, int]:
    """Where the last complete line ends, and the highest `seq` on the last readable lines.

    Reads backwards in chunks from the end, never the whole file (unless it has no readable
    record near its end).
    """
    end = size
    complete = -1
    buffer = b""
    while end > 0:
        start = max(0, end - _TAIL_CHUNK)
        file.seek(start)
        buffer = file.read(end - start) + buffer
        end = start
        if complete < 0:
            newline = buffer.rfind(b"\n")
            if newline < 0:
                continue
            complete = start + newline + 1
            buffer = buffer[: newline + 1]
            end_of_data = complete
        lines = buffer.split(b"\n")
        if end > 0:
            lines = lines[1:]  # the first piece may be the end of a longer line
        seqs = [record.get("seq") for record in map(_loads, lines) if isinstance(record, dict)]
        found = [seq for seq in seqs if _is_int(seq)]
        if found:
            return end_of_data, max(found)
    return max(complete, 0), 0


def _loads(line: bytes | str) -> Any:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError:
        return _INVALID


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def dumps_json(value: Any) -> str:
    """Compact JSON; strings with lone surrogates are written with backslash escapes."""
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError as exc:
        try:
            return orjson.dumps(map_strings(value, escape_surrogates)).decode()
        except orjson.JSONEncodeError:
            raise TypeError(f"session record is not JSON-serialisable: {exc}") from exc


def map_strings(value: Any, change: Callable[[str], str]) -> Any:
    """A copy of a JSON-like value with `change` applied to every string, keys included."""
    if isinstance(value, str):
        return change(value)
    if isinstance(value, Mapping):
        return {map_strings(key, change): map_strings(item, change) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [map_strings(item, change) for item in value]
    return value


def escape_surrogates(text: str) -> str:
    """`text` with lone surrogates as backslash escapes (encodable as UTF-8)."""
    return text.encode("utf-8", "backslashreplace").decode()


def is_json(text: str) -> bool:
    """Whether `text` is one JSON value."""
    return _loads(text) is not _INVALID
