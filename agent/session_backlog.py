"""What a session log holds in memory while it cannot write (a full disk), and what it gives up.

A `SessionLog` buffers records and writes them at each flush. When the disk is full the flush
fails and the records stay buffered for the next one, so nothing is lost while space returns in
time. `Backlog` keeps that buffer bounded: past `limit` bytes it first drops the buffered
records that only replay needs (`DROPPABLE`: streamed text and reasoning, live tool output, raw
frames; the final text of every response is in its `message_completed` and its items). When that
is not enough, the log refuses records until the backlog was written and a new turn starts, so
the file never holds part of a turn's conversation without the rest. Everything given up is
counted and written as one `log_gap` record where the records are missing
(docs/session-format.md).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from agent.session_scan import record_type

__all__ = ["DEFAULT_BACKLOG_LIMIT", "DROPPABLE", "LOG_GAP_RECORD", "Backlog", "describe_gap"]

LOG_GAP_RECORD = "log_gap"
"""Record type that says how many records of each type are missing before it."""

DEFAULT_BACKLOG_LIMIT = 8 * 1024 * 1024
"""Bytes of unwritten records a session log keeps in memory."""

DROPPABLE = frozenset({"text_delta", "reasoning_delta", "tool_output", "frame"})
"""Record types dropped first when the backlog is over its limit."""

_DROPPABLE_BYTES = frozenset(kind.encode() for kind in DROPPABLE)


class Backlog:
    """The bound on a log's unwritten records, and the count of what it had to give up.

    Args:
        limit: Bytes of unwritten records kept; over it, records are dropped or refused.
    """

    def __init__(self, limit: int = DEFAULT_BACKLOG_LIMIT) -> None:
        self.limit = limit
        self.lost: Counter[str] = Counter()
        """Record types given up since the last `log_gap` record, with their counts."""
        self.refusing = False
        """Records are refused until the backlog was written and a new turn starts."""

    def admit(self, pending: bytearray, keep: int, kind: str, boundary: bool) -> bool:
        """Whether a record of `kind` may join the unwritten lines `pending`.

        Over the limit, the droppable records of `pending` are taken out (in place; its first
        `keep` bytes, the rest of a line partly written, stay). When that leaves it over half
        the limit, this and later records are refused until one that starts a turn
        (`boundary`) comes while the backlog is under half the limit.
        """
        if self.refusing:
            if boundary and len(pending) <= self.limit // 2:
                self.refusing = False
                return True
            self.lost[kind] += 1
            return False
        if len(pending) <= self.limit:
            return True
        self.lost.update(drop_lines(pending, keep, _DROPPABLE_BYTES))
        if len(pending) <= self.limit // 2:
            return True
        self.refusing = True
        self.lost[kind] += 1
        return False

    def gap_fields(self) -> dict[str, Any] | None:
        """The fields of a `log_gap` record for what was given up since the last one (then
        forgotten), or None when nothing was."""
        if not self.lost:
            return None
        fields = {"records": sum(self.lost.values()), "types": dict(sorted(self.lost.items()))}
        self.lost.clear()
        return fields


def drop_lines(pending: bytearray, keep: int, kinds: frozenset[bytes]) -> Counter[str]:
    """Take the complete lines whose record type is one of `kinds` out of `pending` (after its
    first `keep` bytes), in place; the types taken, counted."""
    dropped: Counter[str] = Counter()
    kept = bytearray(pending[:keep])
    for line in bytes(pending[keep:]).split(b"\n")[:-1]:  # every buffered line ends with one
        kind = record_type(line)
        if kind is not None and kind in kinds:
            dropped[kind.decode()] += 1
        else:
            kept += line + b"\n"
    pending[:] = kept
    return dropped


def describe_gap(record: dict[str, Any]) -> str:
    """What a `log_gap` record says, in words (the record is untrusted input: odd fields are ignored)."""
    types = record.get("types")
    counted = (
        ", ".join(f"{count} {kind}" for kind, count in types.items() if isinstance(count, int))
        if isinstance(types, dict)
        else ""
    )
    records = record.get("records")
    amount = f"{records} records" if isinstance(records, int) and not isinstance(records, bool) else "records"
    return f"The session log lost {amount} here (the disk was full){': ' + counted if counted else ''}."
