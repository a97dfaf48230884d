"""Server → client events of a Responses stream (reference §3).

Every event JSON is the same over WebSocket frames and SSE `data:` lines. Known types get a
model; any other type parses as `UnknownEvent` with its fields kept, never an error. These
models are for the structural events (items, terminal events, errors); the per-token path reads
deltas from the decoded dict instead (see `agent.wire.fast`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Tag, TypeAdapter

from agent.wire._base import CompactWireModel, ServerEventBase
from agent.wire.errors import ErrorEvent
from agent.wire.items import ContentPart, Item, SummaryText, UnknownPart
from agent.wire.response import Response


class ResponseCreated(ServerEventBase):
    type: Literal["response.created"] = "response.created"
    response: Response


class ResponseInProgress(ServerEventBase):
    type: Literal["response.in_progress"] = "response.in_progress"
    response: Response


class ResponseQueued(ServerEventBase):
    type: Literal["response.queued"] = "response.queued"
    response: Response


class ResponseCompleted(ServerEventBase):
    type: Literal["response.completed"] = "response.completed"
    response: Response


class ResponseFailed(ServerEventBase):
    type: Literal["response.failed"] = "response.failed"
    response: Response


class ResponseIncomplete(ServerEventBase):
    type: Literal["response.incomplete"] = "response.incomplete"
    response: Response


class ResponseDone(ServerEventBase):
    """Legacy terminal event of early WebSocket mode; treated like `response.completed`."""

    type: Literal["response.done"] = "response.done"
    response: Response


class OutputItemAdded(ServerEventBase):
    type: Literal["response.output_item.added"] = "response.output_item.added"
    output_index: int
    item: Item


class OutputItemDone(ServerEventBase):
    type: Literal["response.output_item.done"] = "response.output_item.done"
    output_index: int
    item: Item


class ContentPartAdded(ServerEventBase):
    type: Literal["response.content_part.added"] = "response.content_part.added"
    item_id: str
    output_index: int
    content_index: int
    part: ContentPart


class ContentPartDone(ServerEventBase):
    type: Literal["response.content_part.done"] = "response.content_part.done"
    item_id: str
    output_index: int
    content_index: int
    part: ContentPart


class OutputTextDelta(ServerEventBase):
    type: Literal["response.output_text.delta"] = "response.output_text.delta"
    item_id: str
    output_index: int
    content_index: int
    delta: str
    logprobs: list[Any] = []


class OutputTextDone(ServerEventBase):
    type: Literal["response.output_text.done"] = "response.output_text.done"
    item_id: str
    output_index: int
    content_index: int
    text: str
    logprobs: list[Any] = []


class RefusalDelta(ServerEventBase):
    type: Literal["response.refusal.delta"] = "response.refusal.delta"
    item_id: str
    output_index: int
    content_index: int
    delta: str


class RefusalDone(ServerEventBase):
    type: Literal["response.refusal.done"] = "response.refusal.done"
    item_id: str
    output_index: int
    content_index: int
    refusal: str


class FunctionCallArgumentsDelta(ServerEventBase):
    type: Literal["response.function_call_arguments.delta"] = "response.function_call_arguments.delta"
    item_id: str
    output_index: int
    delta: str


class FunctionCallArgumentsDone(ServerEventBase):
    type: Literal["response.function_call_arguments.done"] = "response.function_call_arguments.done"
    item_id: str
    output_index: int
    arguments: str
    name: str | None = None


class CustomToolCallInputDelta(ServerEventBase):
    type: Literal["response.custom_tool_call_input.delta"] = "response.custom_tool_call_input.delta"
    item_id: str
    output_index: int
    delta: str


class CustomToolCallInputDone(ServerEventBase):
    type: Literal["response.custom_tool_call_input.done"] = "response.custom_tool_call_input.done"
    item_id: str
    output_index: int
    input: str


class ReasoningSummaryPartAdded(ServerEventBase):
    type: Literal["response.reasoning_summary_part.added"] = "response.reasoning_summary_part.added"
    item_id: str
    output_index: int
    summary_index: int
    part: SummaryText | UnknownPart


class ReasoningSummaryPartDone(ServerEventBase):
    type: Literal["response.reasoning_summary_part.done"] = "response.reasoning_summary_part.done"
    item_id: str
    output_index: int
    summary_index: int
    part: SummaryText | UnknownPart


class ReasoningSummaryTextDelta(ServerEventBase):
    type: Literal["response.reasoning_summary_text.delta"] = "response.reasoning_summary_text.delta"
    item_id: str
    output_index: int
    summary_index: int
    delta: str


class ReasoningSummaryTextDone(ServerEventBase):
    type: Literal["response.reasoning_summary_text.done"] = "response.reasoning_summary_text.done"
    item_id: str
    output_index: int
    summary_index: int
    text: str


class ReasoningTextDelta(ServerEventBase):
    type: Literal["response.reasoning_text.delta"] = "response.reasoning_text.delta"
    item_id: str
    output_index: int
    content_index: int
    delta: str


class ReasoningTextDone(ServerEventBase):
    type: Literal["response.reasoning_text.done"] = "response.reasoning_text.done"
    item_id: str
    output_index: int
    content_index: int
    text: str


class UnknownEvent(CompactWireModel):
    """An event type this client does not model (hosted tools, vendor extras, …); kept verbatim."""

    type: str

    @property
    def sequence_number(self) -> Any:
        """The event's `sequence_number` as sent (not validated), or None."""
        return (self.model_extra or {}).get("sequence_number")


