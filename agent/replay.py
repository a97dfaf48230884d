"""Replaying a saved session as the `AgentEvent`s the live agent emitted, at its recorded timing.

`SessionReplay` reads a session file (or a `LoadedSession`) and rebuilds the event stream:

| record | events |
|---|---|
| `user_message` | `TurnStarted` |
| `frame` sent | `Reconnecting` (when it retries an abandoned request), then `ResponseStarted` (its transport, incremental, reason and items sent come from the request's `response_stats`) |
| `frame` received | `TextDelta`, `ReasoningDelta`, `ToolCallStarted`, `ToolCallReady`, decoded with `agent.wire` and mapped by `agent.events.streamed_event`, as in the live loop |
| `response_stats` | `ResponseFinished` |
| `approval_request`, `approval` | `ApprovalRequested`, `ApprovalDecided` |
| `tool_result` | `ToolFinished` |
| `transport_changed`, `reconnecting` | `TransportChanged`, `Reconnecting` |
| `turn_ended` | `AgentError` (for `reason="error"`), then `TurnEnded` |
| `session_resumed` | `Notice` |

Warm-up requests (`generate: false`) emit nothing, as live. A tool call that has no recorded
result (the process died) becomes `ToolFinished(status="aborted")` with
`REPLAY_INTERRUPTED_OUTPUT`, and a turn the log does not end gets a `TurnEnded(reason="cancelled")`
with `INTERRUPTED_TURN_MESSAGE`, so a viewer never waits on a turn that cannot finish.

What the log does not hold is approximated. It has no record of a retry, so a request sent
again before the first one finished yields a `Reconnecting` whose `cause` is the error code the
server sent, else `connection_lost`, and whose `delay_s` is the recorded gap (`reconnecting`
records, when present, are used instead of this guess). An abandoned request's
`ResponseStarted` is read from its frame: its `reason` is "not recorded" unless the log implies
it (first request, resumed session, transport changed, a server error code). An `AgentError`'s
`code` is the last error code the server sent in that turn. `ToolFinished.display` is None
unless the record carries `display`.

Replay only reads: it never runs a tool, opens a connection or writes a file.

Timing: each event waits the recorded gap since the previous event (records carry
`time.monotonic()` seconds), shortened to `max_gap_s` (2 s by default, so a user's reading,
typing or approval think time, or the days between a session and its resumption, do not stall
playback), then divided by the speed. Pausing holds the next event; changing the speed or
pausing takes effect in the middle of a wait.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from agent.approvals import ApprovalRequest
from agent.events import (
    AgentError,
    AgentEvent,
    ApprovalDecided,
    ApprovalRequested,
    MessageCompleted,
    Notice,
    OutputDiscarded,
    Reconnecting,
    ResponseFinished,
    ResponseStarted,
    ToolFinished,
    TransportChanged,
    TurnEnded,
    TurnStarted,
    streamed_event,
)
from agent.resume import frame_event
from agent.session_log import LoadedSession, load_session
from agent.stats import ResponseStats, TurnStats
from agent.wire.errors import ErrorEvent
from agent.wire.event_types import COMMITTED_TERMINALS, ERROR, TOOL_ITEM_TYPES
from agent.wire.items import Item, assistant_text

_ITEMS: TypeAdapter[list[Item]] = TypeAdapter(list[Item])

__all__ = [
    "DEFAULT_MAX_GAP_S",
    "INTERRUPTED_TURN_MESSAGE",
    "MAX_SPEED",
    "MIN_SPEED",
    "REPLAY_INTERRUPTED_OUTPUT",
    "SessionReplay",
    "TimedEvent",
    "replay_timeline",
]

REPLAY_INTERRUPTED_OUTPUT = "interrupted — outcome unknown, not re-run"
"""The output shown for a tool call whose result was never recorded."""

INTERRUPTED_TURN_MESSAGE = "The session log ends here: the turn was interrupted before it finished."
"""The message of the `TurnEnded` given to a turn the log does not end."""

MIN_SPEED = 0.25
MAX_SPEED = 64.0
DEFAULT_MAX_GAP_S = 2.0
"""Recorded gaps longer than this (user think time) are shortened to it before the speed applies."""

_IMMEDIATE_RETRIES = frozenset({"previous_response_not_found", "websocket_connection_limit_reached"})
"""Error codes the client retries at once without counting an attempt (see `ModelClient`)."""


@dataclass(frozen=True, slots=True)
class TimedEvent:
    """One replayed event and when it happened."""

    at: float | None
    """The record's `time.monotonic()` timestamp, from the process that wrote it."""
    gap_s: float
    """Recorded seconds since the previous event (never negative; not yet capped or scaled)."""
    event: AgentEvent


def replay_timeline(loaded: LoadedSession) -> tuple[list[TimedEvent], list[str]]:
    """Rebuild the events of a loaded session, without waiting.

    Returns:
        The events with their recorded times, and one warning per record that could not be
        replayed (skipped: the file is untrusted input).
    """
    builder = _Timeline(loaded.records)
    builder.build()
    return builder.out, builder.warnings


