"""Replaying a saved session: read its events, apply the clock.

`SessionReplay` plays the `AgentEvent`s recorded in a session file (see `agent.session_record`;
version-1 files are converted by `agent.session_v1`) at their recorded pace. A coalesced run of
text or reasoning deltas plays back as the deltas that were streamed, each at its own offset.
`history_events` is an instant replay with each run kept whole, for drawing a resumed session's
transcript with the same router as a live one.

What a log that ends early cannot hold is completed, so a viewer never waits on a turn that cannot
finish: at the end of the file, or where a later run resumed it, a turn that was never ended gets
`ToolFinished(status="aborted")` with `REPLAY_INTERRUPTED_OUTPUT` for each committed tool call
without a result, then `TurnEnded(reason="cancelled")` with `INTERRUPTED_TURN_MESSAGE`. Where a
later run resumed the session, a `Notice` says so.

Replay only reads: it never runs a tool, opens a connection or writes a file.

Timing: each event waits the recorded gap since the previous event (records carry
`time.monotonic()` seconds), shortened to `max_gap_s` (2 s by default, so a user's reading,
typing or approval think time, or the days between a session and its resumption, do not stall
playback), then divided by the speed. Pausing holds the next event; changing the speed or
pausing takes effect in the middle of a wait.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.events import (
    AgentEvent,
    Notice,
    ReasoningDelta,
    ResponseFinished,
    TextDelta,
    ToolFinished,
    TurnChanges,
    TurnEnded,
    TurnStarted,
)
from agent.resume import INTERRUPTED_OUTPUT
from agent.session_log import LoadedSession
from agent.session_record import Entry, EventEntry, ItemsEntry, ResumedEntry, SessionReading, expand, read_session
from agent.stats import ResponseStats, TurnStats
from agent.wire.event_types import TOOL_ITEM_TYPES

if TYPE_CHECKING:
    from agent.checkpoints import SessionDiff

__all__ = [
    "DEFAULT_MAX_GAP_S",
    "INTERRUPTED_TURN_MESSAGE",
    "MAX_SPEED",
    "MIN_SPEED",
    "REPLAY_INTERRUPTED_OUTPUT",
    "SessionReplay",
    "TimedEvent",
    "Timeline",
    "history_events",
    "replay_timeline",
    "turn_diff",
    "whole_runs",
]

REPLAY_INTERRUPTED_OUTPUT = INTERRUPTED_OUTPUT
"""The output shown for a tool call whose result was never recorded (the same text resume gives
the model)."""

INTERRUPTED_TURN_MESSAGE = "The session log ends here: the turn was interrupted before it finished."
"""The message of the `TurnEnded` given to a turn the log does not end."""

MIN_SPEED = 0.25
MAX_SPEED = 64.0
DEFAULT_MAX_GAP_S = 2.0
"""Recorded gaps longer than this (user think time) are shortened to it before the speed applies."""

_OUTPUT_ITEM_TYPES = frozenset({"function_call_output", "custom_tool_call_output"})


@dataclass(frozen=True, slots=True)
class TimedEvent:
    """One replayed event and when it happened."""

    at: float | None
    """The record's `time.monotonic()` timestamp, from the process that wrote it."""
    gap_s: float
    """Recorded seconds since the previous event (never negative; not yet capped or scaled)."""
    event: AgentEvent
    parts: tuple[tuple[float, int], ...] | None = None
    """For a coalesced delta run: each delta's offset after `at` and length (see `expand`)."""

    @property
    def count(self) -> int:
        """How many events this plays back as."""
        return len(self.parts) if self.parts else 1


Source = Path | str | LoadedSession | SessionReading


def replay_timeline(source: Source) -> tuple[list[TimedEvent], list[str]]:
    """The events of a session with their recorded times, without waiting.

    Returns:
        The timed events (delta runs kept whole), and one warning per line the reader dropped
        or record it skipped (the file is untrusted input).

    Raises:
        SessionLogError: `source` is a path that cannot be read as a session.
    """
    reading = source if isinstance(source, SessionReading) else read_session(source)
    timeline = Timeline()
    timeline.build(reading.entries)
    return timeline.out, reading.warnings


def history_events(source: Source) -> list[AgentEvent]:
    """Every event of a session in order, at once, with each streamed run as one delta.

    This is an instant replay: drawn by the UI's event router it puts a resumed session's
    transcript on screen exactly as the live session and its replay show it.

    Raises:
        SessionLogError: `source` is a path that cannot be read as a session.
    """
    timeline, _ = replay_timeline(source)
    return _whole_runs_of(timeline)


def _whole_runs_of(timeline: list[TimedEvent]) -> list[AgentEvent]:
    return whole_runs(timed.event for timed in timeline)


