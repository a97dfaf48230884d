"""What an engine produces: a flat stream of pieces that the responder turns into events.

An engine never deals with sequence numbers, ids, usage or transports. It yields `Start*`,
`Delta` and `EndItem` pieces for each output item, and may end with `Fail` or `Incomplete`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import TypeAdapter, ValidationError

from agent.wire import Item, ResponseCreate
from server.compaction_seal import COMPACTION_TYPE, CompactedState, opened

PENDING_TEXT_CHARS = 160
"""How much of each unanswered item's text a compaction item keeps for the scripted engine."""
PENDING_ITEMS = 4
ITEM: TypeAdapter[Item] = TypeAdapter(Item)
"""Validates one item (a wire dict) into its model."""

OUTPUT_ITEM_TYPES = frozenset({"message", "function_call", "reasoning", "custom_tool_call", "web_search_call"})
"""Item types that the model produces (everything else in a context is input)."""


@dataclass(frozen=True)
class StartMessage:
    annotations: tuple[dict[str, Any], ...] = ()
    """The text's annotations (`url_citation`), sent when the message ends."""


@dataclass(frozen=True)
class HostedCall:
    """A complete hosted tool call item (`web_search_call`): no deltas, no `EndItem`."""

    item: dict[str, Any]


@dataclass(frozen=True)
class StartReasoning:
    encrypted_content: str | None = None


@dataclass(frozen=True)
class StartFunctionCall:
    name: str
    call_id: str


@dataclass(frozen=True)
class StartCustomToolCall:
    name: str
    call_id: str


@dataclass(frozen=True)
class Delta:
    """Text appended to the open item (message text, arguments, summary part or tool input)."""

    text: str


@dataclass(frozen=True)
class NextSummaryPart:
    """Starts a new summary part in the open reasoning item."""


@dataclass(frozen=True)
class EndItem:
    pass


@dataclass(frozen=True)
class Fail:
    """End the response as `response.failed` with this error."""

    code: str
    message: str


@dataclass(frozen=True)
class Incomplete:
    """End the response as `response.incomplete` with this reason."""

    reason: str


Piece = (
    StartMessage
    | HostedCall
    | StartReasoning
    | StartFunctionCall
    | StartCustomToolCall
    | Delta
    | NextSummaryPart
    | EndItem
    | Fail
    | Incomplete
)


@dataclass(frozen=True)
class Generation:
    """One generating request as an engine sees it."""

    request: ResponseCreate
    context: list[Item]
    """Everything the model sees: the chained history plus this request's input (after a
    compaction in this response: the compaction item and the newest input)."""
    turn: int
    """How many model outputs the context already holds (see `count_model_turns`)."""
    newest_input: list[Item] | None = None
    """What the model is answering now (see `trailing_input`); None: work it out from `context`."""


class Engine(Protocol):
    """A source of model output."""

    model: str
    """The model name reported when a request names none."""

    def generate(self, generation: Generation) -> AsyncIterator[Piece]:
        """Stream the pieces of one response."""
        ...


def _is_model_output(item: Item) -> bool:
    if item.type == "message":
        return getattr(item, "role", None) == "assistant"
    return item.type in OUTPUT_ITEM_TYPES


def turn_state(context: list[Item], key: bytes | None = None) -> tuple[int, bool]:
    """The model responses in a context (runs of consecutive output items), and whether it ends
    inside one.

    A compaction item (sealed with `key`) stands for the turns of the context it replaced: the
    count goes on from there, whatever came before it (a client may resend the history the item
    replaced).
    """
    turns = 0
    previous_was_output = False
    for item in context:
        compacted = opened(item, key)
        if compacted is not None:
            turns, previous_was_output = compacted.turns, compacted.ends_with_output
            continue
        is_output = _is_model_output(item)
        if is_output and not previous_was_output:
            turns += 1
        previous_was_output = is_output
    return turns, previous_was_output


def count_model_turns(context: list[Item], key: bytes | None = None) -> int:
    """Count the model responses in a context (see `turn_state`)."""
    return turn_state(context, key)[0]


def item_text(item: Item) -> str:
    """The text of an item: a message's text or a tool output's."""
    if item.type == "message":
        return item.text()  # type: ignore[union-attr]
    output = getattr(item, "output", None)
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        return "".join(getattr(part, "text", "") or "" for part in output)
    return ""


def item_images(item: Item) -> list[str]:
    """The image URLs of an item's `input_image` parts (a message's content or a tool output)."""
    parts = getattr(item, "content", None) if item.type == "message" else getattr(item, "output", None)
    if not isinstance(parts, list):
        return []
    return [url for part in parts if isinstance(url := getattr(part, "image_url", None), str)]


def brief(items: list[Item]) -> list[dict[str, str]]:
    """What a compaction item keeps of unanswered input: enough for a scenario's `expect`."""
    kept: list[dict[str, str]] = []
    for item in items[-PENDING_ITEMS:]:
        entry = {"type": item.type, "text": item_text(item)[:PENDING_TEXT_CHARS]}
        for name in ("role", "call_id", "name"):
            value = getattr(item, name, None)
            if isinstance(value, str):
                entry[name] = value
        kept.append(entry)
    return kept


def _restore(entry: dict[str, str]) -> Item | None:
    text = entry.get("text", "")
    kind = entry.get("type")
    if kind == "message":
        data: dict[str, object] = {"type": "message", "role": entry.get("role", "user"), "content": text}
    elif kind in ("function_call_output", "custom_tool_call_output"):
        data = {"type": kind, "call_id": entry.get("call_id", ""), "output": text}
    else:
        data = {key: value for key, value in entry.items() if key != "text"}
    try:
        return ITEM.validate_python(data)
    except ValidationError:
        return None


def unanswered(compacted: CompactedState) -> list[Item]:
    """The unanswered input a compaction item replaced, rebuilt from its brief."""
    return [item for entry in compacted.pending if (item := _restore(entry)) is not None]


def trailing_input(context: list[Item], key: bytes | None = None) -> list[Item]:
    """What the model is answering now: the items after its last output, or after the latest
    compaction item together with the unanswered input that item replaced (sealed with `key`)."""
    for index in range(len(context) - 1, -1, -1):
        item = context[index]
        if _is_model_output(item):
            return context[index + 1 :]
        if item.type == COMPACTION_TYPE:
            compacted = opened(item, key)
            return [*(unanswered(compacted) if compacted else []), *context[index + 1 :]]
    return list(context)
