"""The conversation: the complete local transcript, and the rule for what to send.

The local transcript is the source of truth; the server's connection cache is only an
optimisation. A request is *incremental* — only the items the server has not seen, plus
`previous_response_id` — when the chain is intact: the previous response completed on the same
socket, and model, instructions, tools and reasoning settings are unchanged. Otherwise the whole
transcript is resent without `previous_response_id`. Each decision carries its reason.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from agent.call_ledger import CallLedger
from agent.wire import Item, ResponseCreate


@dataclass(frozen=True)
class RequestSettings:
    """The per-request parameters that must match for an incremental send."""

    model: str
    instructions: str | None
    tools: tuple[str, ...] = ()
    """Each tool spec as canonical JSON (hashable and cheap to compare)."""
    reasoning: str | None = None
    store: bool = False
    include: tuple[str, ...] = ()
    tool_choice: str = "auto"
    parallel_tool_calls: bool = True
    prompt_cache_key: str | None = None
    max_output_tokens: int | None = None
    """Cap on each response's output, reasoning included (None: the server's default)."""

    @classmethod
    def build(
        cls,
        *,
        model: str,
        instructions: str | None,
        tools: list[dict[str, Any]],
        reasoning: dict[str, Any] | None = None,
        store: bool = False,
        prompt_cache_key: str | None = None,
        max_output_tokens: int | None = None,
    ) -> RequestSettings:
        """Settings from request-shaped values (tool specs and reasoning as dicts)."""
        include = ("reasoning.encrypted_content",) if reasoning and not store else ()
        return cls(
            model=model,
            instructions=instructions,
            tools=tuple(orjson.dumps(t, option=orjson.OPT_SORT_KEYS).decode() for t in tools),
            reasoning=orjson.dumps(reasoning, option=orjson.OPT_SORT_KEYS).decode() if reasoning else None,
            store=store,
            include=include,
            prompt_cache_key=prompt_cache_key,
            max_output_tokens=max_output_tokens,
        )

    def body_fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "model": self.model,
            "tools": [orjson.loads(t) for t in self.tools],
            "tool_choice": self.tool_choice,
            "parallel_tool_calls": self.parallel_tool_calls,
            "store": self.store,
        }
        if self.instructions:
            fields["instructions"] = self.instructions
        if self.reasoning:
            fields["reasoning"] = orjson.loads(self.reasoning)
        if self.include:
            fields["include"] = list(self.include)
        if self.prompt_cache_key:
            fields["prompt_cache_key"] = self.prompt_cache_key
        if self.max_output_tokens is not None:
            fields["max_output_tokens"] = self.max_output_tokens
        return fields

    def difference(self, other: RequestSettings) -> str | None:
        """What changed from `other`, as a reason; None when nothing did."""
        for name, label in (
            ("model", "model changed"),
            ("instructions", "instructions changed"),
            ("tools", "tools changed"),
            ("reasoning", "reasoning settings changed"),
        ):
            if getattr(self, name) != getattr(other, name):
                return label
        return None if self == other else "request settings changed"


@dataclass(frozen=True)
class RequestPlan:
    """What one request sends, and why."""

    incremental: bool
    reason: str
    previous_response_id: str | None
    start: int
    """Index of the first transcript item sent."""
    end: int
    """Transcript length when the request was built."""
    transport: str
    generation: int

    @property
    def items_sent(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class _ChainHead:
    response_id: str
    covered: int
    """How many transcript items the server holds behind `response_id`."""
    transport: str
    generation: int
    settings: RequestSettings


class Conversation:
    """Every input and output item of the session, and the chain the server holds."""

    def __init__(self, settings: RequestSettings) -> None:
        self.settings = settings
        self.items: list[Item] = []
        self.on_items: Callable[[Sequence[Item]], None] | None = None
        """Told of every item added or committed, in order (the session record listens)."""
        self.ledger = CallLedger()
        """Which call ids the transcript has called and answered (`agent.call_ledger`)."""
        self._head: _ChainHead | None = None
        self._broken: str | None = "first request"

    def add(self, *items: Item) -> None:
        """Append input items (user messages, tool outputs)."""
        self.items.extend(items)
        self.ledger.note(items)
        if self.on_items is not None:
            self.on_items(items)

    def restore(self, items: Sequence[Item]) -> None:
        """Append items of a saved session (already recorded: `on_items` is not told)."""
        self.items.extend(items)
        self.ledger.note(items)

    def update_settings(self, settings: RequestSettings) -> None:
        """Change model, instructions, tools or reasoning; the next request decides from the diff."""
        self.settings = settings

    def break_chain(self, reason: str) -> None:
        """Force the next request to resend everything, recording why."""
        self._head = None
        self._broken = reason

    @property
    def chained_response_id(self) -> str | None:
        return self._head.response_id if self._head else None

    def plan(self, *, transport: str, generation: int) -> RequestPlan:
        """Decide incremental or full for a request on `transport` (connection `generation`)."""
        full_reason = self._full_resend_reason(transport, generation)
        if full_reason is None:
            head = self._head
            assert head is not None
            return RequestPlan(
                True, "incremental", head.response_id, head.covered, len(self.items), transport, generation
            )
        return RequestPlan(False, full_reason, None, 0, len(self.items), transport, generation)

    def _full_resend_reason(self, transport: str, generation: int) -> str | None:
        head = self._head
        if head is None:
            return self._broken or "no previous response"
        if transport == "http" and not self.settings.store:
            return "HTTP without store"
        if head.transport != transport:
            return "transport changed"
        if head.generation != generation and not (transport == "http" and self.settings.store):
            return "new socket"
        return self.settings.difference(head.settings)

    def build(self, plan: RequestPlan, *, generate: bool = True) -> ResponseCreate:
        """The `response.create` for a plan."""
        fields = self.settings.body_fields()
        request = ResponseCreate(input=self.items[plan.start : plan.end], **fields)
        if plan.previous_response_id:
            request.previous_response_id = plan.previous_response_id
        if not generate:
            request.generate = False
        return request

    def commit(self, plan: RequestPlan, response_id: str, output: list[Item]) -> None:
        """Record a completed response: its output joins the transcript and heads the chain."""
        self.items[plan.end : plan.end] = output
        self.ledger.note(output)
        if self.on_items is not None:
            self.on_items(output)
        self._head = _ChainHead(response_id, plan.end + len(output), plan.transport, plan.generation, self.settings)
        self._broken = None
