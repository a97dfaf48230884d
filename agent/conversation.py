"""The conversation: the complete local transcript, and the rule for what to send.

The local transcript is the source of truth; the server's connection cache is only an
optimisation. A request is *incremental* — only the items the server has not seen, plus
`previous_response_id` — when the chain is intact: the previous response completed on the same
socket, and model, instructions, tools and reasoning settings are unchanged. Otherwise the whole
transcript is resent without `previous_response_id`. Each decision carries its reason.

Compaction: every request may carry `context_management` (a token threshold past which the server
compacts inside the stream and emits a `compaction` item). The transcript keeps everything; what
a full resend sends is the *window*: the items from the latest compaction item on, or, after a
standalone or client-side compaction, the replacement window it gave followed by what came after.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from agent.call_ledger import CallLedger
from agent.catalogue import Catalogue, catalogue
from agent.wire import Item, ResponseCreate

COMPACT_FRACTION = 0.8
"""The default compaction threshold: this fraction of the model's context window."""


def is_compaction(item: Item | dict[str, Any]) -> bool:
    """Whether `item` is a `compaction` item (the server's opaque stand-in for what it compacted)."""
    kind = item.get("type") if isinstance(item, dict) else getattr(item, "type", None)
    return kind == "compaction"


def compact_threshold(setting: int | None, model: str, models: Catalogue | None = None) -> int | None:
    """The token threshold for `model`: the setting, or `COMPACT_FRACTION` of the context window
    in `models` (the shipped catalogue by default) when the setting is None; None when compaction
    is off (setting 0)."""
    if setting is None:
        return int((models or catalogue()).lookup(model).context_window * COMPACT_FRACTION)
    return setting or None


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
    prefix: tuple[Item, ...] = ()
    """A full resend after a standalone or client-side compaction: the replacement window, sent
    before the transcript items from `start` on."""

    @property
    def items_sent(self) -> int:
        return len(self.prefix) + self.end - self.start


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

    def __init__(
        self, settings: RequestSettings, *, compact_setting: int | None = None, models: Catalogue | None = None
    ) -> None:
        self.settings = settings
        self.models = models or catalogue()
        """The model catalogue (with the user's changes) the threshold and compaction support come from."""
        self.compact_setting = compact_setting
        """The `compact_threshold` setting (None: from the catalogue; 0: off)."""
        self.server_compaction_refused: str | None = None
        """Why `context_management` is no longer sent (the endpoint rejected it), once it was."""
        self.window_prefix: list[Item] = []
        """The replacement window of the latest standalone or client-side compaction."""
        self.window_start = 0
        """Index of the first transcript item of the window (what a full resend sends)."""
        self._stream_compaction: tuple[int, int] | None = None
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
    def threshold(self) -> int | None:
        """The compaction threshold for the current model (None: compaction is off)."""
        return compact_threshold(self.compact_setting, self.settings.model, self.models)

    @property
    def context_management(self) -> list[dict[str, Any]] | None:
        """The `context_management` field requests carry (None: not sent)."""
        threshold = self.threshold
        if (
            threshold is None
            or self.server_compaction_refused
            or not self.models.lookup(self.settings.model).compaction
        ):
            return None
        return [{"type": "compaction", "compact_threshold": threshold}]

    def window(self) -> list[Item]:
        """What a full resend sends: the latest compaction's window and everything after it."""
        return [*self.window_prefix, *self.items[self.window_start :]]

    def replace_window(self, window: Sequence[Item], reason: str = "compacted") -> None:
        """Continue from `window` (a standalone or client-side compaction's replacement for the
        current window): the transcript keeps every item, the next request resends `window`."""
        self.window_prefix = list(window)
        self.window_start = len(self.items)
        self.break_chain(reason)

    def take_stream_compaction(self) -> tuple[int, int] | None:
        """Items in the window before and after the server compacted inside the latest committed
        response, once (None when it did not)."""
        compacted, self._stream_compaction = self._stream_compaction, None
        return compacted

    def restore_window(self, prefix: Sequence[Item], start: int) -> None:
        """Set the window of a resumed session (see `agent.resume`)."""
        self.window_prefix = list(prefix)
        self.window_start = min(max(start, 0), len(self.items))

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
        return RequestPlan(
            False,
            full_reason,
            None,
            self.window_start,
            len(self.items),
            transport,
            generation,
            tuple(self.window_prefix),
        )

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
        request = ResponseCreate(input=[*plan.prefix, *self.items[plan.start : plan.end]], **fields)
        context_management = self.context_management
        if context_management is not None:
            request.context_management = context_management
        if plan.previous_response_id:
            request.previous_response_id = plan.previous_response_id
        if not generate:
            request.generate = False
        return request

    def commit(self, plan: RequestPlan, response_id: str, output: list[Item]) -> None:
        """Record a completed response: its output joins the transcript and heads the chain."""
        self.items[plan.end : plan.end] = output
        compactions = [index for index, item in enumerate(output) if is_compaction(item)]
        if compactions:  # the server compacted in the stream: its context is that item on
            before = len(self.window()) - len(output)
            self.window_prefix, self.window_start = [], plan.end + compactions[-1]
            self._stream_compaction = (before, len(self.window()))
        self.ledger.note(output)
        if self.on_items is not None:
            self.on_items(output)
        self._head = _ChainHead(response_id, plan.end + len(output), plan.transport, plan.generation, self.settings)
        self._broken = None