_EVENT_CLASSES: tuple[type[ServerEventBase], ...] = (
    ResponseCreated,
    ResponseInProgress,
    ResponseQueued,
    ResponseCompleted,
    ResponseFailed,
    ResponseIncomplete,
    ResponseDone,
    OutputItemAdded,
    OutputItemDone,
    ContentPartAdded,
    ContentPartDone,
    OutputTextDelta,
    OutputTextDone,
    RefusalDelta,
    RefusalDone,
    FunctionCallArgumentsDelta,
    FunctionCallArgumentsDone,
    CustomToolCallInputDelta,
    CustomToolCallInputDone,
    ReasoningSummaryPartAdded,
    ReasoningSummaryPartDone,
    ReasoningSummaryTextDelta,
    ReasoningSummaryTextDone,
    ReasoningTextDelta,
    ReasoningTextDone,
    ErrorEvent,
)
EVENT_TYPES: dict[str, type[ServerEventBase]] = {cls.model_fields["type"].default: cls for cls in _EVENT_CLASSES}
"""Every modelled event type, by its `type` string."""


def _event_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if isinstance(kind, str) and kind in EVENT_TYPES else "unknown"


ServerEvent = Annotated[
    Annotated[ResponseCreated, Tag("response.created")]
    | Annotated[ResponseInProgress, Tag("response.in_progress")]
    | Annotated[ResponseQueued, Tag("response.queued")]
    | Annotated[ResponseCompleted, Tag("response.completed")]
    | Annotated[ResponseFailed, Tag("response.failed")]
    | Annotated[ResponseIncomplete, Tag("response.incomplete")]
    | Annotated[ResponseDone, Tag("response.done")]
    | Annotated[OutputItemAdded, Tag("response.output_item.added")]
    | Annotated[OutputItemDone, Tag("response.output_item.done")]
    | Annotated[ContentPartAdded, Tag("response.content_part.added")]
    | Annotated[ContentPartDone, Tag("response.content_part.done")]
    | Annotated[OutputTextDelta, Tag("response.output_text.delta")]
    | Annotated[OutputTextDone, Tag("response.output_text.done")]
    | Annotated[RefusalDelta, Tag("response.refusal.delta")]
    | Annotated[RefusalDone, Tag("response.refusal.done")]
    | Annotated[FunctionCallArgumentsDelta, Tag("response.function_call_arguments.delta")]
    | Annotated[FunctionCallArgumentsDone, Tag("response.function_call_arguments.done")]
    | Annotated[CustomToolCallInputDelta, Tag("response.custom_tool_call_input.delta")]
    | Annotated[CustomToolCallInputDone, Tag("response.custom_tool_call_input.done")]
    | Annotated[ReasoningSummaryPartAdded, Tag("response.reasoning_summary_part.added")]
    | Annotated[ReasoningSummaryPartDone, Tag("response.reasoning_summary_part.done")]
    | Annotated[ReasoningSummaryTextDelta, Tag("response.reasoning_summary_text.delta")]
    | Annotated[ReasoningSummaryTextDone, Tag("response.reasoning_summary_text.done")]
    | Annotated[ReasoningTextDelta, Tag("response.reasoning_text.delta")]
    | Annotated[ReasoningTextDone, Tag("response.reasoning_text.done")]
    | Annotated[ErrorEvent, Tag("error")]
    | Annotated[UnknownEvent, Tag("unknown")],
    Discriminator(_event_tag),
]
"""Any server event, discriminated on `type`; unknown types become `UnknownEvent`."""

SERVER_EVENT_ADAPTER: TypeAdapter[ServerEvent] = TypeAdapter(ServerEvent)

TerminalEvent = ResponseCompleted | ResponseFailed | ResponseIncomplete | ResponseDone | ErrorEvent
"""Events after which no more events belong to the response in flight."""


def parse_server_event(data: str | bytes | dict[str, Any]) -> ServerEvent:
    """Fully validate one server event (off the per-token path).

    Raises:
        pydantic.ValidationError: a known event type with fields of the wrong shape, or input
            that is not a JSON object.
    """
    if isinstance(data, dict):
        return SERVER_EVENT_ADAPTER.validate_python(data)
    return SERVER_EVENT_ADAPTER.validate_json(data)