def whole_runs(events: Iterable[AgentEvent]) -> list[AgentEvent]:
    """`events` with each run of consecutive text (or reasoning) deltas joined into one delta."""
    out: list[AgentEvent] = []
    pieces: list[str] = []
    for event in events:
        previous = out[-1] if out else None
        if isinstance(event, TextDelta | ReasoningDelta):
            if type(previous) is type(event):
                pieces.append(event.text)
                continue
            _join(out, pieces)
            pieces = [event.text]
        else:
            _join(out, pieces)
            pieces = []
        out.append(event)
    _join(out, pieces)
    return out


def _join(out: list[AgentEvent], pieces: list[str]) -> None:
    """Give the delta that ends `out` the whole text of its run."""
    if len(pieces) > 1:
        last = out[-1]
        assert isinstance(last, TextDelta | ReasoningDelta)
        out[-1] = type(last).model_construct(text="".join(pieces))


class SessionReplay:
    """Plays a saved session as `AgentEvent`s, at its recorded pace or faster.

    Args:
        source: A session file, a loaded session, or a session being read.
        speed: Playback speed factor, clamped to `MIN_SPEED`–`MAX_SPEED`.
        instant: Yield every event without waiting (can be switched on while playing).
        max_gap_s: The longest recorded gap honoured; longer ones are shortened to it.
        sleep: Awaited with each scaled delay instead of the built-in wait (for tests); a
            speed change then applies from the next event rather than mid-wait.
        whole_runs: Yield each streamed run as one delta, without waiting (see `history_events`):
            what an instant replay on screen wants, since every delta costs a redraw.

    Raises:
        SessionLogError: `source` is a path that cannot be read as a session.
    """

    def __init__(
        self,
        source: Source,
        *,
        speed: float = 1.0,
        instant: bool = False,
        max_gap_s: float = DEFAULT_MAX_GAP_S,
        sleep: Callable[[float], Awaitable[Any]] | None = None,
        whole_runs: bool = False,
    ) -> None:
        reading = source if isinstance(source, SessionReading) else read_session(source)
        self._header = reading.header
        self.timeline, self.warnings = replay_timeline(reading)
        """`warnings`: lines the reader dropped and records replay skipped."""
        self._whole: list[AgentEvent] | None = None
        if whole_runs:
            self._whole = _whole_runs_of(self.timeline)
        self._total = len(self._whole) if self._whole is not None else sum(timed.count for timed in self.timeline)
        self.max_gap_s = max_gap_s
        self._speed = _clamp(speed)
        self._instant = instant
        self._sleep = sleep
        self._running = asyncio.Event()
        self._running.set()
        self._changed = asyncio.Event()
        self._position = 0

    @property
    def header(self) -> dict[str, Any]:
        """The session's `session_meta` record (id, cwd, model, git head, …)."""
        return self._header

    @property
    def speed(self) -> float:
        """The playback speed factor (1 is the recorded pace)."""
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        self._speed = _clamp(value)
        self._changed.set()

    def faster(self) -> float:
        """Double the speed (at most `MAX_SPEED`); returns the new speed."""
        self.speed = self._speed * 2
        return self._speed

    def slower(self) -> float:
        """Halve the speed (at least `MIN_SPEED`); returns the new speed."""
        self.speed = self._speed / 2
        return self._speed

    @property
    def paused(self) -> bool:
        """Whether playback is held before the next event."""
        return not self._running.is_set()

    def pause(self) -> None:
        """Hold playback before the next event (the current wait stops counting)."""
        self._running.clear()
        self._changed.set()

    def resume(self) -> None:
        """Continue playback where it was paused."""
        self._running.set()
        self._changed.set()

    def toggle_pause(self) -> bool:
        """Pause when playing, resume when paused; returns whether playback is now paused."""
        if self.paused:
            self.resume()
        else:
            self.pause()
        return self.paused

    @property
    def instant(self) -> bool:
        """Whether events are yielded without waiting."""
        return self._instant

    @instant.setter
    def instant(self, value: bool) -> None:
        self._instant = value
        self._changed.set()

    @property
    def position(self) -> int:
        """How many events have been yielded by the current `events()` iteration."""
        return self._position

    @property
    def total(self) -> int:
        """How many events the session replays to."""
        return self._total

    def delay_for(self, gap_s: float) -> float:
        """The wall-clock seconds a recorded gap takes at the current settings."""
        if self._instant:
            return 0.0
        return min(max(gap_s, 0.0), self.max_gap_s) / self._speed

    async def events(self) -> AsyncIterator[AgentEvent]:
        """Yield the session's events in order, each after its (capped, scaled) recorded gap."""
        self._position = 0
        if self._whole is not None:
            for event in self._whole:
                await self._running.wait()
                self._position += 1
                yield event
            return
        for timed in self.timeline:
            if timed.parts is None:
                await self._wait(timed.gap_s)
                self._position += 1
                yield timed.event
                continue
            previous = 0.0
            for index, (offset, event) in enumerate(expand(EventEntry(timed.at, timed.event, timed.parts))):
                await self._wait(timed.gap_s if index == 0 else max(offset - previous, 0.0))
                previous = offset
                self._position += 1
                yield event

    async def _wait(self, gap_s: float) -> None:
        remaining = min(max(gap_s, 0.0), self.max_gap_s)  # in recorded seconds
        while True:
            await self._running.wait()
            if self._instant or remaining <= 0:
                return
            if self._sleep is not None:
                await self._sleep(remaining / self._speed)
                remaining = 0.0
                continue
            self._changed.clear()
            speed = self._speed
            loop = asyncio.get_running_loop()
            started = loop.time()
            try:
                async with asyncio.timeout(remaining / speed):
                    await self._changed.wait()
            except TimeoutError:
                remaining = 0.0
                continue
            remaining -= (loop.time() - started) * speed