class SessionReplay:
    """Plays a saved session as `AgentEvent`s, at its recorded pace or faster.

    Args:
        source: A session file or an already loaded session.
        speed: Playback speed factor, clamped to `MIN_SPEED`–`MAX_SPEED`.
        instant: Yield every event without waiting (can be switched on while playing).
        max_gap_s: The longest recorded gap honoured; longer ones are shortened to it.
        sleep: Awaited with each scaled delay instead of the built-in wait (for tests); a
            speed change then applies from the next event rather than mid-wait.

    Raises:
        SessionLogError: `source` is a path that cannot be read as a session.
    """

    def __init__(
        self,
        source: Path | str | LoadedSession,
        *,
        speed: float = 1.0,
        instant: bool = False,
        max_gap_s: float = DEFAULT_MAX_GAP_S,
        sleep: Callable[[float], Awaitable[Any]] | None = None,
    ) -> None:
        self.loaded = source if isinstance(source, LoadedSession) else load_session(Path(source))
        self.timeline, skipped = replay_timeline(self.loaded)
        self.warnings: list[str] = [*self.loaded.warnings, *skipped]
        """Lines the loader dropped and records replay skipped."""
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
        return self.loaded.header

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
        return len(self.timeline)

    def delay_for(self, gap_s: float) -> float:
        """The wall-clock seconds a recorded gap takes at the current settings."""
        if self._instant:
            return 0.0
        return min(max(gap_s, 0.0), self.max_gap_s) / self._speed

    async def events(self) -> AsyncIterator[AgentEvent]:
        """Yield the session's events in order, each after its (capped, scaled) recorded gap."""
        self._position = 0
        for index, timed in enumerate(self.timeline):
            await self._wait(timed.gap_s)
            self._position = index + 1
            yield timed.event

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


def _clamp(speed: float) -> float:
    return min(MAX_SPEED, max(MIN_SPEED, float(speed)))


