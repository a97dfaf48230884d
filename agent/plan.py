"""The plan `update_plan` records: step statuses and how each is marked, in one place.

Two sets of marks, one per audience: `PLAN_GLYPHS` for the terminal UI, `PLAN_TEXT_MARKS`
for plain text (what the model reads back, and Markdown exports, where `[ ]` and `[x]` render as
a task list).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

__all__ = [
    "PLAN_GLYPHS",
    "PLAN_STATUSES",
    "PLAN_STATUS_SYNONYMS",
    "PLAN_TEXT_MARKS",
    "PlanStatus",
    "PlanStatusInput",
    "normal_status",
    "plan_lines",
]

PlanStatus = Literal["pending", "in_progress", "done"]
"""The status of one plan step."""

PLAN_STATUSES: tuple[PlanStatus, ...] = ("pending", "in_progress", "done")

PlanStatusInput = Literal["pending", "in_progress", "done", "completed"]
"""What `update_plan` accepts: the statuses plus synonyms models trained elsewhere send."""

PLAN_STATUS_SYNONYMS: Mapping[str, PlanStatus] = {"completed": "done"}
"""Accepted spellings of a status, mapped to the one that is stored and drawn."""


def normal_status(status: str) -> str:
    """`status` with a synonym replaced by the status it stands for (`completed` → `done`)."""
    return PLAN_STATUS_SYNONYMS.get(status, status)


PLAN_GLYPHS: Mapping[str, str] = {"pending": "☐", "in_progress": "◐", "done": "☑"}
"""Marks drawn in the terminal UI."""

PLAN_TEXT_MARKS: Mapping[str, str] = {"pending": "[ ]", "in_progress": "[~]", "done": "[x]"}
"""Marks in plain text: the tool result the model reads, and exported transcripts."""


def plan_lines(steps: Iterable[Mapping[str, Any]], marks: Mapping[str, str] = PLAN_TEXT_MARKS) -> list[str]:
    """One `<mark> <step>` line per step; an unknown status is marked as pending.

    Args:
        steps: Plan steps as the tool records them (`{"step": ..., "status": ...}`).
        marks: `PLAN_TEXT_MARKS` (default) or `PLAN_GLYPHS`.
    """
    return [
        f"{marks.get(normal_status(str(step.get('status'))), marks['pending'])} {step.get('step', '')}"
        for step in steps
    ]
