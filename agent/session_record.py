"""Reading a session record: its header, then its entries (events, items, resumptions) in order.

`read_session(source)` opens a session file (or takes a `LoadedSession`) and yields its
entries one at a time, so a reader folds the file without holding it whole:

- `EventEntry`: one recorded `AgentEvent` with its time. A coalesced run of text or reasoning
  deltas is one entry whose event holds the whole text and whose `parts` give each delta's
  offset and length (`expand` turns it back into the deltas);
- `ItemsEntry`: conversation items (wire-form dicts) the conversation added or committed;
- `ResumedEntry`: a later run continued the file from here (the `session_resumed` record's
  fields: its working directory, model, version, the turns and interrupted calls it found).

A `log_gap` record (records the writer had to give up while the disk was full) is read as a
`Notice` event that says what is missing there.

Version 2 files are read line by line. Version 1 files (raw frames and hand-named records) are
converted by `agent.session_v1` into the same entries. The file is untrusted input: unreadable
records are skipped with a warning, and nothing is ever executed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from agent.events import AGENT_EVENT_ADAPTER, AgentEvent, Notice, ReasoningDelta, TextDelta
from agent.session_backlog import LOG_GAP_RECORD, describe_gap
from agent.session_log import LoadedSession, SessionLogError, header_of
from agent.wire import Item

__all__ = [
    "Entry",
    "EventEntry",
    "ItemsEntry",
    "ResumedEntry",
    "SessionReading",
    "expand",
    "read_session",
    "validated_items",
]

_ENVELOPE = ("v", "seq", "t", "type")
_DELTAS: dict[str, type[TextDelta] | type[ReasoningDelta]] = {
    "text_delta": TextDelta,
    "reasoning_delta": ReasoningDelta,
}
_ITEMS: TypeAdapter[list[Item]] = TypeAdapter(list[Item])


def validated_items(items: Any) -> list[Item]:
    """Wire-form items as models (unknown item types are kept as `UnknownItem`).

    Raises:
        ValidationError: `items` is not a list of items.
    """
    return _ITEMS.validate_python(items)


@dataclass(frozen=True, slots=True)
class EventEntry:
    """One recorded event."""

    t: float | None
    """The record's `time.monotonic()` stamp, from the process that wrote it."""
    event: AgentEvent
    parts: tuple[tuple[float, int], ...] | None = None
    """For a coalesced delta run: each delta's offset (seconds after `t`) and length."""


@dataclass(frozen=True, slots=True)
class ItemsEntry:
    """Conversation items, in wire form, appended to the conversation in this order."""

    t: float | None
    items: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class ResumedEntry:
    """A later run continued the session from here."""

    t: float | None
    fields: dict[str, Any]


Entry = EventEntry | ItemsEntry | ResumedEntry


@dataclass
class SessionReading:
    """A session being read: its header, then `entries()` (iterate once)."""

    header: dict[str, Any]
    entries: Iterator[Entry]
    warnings: list[str] = field(default_factory=list)
    """One message per line dropped or record skipped; complete once `entries` is exhausted."""


def read_session(source: Path | str | LoadedSession) -> SessionReading:
    """Open a session (file or loaded) for reading its entries in order.

    Raises:
        SessionLogError: The file cannot be read, is not a session, or is from a newer version.
    """
    if isinstance(source, LoadedSession):
        warnings = list(source.warnings)
        if source.header.get("v") == 1:
            from agent.session_v1 import v1_entries

            return SessionReading(source.header, v1_entries(source.records, warnings), warnings)
        return SessionReading(source.header, _records_entries(iter(source.records), warnings), warnings)
    path = Path(source)
    try:
        file = open(path, "rb")  # noqa: SIM115 - closed by the generator below
    except OSError as exc:
        raise SessionLogError(f"cannot read session {path}: {exc.strerror}") from exc
    try:
        header = header_of(file.readline(), path)
    except BaseException:
        file.close()
        raise
    if header.get("v") == 1:
        file.close()
        from agent.session_log import load_session
        from agent.session_v1 import v1_entries

        loaded = load_session(path)
        warnings = list(loaded.warnings)
        return SessionReading(loaded.header, v1_entries(loaded.records, warnings), warnings)
    warnings = []
    return SessionReading(header, _records_entries(_file_records(file, path, warnings), warnings), warnings)


def _file_records(file: Any, path: Path, warnings: list[str]) -> Iterator[dict[str, Any]]:
    """The records of an open file after its header, one line at a time (closes the file)."""
    with file:
        number = 1
        for line in file:
            number += 1
            if not line.endswith(b"\n"):
                warnings.append(f"{path}: dropped torn last line {number} ({len(line)} bytes without a newline)")
                return
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                record = None
            if isinstance(record, dict):
                yield record
            else:
                warnings.append(f"{path}: skipped line {number} (not a JSON object)")


def _records_entries(records: Iterator[dict[str, Any]], warnings: list[str]) -> Iterator[Entry]:
    for record in records:
        kind = record.get("type")
        t = record.get("t")
        t = float(t) if isinstance(t, int | float) and not isinstance(t, bool) else None
        try:
            if kind == "items":
                items = record.get("items")
                if not isinstance(items, list):
                    raise TypeError("items is not a list")
                yield ItemsEntry(t, [item for item in items if isinstance(item, dict)])
            elif kind == "session_resumed":
                yield ResumedEntry(t, {key: value for key, value in record.items() if key not in _ENVELOPE})
            elif kind in _DELTAS:
                yield _delta_entry(kind, record, t)
            elif kind == LOG_GAP_RECORD:  # records the writer could not keep: said as a notice
                yield EventEntry(t, Notice(message=describe_gap(record)))
            elif isinstance(kind, str):
                fields = {key: value for key, value in record.items() if key not in _ENVELOPE}
                fields.pop("totals", None)
                event = AGENT_EVENT_ADAPTER.validate_python({**fields, "type": kind})
                yield EventEntry(t, event)
        except (ValidationError, TypeError, ValueError) as exc:
            first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            warnings.append(f"skipped record seq {record.get('seq')} ({kind}): {first_line}")


def _delta_entry(kind: str, record: dict[str, Any], t: float | None) -> EventEntry:
    text = record.get("text")
    if not isinstance(text, str):
        raise TypeError("text is not a string")
    raw_parts = record.get("parts")
    parts = None
    if isinstance(raw_parts, list) and raw_parts:
        parts = tuple((float(offset), int(length)) for offset, length in raw_parts)
    return EventEntry(t, _DELTAS[kind].model_construct(text=text), parts)


def expand(entry: EventEntry) -> Iterator[tuple[float, AgentEvent]]:
    """The deltas of a coalesced entry (each with its offset after `entry.t`), else the event.

    The lengths split the text as it was streamed; should they not add up (the text was changed
    by redaction), the last delta takes what remains.
    """
    event = entry.event
    if entry.parts is None or not isinstance(event, TextDelta | ReasoningDelta):
        yield 0.0, event
        return
    text = event.text
    build = type(event).model_construct
    position = 0
    last = len(entry.parts) - 1
    for index, (offset, length) in enumerate(entry.parts):
        end = len(text) if index == last else min(position + max(length, 0), len(text))
        yield offset, build(text=text[position:end])
        position = end
