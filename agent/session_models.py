"""The model side of the session facade: which model and reasoning effort requests carry, the
catalogue entry they come from, what the session's responses cost and how full the context is."""

from __future__ import annotations

import dataclasses
import ssl
from collections.abc import Iterable
from typing import Any

from agent.catalogue import Catalogue, ModelInfo, catalogue, user_catalogue
from agent.config import Settings
from agent.conversation import RequestSettings
from agent.cost import ContextUsage, Cost, CostReport, SpendingLimits, responses_cost
from agent.loop import Agent
from agent.model_list import ModelListing, available_models, model_notice, with_model_and_reasoning
from agent.stats import ResponseStats
from agent.tools import ToolRegistry


def reasoning_options(settings: Settings, models: Catalogue | None = None) -> dict[str, Any] | None:
    """The request's `reasoning` (None for a model whose entry in `models`, by default the user's
    catalogue, takes no reasoning)."""
    if settings.reasoning_effort is None:
        return None
    if not (models or user_catalogue(settings.models)).lookup(settings.model).reasoning:
        return None
    options: dict[str, Any] = {"effort": settings.reasoning_effort}
    if settings.reasoning_summary is not None:
        options["summary"] = settings.reasoning_summary
    return options


def tool_specs(tools: ToolRegistry, model: ModelInfo) -> list[dict[str, Any]]:
    """The request's `tools` for `model`: apply_patch in the form its catalogue entry names
    (`apply_patch_format`)."""
    return tools.specs(freeform=model.apply_patch_format == "freeform")


class SessionModels:
    """The model, reasoning effort, cost and context part of `Session` (see `agent.session`)."""

    agent: Agent
    settings: Settings
    ssl_context: ssl.SSLContext | None

    @property
    def model(self) -> str:
        return self.agent.conversation.settings.model

    def set_model(self, model: str) -> None:
        """Use `model` from the next request on (which then resends the whole conversation); a
        model whose catalogue entry takes no reasoning is sent no reasoning effort, and apply_patch
        is offered in the form its entry names."""
        self.settings = self.settings.model_copy(update={"model": model})
        conversation = self.agent.conversation
        changed = with_model_and_reasoning(
            conversation.settings, model, reasoning_options(self.settings, self.catalogue)
        )
        tools = RequestSettings.build(
            model=model, instructions=None, tools=tool_specs(self.agent.tools, self.catalogue.lookup(model))
        )
        conversation.update_settings(dataclasses.replace(changed, tools=tools.tools))

    def model_notices(self) -> list[str]:
        """A notice when the catalogue does not know the model (its default entry is used)."""
        notice = model_notice(self.model_info)
        return [notice] if notice is not None else []

    @property
    def catalogue(self) -> Catalogue:
        """The model catalogue (the user's `models` table applied) this session's model entry,
        costs, limits, context window and compaction threshold come from."""
        return self.agent.conversation.models

    @property
    def model_info(self) -> ModelInfo:
        """The catalogue's entry of the current model (the default entry, `known=False`, if none)."""
        return self.catalogue.lookup(self.model)

    async def available_models(self, *, endpoint: bool = True) -> ModelListing:
        """The models to choose from: the current one, the catalogue's, and (with `endpoint`) those
        the endpoint lists (`GET /models`); a failure to list them is said in `endpoint_error`,
        never raised."""
        verify = self.ssl_context if self.ssl_context is not None else True
        return await available_models(self.catalogue, self.model, self.settings, verify=verify, endpoint=endpoint)

    EFFORT_LEVELS: tuple[str, ...] = ("none", "minimal", "low", "medium", "high", "xhigh")
    """The reasoning efforts `/effort` offers (those of `Settings.reasoning_effort`)."""

    @property
    def effort(self) -> str | None:
        """The reasoning effort requests carry (None: none is sent)."""
        return self.settings.reasoning_effort if self.model_info.reasoning else None

    def set_effort(self, level: str) -> None:
        """Send reasoning effort `level` from the next request on (a full resend).

        Raises:
            ValueError: `level` is not one of `EFFORT_LEVELS`, or the model's catalogue entry
                says it takes no reasoning effort.
        """
        if level not in self.EFFORT_LEVELS:
            raise ValueError(f"no reasoning effort {level!r}; choose from {', '.join(self.EFFORT_LEVELS)}")
        if not self.model_info.reasoning:
            raise ValueError(
                f"{self.model} takes no reasoning effort (its catalogue entry says reasoning = false; "
                f'set it in the config file\'s [models."{self.model}"] table if that is wrong)'
            )
        self.settings = self.settings.model_copy(update={"reasoning_effort": level})
        conversation = self.agent.conversation
        options = reasoning_options(self.settings, self.catalogue)
        conversation.update_settings(with_model_and_reasoning(conversation.settings, self.model, options))

    # ---- cost and context --------------------------------------------------------------------

    @staticmethod
    def price(responses: Iterable[ResponseStats]) -> Cost:
        """What `responses` cost, each priced for the model it named with the shipped catalogue's
        prices; needs no live session, so replays use it too."""
        return responses_cost(responses, lambda name: catalogue().lookup(name or ""))

    def cost_of(self, responses: Iterable[ResponseStats]) -> Cost:
        """What `responses` cost, each priced for the model it named (the session's model for a
        record that names none)."""
        table = self.catalogue
        return responses_cost(responses, lambda name: table.lookup(name or self.model))

    def session_cost(self) -> Cost:
        """What the session's finished turns cost (a resumed session's earlier turns included)."""
        return self.cost_of(response for turn in self.agent.turns for response in turn.responses)

    def cost_report(self) -> CostReport:
        """The breakdown `/cost` shows: each finished turn, the session, the prices used and where
        they come from."""
        turns = [(turn.turn, self.cost_of(turn.responses)) for turn in self.agent.turns]
        table = self.catalogue
        return CostReport(
            model=table.lookup(self.model), provenance=table.provenance, turns=turns, session=self.session_cost()
        )

    def context_usage(self) -> ContextUsage:
        """How full the context is: the latest response's input plus output tokens (what the next
        request carries) against the model's window, and where compaction starts."""
        latest = self.agent.latest_response
        if latest is None:
            ended = [r for turn in self.agent.turns for r in turn.responses if r.input_tokens]
            latest = ended[-1] if ended else None
        used = latest.input_tokens + latest.output_tokens if latest is not None else 0
        window = self.model_info.context_window
        return ContextUsage(used=used, window=window, threshold=self.agent.conversation.threshold)

    def set_limits(self, *, max_cost: float | None = None, max_turn_tokens: int | None = None) -> None:
        """End turns between steps (`limit_exceeded`) once what they spent from now on reaches
        `max_cost` dollars, or a turn used `max_turn_tokens` input plus output tokens.

        Raises:
            ValueError: a cost limit for a model whose prices are unknown.
        """
        info = self.catalogue.lookup(self.model)
        if max_cost is not None and not info.priced:
            raise ValueError(
                f"a cost limit needs the model's prices, and none are known for {info.name!r} "
                "(add them to the models table of the config)"
            )
        self.agent.limits = (
            SpendingLimits(max_cost, max_turn_tokens, self.cost_of, earlier_turns=len(self.agent.turns))
            if max_cost is not None or max_turn_tokens is not None
            else None
        )
