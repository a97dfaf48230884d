"""update_plan accepts `completed` (the Codex CLI's word) as done, from the schema to the UI's marks."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from agent.plan import PLAN_GLYPHS, plan_lines
from agent.tools.base import strict_schema
from agent.tools.update_plan import PlanStep, UpdatePlan, UpdatePlanArgs


def test_the_strict_schema_allows_completed() -> None:
    schema = strict_schema(UpdatePlanArgs)
    status = schema["properties"]["steps"]["items"]["properties"]["status"]
    assert set(status["enum"]) == {"pending", "in_progress", "done", "completed"}
    assert UpdatePlan.spec()["strict"] is True


async def test_completed_is_stored_and_shown_as_done(ctx) -> None:
    arguments = json.dumps(
        {"steps": [{"step": "Read the code", "status": "completed"}, {"step": "Fix it", "status": "in_progress"}]}
    )
    args = UpdatePlanArgs.model_validate_json(arguments)
    result = await UpdatePlan().run(args, ctx)
    assert ctx.plan[0] == {"step": "Read the code", "status": "done"}
    assert result.display == {"plan": ctx.plan}
    assert result.output.splitlines()[1:] == ["[x] Read the code", "[~] Fix it"]
    assert plan_lines(ctx.plan, PLAN_GLYPHS)[0] == "☑ Read the code"


def test_a_recorded_completed_step_is_marked_done() -> None:
    assert plan_lines([{"step": "old", "status": "completed"}]) == ["[x] old"]


def test_other_statuses_are_still_refused() -> None:
    with pytest.raises(ValidationError):
        PlanStep.model_validate({"step": "x", "status": "finished"})
