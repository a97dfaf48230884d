"""Fault injection: make every failure a client must survive happen on demand.

Faults come from the scenario file (`"faults": [...]`), from `codeassist serve --fault JSON`, or
at run time (`POST /_codeassist/faults`, or `ServerState.faults.add` in-process). Each fires at
most `times` times (0 means every time) and then stays quiet, so a client that reconnects and
resends gets a normal answer.
"""

from __future__ import annotations

import threading
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RESPONSE_FAULTS = frozenset({"close", "error", "stall", "oversize", "malformed"})


class Fault(BaseModel):
    """One injected failure.

    Kinds:
    - `reject_upgrade`: answer the WebSocket handshake with HTTP `status` (401, 426, 429, …) and
      `Retry-After: retry_after` when given.
    - `close`: close the socket (or end the SSE body) after `after_events` events of a response,
      with WebSocket close code `close_code`.
    - `error`: after `after_events` events, send the `error` event `error` (default: a 500
      `server_error`) instead of the rest of the response.
    - `stall`: after `after_events` events send nothing more while still answering pings.
    - `oversize`: after `after_events` events send one extra event padded to `size_bytes`.
    - `malformed`: after `after_events` events send one frame that is not JSON.
    - `forget`: drop the connection's cached response before resolving `previous_response_id`,
      as if the server had lost it (`previous_response_not_found` for `store:false`).
    """

    model_config = ConfigDict(extra="forbid")

    kind: Literal["reject_upgrade", "close", "error", "stall", "oversize", "malformed", "forget"]
    turn: int | None = None
    """Scripted turn (0-based) the fault applies to; None applies to any generating response."""
    transport: Literal["websocket", "http"] | None = None
    """Only responses over this transport; None applies to both."""
    after_events: int = Field(default=0, ge=0)
    """Events of the response sent before the fault fires."""
    times: int = Field(default=1, ge=0)
    """How many times the fault fires; 0 means every time."""
    status: int = Field(default=500, ge=100, le=599)
    retry_after: float | None = Field(default=None, ge=0)
    error: dict[str, Any] | None = None
    close_code: int = Field(default=1011, ge=1000, le=4999)
    size_bytes: int = Field(default=2 * 1024 * 1024, ge=1)

    def error_event(self) -> dict[str, Any]:
        """The `error` event an `error` fault sends (nested WebSocket shape)."""
        if self.error is not None:
            return {"type": "error", **self.error}
        return {
            "type": "error",
            "status": 500,
            "error": {
                "type": "server_error",
                "code": "server_error",
                "message": "Injected fault: the server had an error while processing the request.",
                "param": None,
            },
        }


class FaultPlan:
    """The faults still armed, shared by every connection of one server (thread-safe)."""

    def __init__(self, faults: list[Fault] | None = None) -> None:
        self._lock = threading.Lock()
        self._armed: list[list[Any]] = []
        for fault in faults or []:
            self.add(fault)

    def add(self, fault: Fault) -> None:
        """Arm one more fault."""
        with self._lock:
            self._armed.append([fault, fault.times])

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._armed.clear()

    def take(
        self, kinds: frozenset[str] | set[str], turn: int | None = None, transport: str | None = None
    ) -> Fault | None:
        """Fire the first armed fault of one of `kinds` matching `turn` and `transport`."""
        with self._lock:
            for entry in self._armed:
                fault: Fault = entry[0]
                remaining: int = entry[1]
                if fault.kind not in kinds:
                    continue
                if fault.turn is not None and fault.turn != turn:
                    continue
                if fault.transport is not None and transport is not None and fault.transport != transport:
                    continue
                if fault.times == 0:
                    return fault
                if remaining > 0:
                    entry[1] = remaining - 1
                    return fault
        return None
