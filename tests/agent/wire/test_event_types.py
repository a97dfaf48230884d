"""The server event-type sets: one definition, and every reader uses it."""

from __future__ import annotations

from pathlib import Path

from agent.wire import event_types, fast
from agent.wire.event_types import (
    ARGUMENT_DELTAS,
    COMMITTED_TERMINALS,
    FIRST_TOKEN_EVENTS,
    REASONING_DELTAS,
    STREAM_ENDS,
    TERMINALS,
    TEXT_DELTAS,
)

ROOT = Path(__file__).resolve().parents[3]


def test_the_sets_relate_as_documented():
    assert FIRST_TOKEN_EVENTS == TEXT_DELTAS | REASONING_DELTAS | ARGUMENT_DELTAS
    assert TERMINALS - {"response.failed"} == COMMITTED_TERMINALS
    assert TERMINALS | {"error"} == STREAM_ENDS
    assert fast.DELTA_EVENT_TYPES is FIRST_TOKEN_EVENTS and fast.TERMINAL_EVENT_TYPES is STREAM_ENDS


def test_no_other_module_spells_out_a_terminal_or_delta_set():
    """The literal sets live in `agent/wire/event_types.py` only."""
    sources = [
        path for folder in ("agent", "bench", "codeassist", "server") for path in ROOT.joinpath(folder).rglob("*.py")
    ]
    own = Path(event_types.__file__).resolve()
    offenders = [
        str(path.relative_to(ROOT))
        for path in sources
        if path.resolve() != own
        and (
            'frozenset({"response.completed"' in (text := path.read_text())
            or 'frozenset({"response.output_text.delta"' in text
        )
    ]
    assert offenders == []
