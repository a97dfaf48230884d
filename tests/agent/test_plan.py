"""Plan marks: one home for the statuses and how each audience sees them."""

from __future__ import annotations

from typing import get_args

from agent.plan import PLAN_GLYPHS, PLAN_STATUS_SYNONYMS, PLAN_STATUSES, PLAN_TEXT_MARKS, PlanStatus, plan_lines
from agent.tools.update_plan import PlanStep


def test_every_status_has_a_mark_in_both_sets() -> None:
    assert set(get_args(PlanStatus)) == set(PLAN_STATUSES) == set(PLAN_GLYPHS) == set(PLAN_TEXT_MARKS)
    accepted = set(get_args(PlanStep.model_fields["status"].annotation))
    assert accepted == set(PLAN_STATUSES) | set(PLAN_STATUS_SYNONYMS)
    assert set(PLAN_STATUS_SYNONYMS.values()) <= set(PLAN_STATUSES)


def test_plan_lines_mark_each_step_and_treat_unknown_statuses_as_pending() -> None:
    steps = [{"step": "a", "status": "done"}, {"step": "b", "status": "in_progress"}, {"step": "c", "status": "?"}]
    assert plan_lines(steps) == ["[x] a", "[~] b", "[ ] c"]
    assert plan_lines(steps, PLAN_GLYPHS) == ["☑ a", "◐ b", "☐ c"]
