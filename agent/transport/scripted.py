"""`ScriptedTransport`: an in-process transport that plays scripted responses, no sockets.

Each request takes the next entry of the script: a list of event dicts, streamed as they are,
or a `ScriptedFailure` that streams some events and then raises a `TransportError` (a dropped
socket, a stall, a refused upgrade). `response_events` builds the event list a Responses server
would send for given output items, so a script reads like the conversation it plays.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from agent.transport.base import FrameHook, ProtocolViolation, StreamMetrics, TransportAborted, TransportError
from agent.wire.fast import FrameDecodeError, decode_frame


@dataclass
class ScriptedFailure:
    """An attempt that streams `events`, then fails with `error`."""

    error: TransportError
    events: list[dict[str, Any]] = field(default_factory=list)


ScriptEntry = list[dict[str, Any]] | ScriptedFailure
"""What one request gets: its events, or a failure after some events."""


class ScriptedTransport:
    """A `Transport` that answers each request with the next scripted entry.

    Args:
        script: one entry per request, in order (more can be added with `add`).
        name: `websocket` (a failure other than an `error` event "drops the socket": the next
            request opens generation + 1) or `http` (one generation for good).
        pause_s: awaited before each event (0 still yields to the event loop), so a test can
            cancel mid-stream.
        on_frame: called with every body sent and event received, like the real transports.

    Attributes:
        requests: every body sent, in order.
    """

    def __init__(
        self,
        script: Iterable[ScriptEntry] = (),
        *,
        name: Literal["websocket", "http"] = "websocket",
        pause_s: float = 0.0,
        on_frame: FrameHook | None = None,
    ) -> None:
        self.name = name
        self.generation = 1 if name == "http" else 0
        self.max_age = 0.0
        self.pause_s = pause_s
        self.on_frame = on_frame
        self.requests: list[dict[str, Any]] = []
        self.closed = False
        self._script: deque[ScriptEntry] = deque(script)
        self._connected = name == "http"
        self._aborted = False

    def add(self, *entries: ScriptEntry) -> None:
        """Append entries to the script."""
        self._script.extend(entries)

    @property
    def remaining(self) -> int:
        """Entries not played yet."""
        return len(self._script)

    async def prepare(self, metrics: StreamMetrics, *, turn_start: bool) -> None:
        """ "Open" a connection when there is none (a new generation)."""
        if not self._connected:
            self._connected = True
            self.generation += 1
            metrics.connect_s = 0.0

    def age(self) -> float:
        return 0.0

    async def stream(self, body: dict[str, Any], metrics: StreamMetrics) -> AsyncGenerator[dict[str, Any], None]:
        """Record `body` and play the next script entry."""
        metrics.transport = self.name
        metrics.connection = "http" if self.name == "http" else f"ws-{self.generation}"
        sent = orjson.dumps({"type": "response.create", **body})
        metrics.mark_sent(len(sent))
        if self.on_frame is not None:
            self.on_frame("sent", sent, metrics.sent_at or 0.0)
        self.requests.append(body)
        self._aborted = False
        if not self._script:
            error = TransportError("The script has no response left for this request.", cause="script_exhausted")
            error.retryable = False
            raise error
        entry = self._script.popleft()
        events, failure = (entry.events, entry.error) if isinstance(entry, ScriptedFailure) else (entry, None)
        for event in events:
            await asyncio.sleep(self.pause_s)
            if self._aborted:
                raise TransportAborted("The response was abandoned.")
            raw = orjson.dumps(event)
            metrics.bytes_received += len(raw)
            metrics.events += 1
            if self.on_frame is not None:
                self.on_frame("received", raw, 0.0)
            try:
                yield decode_frame(raw)  # what the real transports yield: a dict with a string `type`
            except FrameDecodeError as exc:
                raise ProtocolViolation(f"The server sent an invalid event: {exc}") from None
        if failure is not None:
            if self.name != "http":
                self._connected = False
            raise failure

    async def abort(self) -> None:
        """Abandon the response in flight (its next event raises `TransportAborted`)."""
        self._aborted = True
        if self.name != "http":
            self._connected = False

    async def close(self) -> None:
        self.closed = True
        if self.name != "http":
            self._connected = False


_ids = itertools.count(1)


def message(text: str) -> dict[str, Any]:
    """An assistant message item with one output text part."""
    return {
        "type": "message",
        "id": f"msg_{next(_ids)}",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def function_call(name: str, call_id: str, arguments: dict[str, Any] | str = "{}") -> dict[str, Any]:
    """A function call item (`arguments` as a dict or as JSON text)."""
    text = arguments if isinstance(arguments, str) else orjson.dumps(arguments).decode()
    return {
        "type": "function_call",
        "id": f"fc_{next(_ids)}",
        "call_id": call_id,
        "name": name,
        "arguments": text,
        "status": "completed",
    }


def response_events(
    *items: dict[str, Any],
    status: Literal["completed", "incomplete", "failed"] = "completed",
    response_id: str | None = None,
    error: dict[str, Any] | None = None,
    chunk: int = 8,
) -> list[dict[str, Any]]:
    """The events a Responses server streams for `items`: created, per item added / deltas /
    done, then the terminal event with the output and a usage block."""
    response_id = response_id or f"resp_{next(_ids)}"
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": {"id": response_id, "status": "in_progress", "output": []}}
    ]
    for index, item in enumerate(items):
        if item["type"] == "message":
            events.append(
                {"type": "response.output_item.added", "output_index": index, "item": {**item, "content": []}}
            )
            text = "".join(part.get("text", "") for part in item["content"])
            events += [
                {"type": "response.output_text.delta", "item_id": item["id"], "output_index": index, "delta": piece}
                for piece in (text[i : i + chunk] for i in range(0, len(text), chunk))
            ]
        elif item["type"] == "function_call":
            events.append(
                {"type": "response.output_item.added", "output_index": index, "item": {**item, "arguments": ""}}
            )
            events.append(
                {
                    "type": "response.function_call_arguments.delta",
                    "item_id": item["id"],
                    "output_index": index,
                    "delta": item["arguments"],
                }
            )
        events.append({"type": "response.output_item.done", "output_index": index, "item": item})
    response: dict[str, Any] = {
        "id": response_id,
        "status": status,
        "output": list(items),
        "usage": {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15},
    }
    if status == "incomplete":
        response["incomplete_details"] = {"reason": "max_output_tokens"}
    if status == "failed":
        response["error"] = error or {"code": "server_error", "message": "The model failed."}
    events.append({"type": f"response.{status}", "response": response})
    return [{**event, "sequence_number": number} for number, event in enumerate(events)]
