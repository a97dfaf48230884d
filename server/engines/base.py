"""What an engine produces: a flat stream of pieces that the responder turns into events.

An engine never deals with sequence numbers, ids, usage or transports. It yields `Start*`,
`Delta` and `EndItem` pieces for each output item, and may end with `Fail` or `Incomplete`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from agent.wire import Item, ResponseCreate
from server.compaction_seal import COMPACTION_TYPE, peek

OUTPUT_ITEM_TYPES = frozenset({"message", "function_call", "reasoning", "custom_tool_call"})
"""Item types that the model produces (everything else in a context is input)."""


@dataclass(frozen=True)
class StartMessage:
    pass


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
    """Everything the model sees: the chained history plus this request's input."""
    turn: int
    """How many model outputs the context already holds (see `count_model_turns`)."""


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


def turn_state(context: list[Item]) -> tuple[int, bool]:
    """The model responses in a context (runs of consecutive output items), and whether it ends
    inside one.

    A compaction item stands for the turns of the context it replaced: the count goes on from
    there, whatever came before it (a client may resend the history the item replaced).
    """
    turns = 0
    previous_was_output = False
    for item in context:
        compacted = peek(item)
        if compacted is not None:
            turns, previous_was_output = compacted.turns, compacted.ends_with_output
            continue
        is_output = _is_model_output(item)
        if is_output and not previous_was_output:
            turns += 1
        previous_was_output = is_output
    return turns, previous_was_output


def count_model_turns(context: list[Item]) -> int:
    """Count the model responses in a context (see `turn_state`)."""
    return turn_state(context)[0]


def trailing_input(context: list[Item]) -> list[Item]:
    """The items after the model's last output or the latest compaction: what the model is answering now."""
    for index in range(len(context) - 1, -1, -1):
        if _is_model_output(context[index]) or context[index].type == COMPACTION_TYPE:
            return context[index + 1 :]
    return list(context)