class _Timeline:
    """Folds session records into timed events (see the module docstring for the mapping)."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records
        self.out: list[TimedEvent] = []
        self.warnings: list[str] = []
        self.now: float | None = None
        self.last: float | None = None
        self.turn: int | None = None
        self.last_turn = 0
        self.turn_started: float | None = None
        self.responses: list[ResponseStats] = []
        self.unanswered: dict[str, str] = {}
        """call_id → name of the open turn's tool calls that have no `ToolFinished` yet."""
        self.attempt_open = False
        self.attempt_items: list[dict[str, Any]] = []
        self.attempt_streamed = False
        self.message_text = ""
        self.retries = 0
        self.covered_retry = False
        """A `transport_changed` or `reconnecting` record already explains the next request."""
        self.warm_up = False
        self.error_code: str | None = None
        """The last error code the server sent in the open turn."""
        self.attempt_error: str | None = None
        self.full_reason: str | None = "first request"
        """Why the next full resend happens, where the records tell (see `Conversation`)."""
        self.explicit_retries = any(record.get("type") == "reconnecting" for record in records)

    def build(self) -> None:
        for index, record in enumerate(self.records):
            t = record.get("t")
            if isinstance(t, int | float) and not isinstance(t, bool):
                self.now = float(t)
            try:
                self.feed(index, record)
            except (ValidationError, TypeError, ValueError, AttributeError, KeyError) as exc:
                first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                self.warnings.append(
                    f"replay skipped record seq {record.get('seq')} ({record.get('type')}): {first_line}"
                )
        self.close_turn()

    def emit(self, event: AgentEvent) -> None:
        gap = 0.0
        if self.now is not None and self.last is not None:
            gap = self.now - self.last
            if gap < -1.0:  # a clock from another process (a resumed session): start afresh
                self.last = self.now
        if self.now is not None and (self.last is None or self.now > self.last):
            self.last = self.now
        self.out.append(TimedEvent(self.now, max(gap, 0.0), event))

    def feed(self, index: int, record: dict[str, Any]) -> None:
        kind = record.get("type")
        fields = {key: value for key, value in record.items() if key not in ("v", "seq", "t", "type")}
        if kind == "user_message":
            self.open_turn(record)
        elif kind == "frame":
            self.frame(index, record)
        elif kind == "session_resumed":
            self.close_turn()
            self.last, self.full_reason = None, "resumed session"
            turns = record.get("turns")
            self.emit(
                Notice(message=f"Session resumed after turn {turns}." if isinstance(turns, int) else "Session resumed.")
            )
        elif kind == "transport_changed":
            self.discard("transport changed")
            self.emit(TransportChanged(transport=str(record.get("transport")), reason=str(record.get("reason"))))
            self.covered_retry, self.retries, self.full_reason = True, 0, "transport changed"
        elif kind == "reconnecting":
            self.discard(str(record.get("cause")))
            self.emit(Reconnecting.model_validate(fields))
            self.covered_retry = True
        elif kind == "response_stats":
            stats = ResponseStats.model_validate(record)
            self.attempt_open, self.retries, self.full_reason = False, 0, None
            self.responses.append(stats)
            if self.message_text:
                self.emit(MessageCompleted(text=self.message_text))
                self.message_text = ""
            self.emit(ResponseFinished(stats=stats))
        elif kind == "tool_intent":
            self.unanswered.setdefault(str(record.get("call_id")), str(record.get("name")))
        elif kind == "approval_request":
            self.emit(ApprovalRequested(request=ApprovalRequest.model_validate(fields)))
        elif kind == "approval":
            self.emit(ApprovalDecided.model_validate(fields))
        elif kind == "tool_result":
            finished = ToolFinished.model_validate(fields)
            self.unanswered.pop(finished.call_id, None)
            self.emit(finished)
        elif kind == "turn_ended":
            self.end_turn(record)

    def open_turn(self, record: dict[str, Any]) -> None:
        self.close_turn()
        number = record.get("turn")
        if not isinstance(number, int) or isinstance(number, bool):
            number = self.last_turn + 1
        text = record.get("text")
        self.turn, self.last_turn, self.turn_started = number, number, self.now
        self.responses, self.unanswered, self.error_code = [], {}, None
        self.attempt_open, self.retries, self.covered_retry = False, 0, False
        self.emit(TurnStarted(turn=number, prompt=text if isinstance(text, str) else ""))

    def end_turn(self, record: dict[str, Any]) -> None:
        message = record.get("message")
        ended = TurnEnded(
            reason=record.get("reason"),
            stats=TurnStats.model_validate(record.get("stats")),
            message=message if isinstance(message, str) else None,
        )
        if ended.reason == "error":
            self.emit(AgentError(message=ended.message or "The turn ended with an error.", code=self.error_code))
        self.emit(ended)
        self.turn, self.unanswered = None, {}

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

    def frame(self, index: int, record: dict[str, Any]) -> None:
        event = frame_event(record)
        if event is None:
            return
        if record.get("dir") == "sent":
            self.request(index, event)
            return
        if self.warm_up:
            return
        kind = event["type"]
        translated = streamed_event(event)
        if translated is not None:
            self.attempt_streamed = True
            self.emit(translated)
        if kind == "response.output_item.done":
            self.attempt_items.append(event.get("item") or {})
        if kind in COMMITTED_TERMINALS:
            response = event.get("response") or {}
            with contextlib.suppress(ValidationError):
                self.message_text = assistant_text(_ITEMS.validate_python(response.get("output") or self.attempt_items))
            if response.get("id"):
                for item in response.get("output") or self.attempt_items:
                    if isinstance(item, dict) and item.get("type") in TOOL_ITEM_TYPES:
                        self.unanswered.setdefault(str(item.get("call_id")), str(item.get("name")))
        elif kind == ERROR:
            with contextlib.suppress(ValidationError):
                code = ErrorEvent.model_validate(event).error_code
                if code:
                    self.error_code = self.attempt_error = code

    def discard(self, cause: str) -> None:
        """Before a retry: the abandoned attempt's shown output is dropped (as live)."""
        if self.attempt_streamed:
            self.attempt_streamed = False
            self.emit(OutputDiscarded(cause=cause))

    def request(self, index: int, body: dict[str, Any]) -> None:
        self.warm_up = body.get("generate") is False
        if self.warm_up:
            return
        if self.attempt_open and not self.covered_retry and not self.explicit_retries:
            cause = self.attempt_error or "connection_lost"
            gap = self.now - self.last if self.now is not None and self.last is not None else 0.0
            self.discard(cause)
            if cause not in _IMMEDIATE_RETRIES:
                self.retries += 1
            delay = 0.0 if cause in _IMMEDIATE_RETRIES else round(max(gap, 0.0), 3)
            self.emit(Reconnecting(attempt=self.retries, delay_s=delay, cause=cause))
            self.full_reason = self.attempt_error
        self.covered_retry, self.attempt_open, self.attempt_items, self.attempt_error = False, True, [], None
        self.attempt_streamed, self.message_text = False, ""
        plan = self.plan(index, body)
        self.emit(ResponseStarted(step=len(self.responses) + 1, **plan))

    def plan(self, index: int, body: dict[str, Any]) -> dict[str, Any]:
        """The request's plan: from its `response_stats`, else read from the request itself."""
        for record in self.records[index + 1 :]:
            kind = record.get("type")
            if kind == "response_stats":
                with contextlib.suppress(ValidationError):
                    stats = ResponseStats.model_validate(record)
                    return {
                        "transport": stats.transport,
                        "incremental": stats.incremental,
                        "reason": stats.reason,
                        "items_sent": stats.items_sent,
                    }
                break
            if kind in ("user_message", "turn_ended", "session_resumed") or (
                kind == "frame" and record.get("dir") == "sent"
            ):
                break
        incremental = bool(body.get("previous_response_id"))
        items = body.get("input")
        return {
            "transport": "websocket" if body.get("type") == "response.create" else "http",
            "incremental": incremental,
            "reason": "incremental" if incremental else self.full_reason or "not recorded",
            "items_sent": len(items) if isinstance(items, list) else int(items is not None),
        }
