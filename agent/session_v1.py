"""Reading version-1 session files: raw frames and hand-named records, converted to entries.

Version 1 of the format (codeassist before the session record stored agent events) kept every
WebSocket frame or SSE event as it crossed the wire, plus records named by hand. `v1_entries`
rebuilds from them the entries a version-2 file holds (see `agent.session_record`), so replay,
resume, export and listing read both versions the same way:

| v1 record | entries |
|---|---|
| `user_message` | the user message item, then `TurnStarted` |
| `frame` sent | `Reconnecting` (when it retries an abandoned request), then `ResponseStarted` (its transport, incremental, reason and items sent come from the request's `response_stats`) |
| `frame` received | `TextDelta`, `ReasoningDelta`, `ToolCallStarted`, `ToolCallReady` (mapped by `agent.events.streamed_event`, as in the live loop); the output items of a committed response (`response.completed`, `response.incomplete` or the legacy `response.done` with an id) |
| `response_stats` | `ResponseFinished` |
| `approval_request`, `approval` | `ApprovalRequested`, `ApprovalDecided` |
| `tool_result` | the tool's output item, then `ToolFinished` |
| `transport_changed`, `reconnecting` | `TransportChanged`, `Reconnecting` |
| `turn_ended` | `AgentError` (for `reason="error"`), then `TurnEnded` |
| `session_resumed` | a resumption |

Warm-up requests (`generate: false`) add nothing. What the log does not hold is approximated:
it has no record of a retry, so a request sent again before the first one finished yields a
`Reconnecting` whose `cause` is the error code the server sent, else `connection_lost`, and
whose `delay_s` is the recorded gap (`reconnecting` records, when present, are used instead).
An abandoned request's `ResponseStarted` is read from its frame: its `reason` is "not recorded"
unless the log implies it (first request, resumed session, transport changed, a server error
code). An `AgentError`'s `code` is the last error code the server sent in that turn.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from pydantic import ValidationError

from agent.approvals import ApprovalRequest
from agent.events import (
    AgentError,
    AgentEvent,
    ApprovalDecided,
    ApprovalRequested,
    MessageCompleted,
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
from agent.session_record import Entry, EventEntry, ItemsEntry, ResumedEntry, validated_items
from agent.stats import ResponseStats, TurnStats
from agent.wire import FrameDecodeError, decode_frame, user_message
from agent.wire.checked import check_event
from agent.wire.errors import ErrorEvent
from agent.wire.event_types import COMMITTED_TERMINALS, ERROR, TOOL_ITEM_TYPES
from agent.wire.items import assistant_text

__all__ = ["frame_event", "v1_entries"]

_IMMEDIATE_RETRIES = frozenset({"previous_response_not_found", "websocket_connection_limit_reached"})
"""Error codes the client retries at once without counting an attempt (see `ModelClient`)."""


def v1_entries(records: list[dict[str, Any]], warnings: list[str]) -> Iterator[Entry]:
    """The entries of a version-1 session's records (after its header), in order.

    Records that cannot be converted are skipped, with a message appended to `warnings`.
    """
    converter = _Converter(records)
    for index, record in enumerate(records):
        t = record.get("t")
        if isinstance(t, int | float) and not isinstance(t, bool):
            converter.now = float(t)
        try:
            converter.feed(index, record)
        except (ValidationError, TypeError, ValueError, AttributeError, KeyError) as exc:
            first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            warnings.append(f"replay skipped record seq {record.get('seq')} ({record.get('type')}): {first_line}")
        yield from converter.out
        converter.out.clear()


def frame_event(record: dict[str, Any]) -> dict[str, Any] | None:
    """The decoded event or request of a `frame` record, or None when it is unreadable."""
    data = record.get("data")
    if isinstance(data, dict):
        return data if isinstance(data.get("type"), str) or record.get("dir") == "sent" else None
    text = record.get("data_text")
    if isinstance(text, str):
        with contextlib.suppress(FrameDecodeError):
            return decode_frame(text)
    return None


class _Converter:
    """Folds v1 records into entries (see the module docstring for the mapping)."""

    def __init__(self, records: list[dict[str, Any]]) -> None:
        self.records = records
        self.out: list[Entry] = []
        self.now: float | None = None
        self.last: float | None = None
        """The time of the latest event (a clock from another process starts afresh)."""
        self.last_turn = 0
        self.has_turn = False
        """A user message opened a turn whose items are still being collected."""
        self.in_turn = False
        self.responses = 0
        self.attempt_open = False
        self.attempt_items: list[dict[str, Any]] = []
        self.attempt_streamed = False
        """The open attempt has shown output (a retry then discards it, as live)."""
        self.message_text = ""
        """The assistant text of the response that just ended, for its `MessageCompleted`."""
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
        self.call_types: dict[str, str] = {}
        """call_id → item type of the committed calls of the open turn."""

    def emit(self, event: AgentEvent) -> None:
        if self.now is not None and (self.last is None or self.now > self.last or self.now < self.last - 1.0):
            self.last = self.now
        self.out.append(EventEntry(self.now, event))

    def add_items(self, items: list[dict[str, Any]]) -> None:
        if items:
            self.out.append(ItemsEntry(self.now, items))

    def feed(self, index: int, record: dict[str, Any]) -> None:
        kind = record.get("type")
        fields = {key: value for key, value in record.items() if key not in ("v", "seq", "t", "type")}
        if kind == "user_message":
            self.open_turn(record)
        elif kind == "frame":
            self.frame(index, record)
        elif kind == "session_resumed":
            self.in_turn, self.has_turn, self.full_reason = False, False, "resumed session"
            self.last = None
            self.out.append(ResumedEntry(self.now, fields))
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
            self.responses += 1
            if self.message_text:
                self.emit(MessageCompleted(text=self.message_text))
                self.message_text = ""
            self.emit(ResponseFinished(stats=stats))
        elif kind == "approval_request":
            self.emit(ApprovalRequested(request=ApprovalRequest.model_validate(fields)))
        elif kind == "approval":
            self.emit(ApprovalDecided.model_validate(fields))
        elif kind == "tool_result":
            call_id = str(record.get("call_id"))
            if self.has_turn:
                output = record.get("output")
                output_type = (
                    "custom_tool_call_output"
                    if self.call_types.get(call_id) == "custom_tool_call"
                    else "function_call_output"
                )
                self.add_items(
                    [{"type": output_type, "call_id": call_id, "output": output if isinstance(output, str) else ""}]
                )
            self.emit(ToolFinished.model_validate(fields))
        elif kind == "turn_ended":
            self.end_turn(record)

    def open_turn(self, record: dict[str, Any]) -> None:
        number = record.get("turn")
        if not isinstance(number, int) or isinstance(number, bool):
            number = self.last_turn + 1
        text = record.get("text")
        text = text if isinstance(text, str) else ""
        self.last_turn, self.in_turn, self.has_turn, self.responses, self.error_code = number, True, True, 0, None
        self.attempt_open, self.retries, self.covered_retry = False, 0, False
        self.call_types = {}
        self.add_items([user_message(text).model_dump(mode="json")])
        self.emit(TurnStarted(turn=number, prompt=text))

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
        self.in_turn = False

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
        check_event(event)  # a malformed event is skipped with a warning, as live it ends the response
        translated = streamed_event(event)
        if translated is not None:
            self.attempt_streamed = True
            self.emit(translated)
        if kind == "response.output_item.done" and isinstance(event.get("item"), dict):
            self.attempt_items.append(event["item"])
        if kind in COMMITTED_TERMINALS:
            response = event.get("response") or {}
            with contextlib.suppress(ValidationError):
                self.message_text = assistant_text(validated_items(response.get("output") or self.attempt_items))
            if response.get("id") and self.has_turn:
                output = [
                    item.model_dump(mode="json")
                    for item in validated_items(response.get("output") or self.attempt_items)
                ]
                for item in output:
                    if item.get("type") in TOOL_ITEM_TYPES:
                        self.call_types[str(item.get("call_id"))] = str(item["type"])
                self.add_items(output)
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
        self.attempt_items = []
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
        self.covered_retry, self.attempt_open, self.attempt_error = False, True, None
        self.attempt_streamed, self.message_text = False, ""
        plan = self.plan(index, body)
        self.emit(ResponseStarted(step=self.responses + 1, **plan))

    def plan(self, index: int, body: dict[str, Any]) -> dict[str, Any]:
        """The request's plan: from its `response_stats`, else read from the request itself."""
        records = self.records
        for position in range(index + 1, len(records)):
            record = records[position]
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
