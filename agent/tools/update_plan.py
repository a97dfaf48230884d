"""`update_plan`: the model's todo list for the task, shown by the UI as a checklist."""

from __future__ import annotations

from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator

from agent.plan import PlanStatus, PlanStatusInput, normal_status, plan_lines
from agent.tools.base import CallDescription, Tool, ToolArgs, ToolContext, ToolError, ToolResult


class PlanStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step: str = Field(description="What to do, in a few words.")
    status: PlanStatusInput = Field(description="pending, in_progress or done (completed also means done).")

    @field_validator("status", mode="after")
    @classmethod
    def _normalise(cls, status: PlanStatusInput) -> PlanStatus:
        """Store a synonym as the status it stands for, so the UI and exports see one spelling."""
        return cast("PlanStatus", normal_status(status))


class UpdatePlanArgs(ToolArgs):
    steps: list[PlanStep] = Field(description="The whole plan, in order (replaces the previous one).")


class UpdatePlan(Tool[UpdatePlanArgs]):
    name = "update_plan"
    description = (
        "Record your plan for the task as a short list of steps with their status; send the whole "
        "list each time. At most one step should be in_progress."
    )
    Args = UpdatePlanArgs
    parallel_safe = True

    @classmethod
    def describe(cls, arguments: dict[str, Any]) -> CallDescription:
        steps = arguments.get("steps")
        return CallDescription(f"{len(steps) if isinstance(steps, list) else 0} steps")

    async def run(self, args: UpdatePlanArgs, ctx: ToolContext) -> ToolResult:
        if not args.steps:
            raise ToolError("The plan has no steps.")
        if len(args.steps) > 50:
            raise ToolError("The plan has more than 50 steps; keep it short.")
        if sum(step.status == "in_progress" for step in args.steps) > 1:
            raise ToolError("More than one step is in_progress; mark only the current one.")
        ctx.plan = [step.model_dump() for step in args.steps]
        checklist = "\n".join(plan_lines(ctx.plan))
        return ToolResult(output=f"Plan updated:\n{checklist}", display={"plan": ctx.plan})
