"""What the model sees for one request: the rendered context, server-side compaction, the window.

Every count is `server.tokens`' approximation, the same one `usage` reports. A request with
`context_management: [{"type": "compaction", "compact_threshold": N}]` whose rendered context
(instructions, tools, the chained history and the new input) is over N tokens is compacted
before the model answers: a `compaction` item standing for the whole context is streamed first,
the model answers from that item and the newest input, and the context kept for chaining is the
item plus the reply. A request over the endpoint's context window is refused with
`context_length_exceeded` (unless the scenario says otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from agent.wire import Item, ResponseCreate, UnknownItem
from server.compaction_seal import COMPACTION_TYPE, CompactedState, SealError, digest, seal, unseal
from server.engines.base import brief, trailing_input, turn_state
from server.state import RequestError, ServerState, StoredResponse
from server.tokens import json_tokens

DEFAULT_THRESHOLD_SHARE = 0.8
"""A compaction entry without `compact_threshold` compacts at this share of the context window."""


def item_tokens(items: list[Item]) -> int:
    """Approximate tokens of items (each item's compact JSON)."""
    return sum(json_tokens(item.model_dump(mode="json")) for item in items)


def prefix_of(request: ResponseCreate) -> tuple[str | None, str]:
    """Instructions and the JSON of the tool list: the part that is cached when unchanged."""
    return request.instructions, orjson.dumps(request.tools or []).decode()


def prefix_tokens(request: ResponseCreate) -> int:
    """Approximate tokens of the instructions and tools."""
    return json_tokens(request.instructions) + json_tokens(request.tools)


@dataclass(frozen=True)
class ContextPlan:
    """How one generating request is answered."""

    turn: int
    """Which scripted turn answers: model responses in the (uncompacted) context."""
    engine_context: list[Item]
    """What the model sees."""
    newest_input: list[Item]
    """What the model is answering now (the unanswered input, compacted or not)."""
    kept_context: list[Item]
    """The context kept for chaining, before this response's output."""
    kept_tokens: int
    """Approximate tokens of `kept_context`."""
    compaction: Item | None
    """The compaction item streamed before the reply, when the threshold was crossed."""
    input_tokens: int
    """`usage.input_tokens`: the rendered context the model answers from."""
    cached_tokens: int
    """`usage.input_tokens_details.cached_tokens`: the part reused from the chained response."""


def unsupported(param: str) -> RequestError:
    """The refusal of an endpoint without compaction for a field it does not know."""
    return RequestError(f"Unknown parameter: '{param}'.", code="unknown_parameter", param=param)


def check_compaction_items(state: ServerState, items: list[Item]) -> None:
    """Refuse compaction items this server did not issue (or any, when it has no compaction).

    Raises:
        RequestError: `invalid_encrypted_content` for a foreign or tampered item;
            `invalid_value` when the endpoint has no compaction.
    """
    for index, item in enumerate(items):
        if item.type != COMPACTION_TYPE:
            continue
        if not state.limits.compaction:
            raise RequestError(
                f"Invalid value: 'compaction'. This endpoint does not support compaction items (input[{index}]).",
                code="invalid_value",
                param=f"input[{index}].type",
            )
        try:
            unseal(getattr(item, "encrypted_content", None), state.compaction_key)
        except SealError as exc:
            name = getattr(item, "id", None) or f"input[{index}]"
            raise RequestError(
                f"The encrypted content of compaction item {str(name)[:64]} could not be verified: "
                f"it was not issued by this server ({exc}).",
                code="invalid_encrypted_content",
                param=f"input[{index}].encrypted_content",
            ) from None


def check_hosted_tools(state: ServerState, request: ResponseCreate) -> None:
    """Refuse the hosted `web_search` tool where the endpoint has none.

    Raises:
        RequestError: `invalid_value` on the offending `tools[i].type`.
    """
    if state.limits.web_search:
        return
    for index, tool in enumerate(request.tools or []):
        if isinstance(tool, dict) and tool.get("type") == "web_search":
            raise RequestError(
                "Invalid value: 'web_search'. This endpoint does not support the hosted tool 'web_search'.",
                code="invalid_value",
                param=f"tools[{index}].type",
            )


def compact_threshold(state: ServerState, request: ResponseCreate) -> int | None:
    """The request's compaction threshold in tokens (None: no compaction asked for).

    Raises:
        RequestError: the endpoint has no compaction, or an entry is malformed.
    """
    entries = request.context_management
    if entries is None:
        return None
    if not state.limits.compaction:
        raise unsupported("context_management")
    threshold: int | None = None
    for index, entry in enumerate(entries):
        if entry.get("type") != "compaction":
            raise RequestError(
                f"Invalid value: {entry.get('type')!r}. Supported values are: 'compaction'.",
                code="invalid_value",
                param=f"context_management[{index}].type",
            )
        value: Any = entry.get("compact_threshold")
        if value is None:
            window = state.limits.context_window
            value = int(window * DEFAULT_THRESHOLD_SHARE) if window else None
        elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise RequestError(
                f"Invalid 'context_management[{index}].compact_threshold': expected a positive integer.",
                code="invalid_value",
                param=f"context_management[{index}].compact_threshold",
            )
        if value is not None:
            threshold = value if threshold is None else min(threshold, value)
    return threshold


def compaction_item(state: ServerState, context: list[Item]) -> Item:
    """A new compaction item standing for `context`, sealed with the server's key."""
    dumped = [item.model_dump(mode="json") for item in context]
    turns, ends_with_output = turn_state(context, state.compaction_key)
    sealed = CompactedState(
        turns=turns,
        ends_with_output=ends_with_output,
        items=len(context),
        tokens=sum(json_tokens(item) for item in dumped),
        digest=digest(dumped),
        pending=[] if ends_with_output else brief(trailing_input(context, state.compaction_key)),
    )
    return UnknownItem(
        type=COMPACTION_TYPE, id=state.ids.new("cmp"), encrypted_content=seal(sealed, state.compaction_key)
    )


def check_window(state: ServerState, tokens: int) -> None:
    """Refuse a context over the endpoint's window (when the scenario says so).

    Raises:
        RequestError: `context_length_exceeded`.
    """
    window = state.limits.context_window
    if window is not None and state.limits.reject_over_window and tokens > window:
        raise RequestError(
            f"Your input exceeds the context window of this model ({tokens} tokens, the window is {window}). "
            "Please adjust your input and try again, or compact it.",
            code="context_length_exceeded",
            param="input",
        )


def plan_context(state: ServerState, request: ResponseCreate, parent: StoredResponse | None) -> ContextPlan:
    """Render the request's context, compact it when it crosses the threshold, check the window.

    Raises:
        RequestError: a refused compaction field or item, or `context_length_exceeded`.
    """
    check_hosted_tools(state, request)
    threshold = compact_threshold(state, request)
    input_items = request.input_items()
    check_compaction_items(state, input_items)
    context = [*(parent.context if parent else []), *input_items]
    turn = turn_state(context, state.compaction_key)[0]
    newest = trailing_input(context, state.compaction_key)
    prefix = prefix_tokens(request)
    same_prefix = parent is not None and parent.prefix == prefix_of(request)
    history_tokens = (parent.context_tokens if parent else 0) + item_tokens(input_items)
    if request.generate is not False and threshold is not None and prefix + history_tokens > threshold:
        item = compaction_item(state, context)
        compacted_tokens = prefix + item_tokens([item])
        check_window(state, compacted_tokens)
        return ContextPlan(
            turn=turn,
            engine_context=[item, *newest],
            newest_input=newest,
            kept_context=[],
            kept_tokens=0,
            compaction=item,
            input_tokens=compacted_tokens,
            cached_tokens=prefix if same_prefix else 0,
        )
    check_window(state, prefix + history_tokens)
    cached = 0
    if parent is not None:
        cached = parent.context_tokens + (prefix if same_prefix else 0)
    return ContextPlan(
        turn=turn,
        engine_context=context,
        newest_input=newest,
        kept_context=context,
        kept_tokens=history_tokens,
        compaction=None,
        input_tokens=prefix + history_tokens,
        cached_tokens=cached,
    )
