"""What the server received (`/_codeassist/received`): a ring bounded in bytes, oldest dropped first.

Each request is kept as the bytes that arrived and decoded only when read, so the memory it
takes is the byte total the ring reports.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

ENTRY_OVERHEAD_BYTES = 256
"""What one kept request costs besides its body (counted so that many tiny requests are bounded too)."""


@dataclass(frozen=True)
class ReceivedRequest:
    """One request as the server received it (for tests, benchmarks and debugging)."""

    connection: str
    transport: Literal["websocket", "http"]
    at: float
    """`time.monotonic()` when it arrived."""
    size: int
    """Bytes of the frame or body."""
    raw: bytes | None = field(default=None, repr=False)
    """The JSON object as received; None when it was not one, or too large to keep."""

    @property
    def body(self) -> dict[str, Any] | None:
        """The decoded JSON object; None when it was not one (or was too large to keep)."""
        if self.raw is None:
            return None
        data = orjson.loads(self.raw)
        return data if isinstance(data, dict) else None

    @property
    def cost(self) -> int:
        """Bytes this entry counts for in the ring."""
        return ENTRY_OVERHEAD_BYTES + (len(self.raw) if self.raw is not None else 0)

    def as_json(self) -> dict[str, Any]:
        return {
            "connection": self.connection,
            "transport": self.transport,
            "at": self.at,
            "size": self.size,
            "body": self.body,
        }


@dataclass(frozen=True)
class ReceivedStats:
    """The ring's figures, as `/_codeassist/received` and `/_codeassist/health` report them."""

    kept: int
    bytes: int
    max_bytes: int
    dropped: int
    """Requests dropped (oldest first) to stay under `max_bytes` since the last clear."""
    bodies_dropped: int
    """Requests kept without their body because the body alone was over `max_bytes`."""

    def as_json(self) -> dict[str, int]:
        return {
            "kept": self.kept,
            "bytes": self.bytes,
            "max_bytes": self.max_bytes,
            "dropped": self.dropped,
            "bodies_dropped": self.bodies_dropped,
        }

    def headers(self) -> dict[str, str]:
        return {
            "X-Codeassist-Received-Kept": str(self.kept),
            "X-Codeassist-Received-Bytes": str(self.bytes),
            "X-Codeassist-Received-Max-Bytes": str(self.max_bytes),
            "X-Codeassist-Received-Dropped": str(self.dropped),
            "X-Codeassist-Received-Bodies-Dropped": str(self.bodies_dropped),
        }


class ReceivedLog:
    """The requests received, newest last, holding at most `max_bytes` (thread-safe).

    Reads like a sequence: iterate it, index it (`log[-1]`), take its `len`.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: deque[ReceivedRequest] = deque()
        self._bytes = 0
        self._dropped = 0
        self._bodies_dropped = 0
        self._lock = threading.Lock()

    def append(self, entry: ReceivedRequest) -> None:
        """Keep `entry`, dropping the oldest entries until the ring fits in `max_bytes`."""
        with self._lock:
            if entry.cost > self.max_bytes and entry.raw is not None:
                entry = ReceivedRequest(entry.connection, entry.transport, entry.at, entry.size)
                self._bodies_dropped += 1
            while self._entries and self._bytes + entry.cost > self.max_bytes:
                self._bytes -= self._entries.popleft().cost
                self._dropped += 1
            if entry.cost > self.max_bytes:  # a cap smaller than one entry keeps nothing
                self._dropped += 1
                return
            self._entries.append(entry)
            self._bytes += entry.cost

    def clear(self) -> None:
        """Forget every entry and reset the counts."""
        with self._lock:
            self._entries.clear()
            self._bytes = self._dropped = self._bodies_dropped = 0

    def stats(self) -> ReceivedStats:
        """The ring's figures now."""
        return self.snapshot()[1]

    def snapshot(self) -> tuple[list[ReceivedRequest], ReceivedStats]:
        """The entries and the figures, taken together."""
        with self._lock:
            stats = ReceivedStats(len(self._entries), self._bytes, self.max_bytes, self._dropped, self._bodies_dropped)
            return list(self._entries), stats

    def __iter__(self) -> Iterator[ReceivedRequest]:
        with self._lock:
            return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def __getitem__(self, index: int) -> ReceivedRequest:
        with self._lock:
            return self._entries[index]