def turn_diff(header: dict[str, Any], event: TurnChanges) -> SessionDiff:
    """A recorded turn's diff (`d` or `/diff N` in a replay), read from the checkpoints the session
    left in its repository (`header`'s `workspace`); the recorded per-file stats with a note in
    place of the patch when the repository or the checkpoints are gone. Runs git: call it from a
    thread."""
    from agent.checkpoints import recorded_diffs

    return recorded_diffs(header, [event])[event.turn]


def _clamp(speed: float) -> float:
    return min(MAX_SPEED, max(MIN_SPEED, float(speed)))


class Timeline:
    """Folds entries into timed events (`out`), completing turns the log does not end.

    Feed every entry (`feed`), then call `close_turn`; or `build` from an iterable.
    """

    def __init__(self) -> None:
        self.out: list[TimedEvent] = []
        self.now: float | None = None
        self.last: float | None = None
        self.turn: int | None = None
        self.turn_started: float | None = None
        self.responses: list[ResponseStats] = []
        self.unanswered: dict[str, str] = {}
        """call_id → name of the open turn's committed tool calls that have no output yet."""

    def build(self, entries: Iterable[Entry]) -> None:
        for entry in entries:
            self.feed(entry)
        self.close_turn()

    def feed(self, entry: Entry) -> None:
        if entry.t is not None:
            self.now = entry.t
        if isinstance(entry, EventEntry):
            self.event(entry)
        elif isinstance(entry, ItemsEntry):
            self.items(entry.items)
        else:
            self.resumed(entry)

    def emit(self, event: AgentEvent, parts: tuple[tuple[float, int], ...] | None = None) -> None:
        gap = 0.0
        if self.now is not None and self.last is not None:
            gap = self.now - self.last
            if gap < -1.0:  # a clock from another process (a resumed session): start afresh
                self.last = self.now
        if self.now is not None and (self.last is None or self.now > self.last):
            self.last = self.now
        self.out.append(TimedEvent(self.now, max(gap, 0.0), event, parts))
        if parts and self.now is not None:
            self.last = max(self.last or self.now, self.now + parts[-1][0])

    def event(self, entry: EventEntry) -> None:
        event = entry.event
        if isinstance(event, TurnStarted):
            self.close_turn()
            self.turn, self.turn_started, self.responses, self.unanswered = event.turn, self.now, [], {}
        elif isinstance(event, ResponseFinished):
            self.responses.append(event.stats)
        elif isinstance(event, ToolFinished):
            self.unanswered.pop(event.call_id, None)
        elif isinstance(event, TurnEnded):
            self.turn, self.unanswered = None, {}
        self.emit(event, entry.parts)

    def items(self, items: list[dict[str, Any]]) -> None:
        for item in items:
            kind = item.get("type")
            if kind in TOOL_ITEM_TYPES:
                self.unanswered.setdefault(str(item.get("call_id")), str(item.get("name")))
            elif kind in _OUTPUT_ITEM_TYPES:
                self.unanswered.pop(str(item.get("call_id")), None)

    def resumed(self, entry: ResumedEntry) -> None:
        self.close_turn()
        self.last = None
        turns = entry.fields.get("turns")
        known = isinstance(turns, int) and not isinstance(turns, bool)
        self.emit(Notice(message=f"Session resumed after turn {turns}." if known else "Session resumed."))

    def close_turn(self) -> None:
        """End a turn the log does not end: its unanswered calls abort, then a `TurnEnded`."""
        if self.turn is None:
            return
        for call_id, name in self.unanswered.items():
            self.emit(
                ToolFinished(
                    call_id=call_id, name=name, status="aborted", output=REPLAY_INTERRUPTED_OUTPUT, duration_s=0.0
                )
            )
        total = self.now - self.turn_started if self.now is not None and self.turn_started is not None else 0.0
        stats = TurnStats(turn=self.turn, responses=self.responses, total_s=max(total, 0.0))
        self.emit(TurnEnded(reason="cancelled", stats=stats, message=INTERRUPTED_TURN_MESSAGE))
        self.turn, self.unanswered = None, {}
