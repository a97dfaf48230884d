"""The session record: every `AgentEvent` the agent emits and every conversation item, on disk.

`SessionRecorder` is what the agent loop and the conversation write to. The loop hands it each
event it yields (`event`), the conversation each item it adds or commits (`items`); the recorder
turns them into records of a `SessionLog` (format version 2, see docs/session-format.md):

- an event is one record whose type is the event's type and whose fields are the event's
  (`{"v":2,"seq":N,"t":T,"type":"tool_finished","call_id":…,…}`);
- consecutive `text_delta` (or `reasoning_delta`) events are coalesced into one record that
  holds the whole text and, under `parts`, each delta's offset in seconds from the record's `t`
  and its length in characters, so replay can yield the same deltas at the same pace. Redaction
  then always sees whole text: a secret streamed across many deltas is found and taken out of
  the joined text, never left as fragments. The run stays in memory until another event comes
  or the recorder closes, whatever flushes happen meanwhile;
- `tool_output` events (a running tool's latest output tail) are written at most once per
  `LIVE_OUTPUT_RECORD_INTERVAL_S` per call, the first at once: each replaces the previous one and
  the call's `tool_finished` holds the whole output, so the ones in between are left out, except
  the last one held back, which is written just before the call's `tool_finished` (so replay ends
  on the lines the app showed last);
- items are `{"type":"items","items":[…]}` in their Responses wire form: concatenated in file
  order they are the conversation;
- a `session_resumed` record marks where a later run (a resume) continued the file.

Durable flush points are decided here, from the events: when a turn starts (the prompt's item
was recorded just before) and when a request starts (`response_started` reaches the recorder
before the request is sent), after a response finishes (its tool calls are about to run), when
an approval is asked for or decided, after a tool's result and at the turn's end, the log is
flushed and fsynced. So a process killed while it waits for the model leaves the prompt on disk.

A flush that fails (a full disk) never fails the turn: the records stay buffered (bounded, see
`agent.session_backlog`) and the next flush retries them. The user hears of it once per outage
(`take_notices`, which `Session.run_turn` turns into `Notice` events), and again when the log
is written again; the log gets the same words as a `notice` record.

Raw frames are not part of the record. With a trace log (opt-in), `frame` writes each frame
there, in a second file next to the session (`<id>.trace`).
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping
from contextlib import aclosing
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from agent.events import AgentEvent, Notice, ToolFinished, ToolOutput, TurnEnded
from agent.frame_trace import FrameTrace
from agent.redact import Redactor, cut_spans
from agent.session_log import SessionLog, SessionLogError
from agent.session_record import Entry, ItemsEntry, ResumedEntry

__all__ = [
    "DELTA_TYPES",
    "DURABLE_EVENTS",
    "ITEMS_RECORD",
    "LIVE_OUTPUT_RECORD_INTERVAL_S",
    "RESUMED_RECORD",
    "SessionRecorder",
    "with_log_notices",
]

ITEMS_RECORD = "items"
"""Record type of conversation items."""

RESUMED_RECORD = "session_resumed"
"""Record type of the mark a later run (a resume) leaves where it continues the file."""

DELTA_TYPES = frozenset({"text_delta", "reasoning_delta"})
"""Event types whose consecutive events are coalesced into one record."""

DURABLE_EVENTS = frozenset(
    {
        "turn_started",
        "response_started",
        "response_finished",
        "approval_requested",
        "approval_decided",
        "tool_finished",
        "turn_ended",
    }
)
"""Events after which the log is flushed and fsynced (a request is sent next, a tool may run
next, or a turn ended)."""

LIVE_OUTPUT_RECORD_INTERVAL_S = 1.0
"""At most one `tool_output` record per call in this many seconds."""


class _Run:
    """Consecutive deltas of one type, not yet written."""

    __slots__ = ("kind", "pieces", "started", "times")

    def __init__(self, kind: str, started: float) -> None:
        self.kind = kind
        self.started = started
        self.pieces: list[str] = []
        self.times: list[float] = []


class SessionRecorder:
    """Writes the events and items of a session into its log.

    Args:
        log: The session file, created or reopened by the caller; the recorder closes it.
        redactor: The log's redactor, used to find secrets spread over streamed deltas.
        trace: An opt-in second log that receives raw frames (`frame`); None records none.
        clock: Where record times come from (`time.monotonic` unless testing).
    """

    def __init__(
        self,
        log: SessionLog,
        redactor: Redactor,
        *,
        trace: FrameTrace | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.log = log
        self.trace = trace
        self._redactor = redactor
        self._clock = clock
        self._run: _Run | None = None
        self._live_written: dict[str, float] = {}
        """call_id → when its last `tool_output` was written (while the call runs)."""
        self._live_held: dict[str, tuple[ToolOutput, float]] = {}
        """call_id → its latest `tool_output` not written yet, and when it came."""
        self._turns = 0
        self._tokens = 0
        self.warnings: list[str] = []
        """What the user was told about the log (it cannot be written, it is written again), in order."""
        self._untold: list[str] = []
        self._failing = False
        self.given_up = 0
        """Bytes of records that could not be written when the log was closed (the disk stayed full)."""
        if log.write_error is not None:  # the header is still buffered
            self._failed(log.write_error)

    @property
    def path(self) -> Path:
        """The session file."""
        return self.log.path

    @property
    def id(self) -> str:
        """The session id."""
        return self.log.id

    def continue_totals(self, turns: int, tokens: int) -> None:
        """Start the session totals (kept on `turn_ended` records for listings) from a resumed file."""
        self._turns, self._tokens = turns, tokens

    # ---- what the loop and the conversation report ------------------------------------------

    def event(self, event: AgentEvent) -> None:
        """Record one event the agent yields (deltas are coalesced; see the module docstring)."""
        kind = event.type
        now = self._clock()
        if kind in DELTA_TYPES:
            run = self._run
            if run is None or run.kind != kind:
                self._release_run()
                run = self._run = _Run(kind, now)
            run.pieces.append(event.text)  # type: ignore[union-attr]
            run.times.append(now)
            return
        if isinstance(event, ToolOutput):
            last = self._live_written.get(event.call_id)
            if last is not None and now - last < LIVE_OUTPUT_RECORD_INTERVAL_S:
                self._live_held[event.call_id] = (event, now)
                return
            self._live_written[event.call_id] = now
            self._live_held.pop(event.call_id, None)
        elif isinstance(event, ToolFinished):
            self._live_written.pop(event.call_id, None)
            held = self._live_held.pop(event.call_id, None)
            if held is not None:  # the last lines shown before the result, as they were shown
                self._release_run()
                self.log.append_record(held[0].type, held[0].model_dump(mode="json", exclude={"type"}), t=held[1])
        self._release_run()
        fields = event.model_dump(mode="json")
        del fields["type"]
        if isinstance(event, TurnEnded):
            self._count(event)
            self.log.append_record(kind, {**fields, "totals": {"turns": self._turns, "tokens": self._tokens}}, t=now)
        else:
            self.log.append_record(kind, fields, t=now)
        if kind in DURABLE_EVENTS:
            self.flush(durable=True)

    def items(self, items: Iterable[BaseModel | Mapping[str, Any]]) -> None:
        """Record conversation items, in the order the conversation added or committed them."""
        dumped = [item.model_dump(mode="json") if isinstance(item, BaseModel) else dict(item) for item in items]
        if not dumped:
            return
        self._release_run()
        first = dumped[0]
        starts_turn = first.get("type") == "message" and first.get("role") == "user"
        self.log.append_record(ITEMS_RECORD, {"items": dumped}, t=self._clock(), starts_turn=starts_turn)

    def frame(self, direction: Literal["sent", "received"], raw: bytes | str, t: float) -> None:
        """Trace one raw frame (only with a trace log; the session record never holds frames)."""
        if self.trace is not None:
            self.trace.append_raw_frame(direction, raw, t)

    def resumed(self, **fields: Any) -> None:
        """Mark that this run continues the file: a `session_resumed` record with `fields` and `wall`."""
        self._release_run()
        wall = datetime.now().astimezone().isoformat(timespec="milliseconds")
        self.log.append_record(RESUMED_RECORD, {**fields, "wall": wall}, t=self._clock())
        self.flush(durable=True)

    def copy_entries(self, entries: Iterable[Entry]) -> None:
        """Write entries read from another file, each with its own time (a version-1 session is
        continued in a new file that first receives its content, converted)."""
        self._release_run()
        for entry in entries:
            if isinstance(entry, ItemsEntry):
                self.log.append_record(ITEMS_RECORD, {"items": entry.items}, t=entry.t)
            elif isinstance(entry, ResumedEntry):
                self.log.append_record(RESUMED_RECORD, entry.fields, t=entry.t)
            else:
                fields = entry.event.model_dump(mode="json")
                kind = fields.pop("type")
                if entry.parts is not None:
                    fields["parts"] = [list(part) for part in entry.parts]
                if isinstance(entry.event, TurnEnded):
                    self._count(entry.event)
                    fields["totals"] = {"turns": self._turns, "tokens": self._tokens}
                self.log.append_record(kind, fields, t=entry.t)
        self.flush(durable=True)

    def _count(self, ended: TurnEnded) -> None:
        self._turns += 1
        self._tokens += sum(r.input_tokens + r.output_tokens for r in ended.stats.responses)

    # ---- writing ------------------------------------------------------------------------------

    def flush(self, durable: bool = False) -> None:
        """Write what is buffered (not an open delta run); with `durable`, fsync too.

        A failure (a full disk) never raises: the records stay buffered, the next flush retries
        them, and the user is told once (`take_notices`), then again when the log is written again.
        """
        try:
            self.log.flush(fsync=durable)
        except SessionLogError:
            if not self._failing:
                self._failed(self.log.write_error or "it cannot be written")
        else:
            if self._failing:
                self._failing = False
                self._tell(f"The session log is written again: {self.log.path}.")
        if self.trace is not None:
            try:
                self.trace.flush()
            except SessionLogError as exc:
                if str(exc) not in self.warnings:
                    self.warnings.append(str(exc))

    def take_notices(self) -> list[str]:
        """What the user has not been told yet about the log (see `flush`)."""
        untold, self._untold = self._untold, []
        return untold

    def close(self) -> None:
        """Write the open delta run, flush with fsync and close the log (and the trace).

        When the disk is still full, what cannot be written is given up (`given_up` bytes) and
        the file is closed all the same; nothing raises.
        """
        try:
            self._release_run()
            try:
                self.log.close()
            except SessionLogError:
                self.given_up = self.log.abandon()
        finally:
            if self.trace is not None:
                try:
                    self.trace.close()
                except SessionLogError:
                    self.trace.abandon()

    def _failed(self, reason: str) -> None:
        self._failing = True
        until = "until space returns" if self.log.disk_full else "and each flush tries again"
        message = (
            f"The session log cannot be written ({reason}): the session goes on, and the records wait in "
            f"memory {until}. {self.log.path}"
        )
        self._tell(message)

    def _tell(self, message: str) -> None:
        self.warnings.append(message)
        self._untold.append(message)
        self.log.append_record("notice", Notice(message=message).model_dump(mode="json", exclude={"type"}))

    def _release_run(self) -> None:
        run = self._run
        if run is None:
            return
        self._run = None
        pieces = run.pieces
        spans = self._redactor.secret_spans("".join(pieces))
        if spans:
            pieces = [
                piece if cut is None else cut for piece, cut in zip(pieces, cut_spans(pieces, spans), strict=True)
            ]
        fields: dict[str, Any] = {"text": "".join(pieces)}
        if len(pieces) > 1:
            fields["parts"] = [
                [round(at - run.started, 4), len(piece)] for at, piece in zip(run.times, pieces, strict=True)
            ]
        self.log.append_record(run.kind, fields, t=run.started)


async def with_log_notices(
    events: AsyncGenerator[AgentEvent], recorder: SessionRecorder | None
) -> AsyncGenerator[AgentEvent]:
    """`events` with a `Notice` before each event for what the user has not been told about the
    log yet (it cannot be written, it is written again): the notice of a failure at the turn's
    end comes before its `TurnEnded`, which stays the last event. Closing this closes `events`."""
    async with aclosing(events) as stream:
        async for event in stream:
            if recorder is not None:
                for message in recorder.take_notices():
                    yield Notice(message=message)
            yield event
