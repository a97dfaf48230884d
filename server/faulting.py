"""Applies one armed `Fault` to a response's event stream, for either transport."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from server.faults import Fault


@dataclass(frozen=True)
class CloseConnection:
    """Close the socket (or end the SSE body) now, with this WebSocket close code."""

    code: int


@dataclass(frozen=True)
class StallConnection:
    """Send nothing more; keep the connection open (pings are still answered)."""


@dataclass(frozen=True)
class RawFrame:
    """Send this text as it is (not an event: used to send a frame that is not JSON)."""

    text: str


Action = dict[str, Any] | CloseConnection | StallConnection | RawFrame


def padding_event(size_bytes: int) -> dict[str, Any]:
    """An event of an unknown type padded so that its JSON is about `size_bytes` long."""
    overhead = len('{"type":"codeassist.padding","padding":""}')
    return {"type": "codeassist.padding", "padding": "x" * max(0, size_bytes - overhead)}


async def with_fault(events: AsyncIterator[dict[str, Any]], fault: Fault | None) -> AsyncIterator[Action]:
    """Yield the events, firing `fault` after `fault.after_events` of them.

    An `error` fault replaces the rest of the response with its error event; `close` and
    `stall` end the stream with the matching action; `oversize` inserts one padding event and
    `malformed` one frame that is not JSON.
    """
    sent = 0
    fired = False
    async for event in events:
        if fault is not None and not fired and sent == fault.after_events:
            fired = True
            action = _fire(fault)
            if action is not None:
                yield action
                if fault.kind not in ("oversize", "malformed"):
                    return
        yield event
        sent += 1
    if fault is not None and not fired and fault.kind in ("close", "oversize"):
        action = _fire(fault)
        if action is not None:
            yield action


def _fire(fault: Fault) -> Action | None:
    match fault.kind:
        case "close":
            return CloseConnection(fault.close_code)
        case "stall":
            return StallConnection()
        case "error":
            return fault.error_event()
        case "oversize":
            return padding_event(fault.size_bytes)
        case "malformed":
            return RawFrame('{"type": "response.output_text.delta", "delta": "unterminated')
    return None
