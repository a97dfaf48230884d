"""Input and output items of the Responses API (reference §4), and their content parts.

Known item types get a model; anything else becomes `UnknownItem` with every field kept, so a
server that adds item types (hosted tools, compaction, …) never makes parsing fail.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Tag

from agent.wire._base import CompactWireModel


class InputText(CompactWireModel):
    type: Literal["input_text"] = "input_text"
    text: str


class InputImage(CompactWireModel):
    """An image given to the model: a `data:` URL (or an https URL) and how closely to look."""

    type: Literal["input_image"] = "input_image"
    image_url: str
    detail: Literal["auto", "low", "high"] = "auto"


class OutputText(CompactWireModel):
    type: Literal["output_text"] = "output_text"
    text: str
    annotations: list[Any] = []


class Refusal(CompactWireModel):
    type: Literal["refusal"] = "refusal"
    refusal: str


class SummaryText(CompactWireModel):
    type: Literal["summary_text"] = "summary_text"
    text: str


class ReasoningText(CompactWireModel):
    type: Literal["reasoning_text"] = "reasoning_text"
    text: str


class UnknownPart(CompactWireModel):
    """A content part of a type this client does not model (images, files, audio, …)."""

    type: str


_PART_TYPES = frozenset({"input_text", "input_image", "output_text", "refusal", "summary_text", "reasoning_text"})


def _part_tag(value: Any) -> str:
    kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return kind if isinstance(kind, str) and kind in _PART_TYPES else "unknown"


ContentPart = Annotated[
    Annotated[InputText, Tag("input_text")]
    | Annotated[InputImage, Tag("input_image")]
    | Annotated[OutputText, Tag("output_text")]
    | Annotated[Refusal, Tag("refusal")]
    | Annotated[SummaryText, Tag("summary_text")]
    | Annotated[ReasoningText, Tag("reasoning_text")]
    | Annotated[UnknownPart, Tag("unknown")],
    Discriminator(_part_tag),
]
"""One part of a message's `content` list, discriminated on `type`."""


class Message(CompactWireModel):
    """A message item. Input messages may omit `type` (the API's "easy input message")."""

    type: Literal["message"] = "message"
    id: str | None = None
    role: Literal["user", "assistant", "system", "developer"]
    content: str | list[ContentPart]
    status: str | None = None

    def text(self) -> str:
        """The concatenated text of the message's text parts."""
        if isinstance(self.content, str):
            return self.content
        return "".join(text for part in self.content if isinstance(text := getattr(part, "text", None), str))


class FunctionCall(CompactWireModel):
    type: Literal["function_call"] = "function_call"
    id: str | None = None
    call_id: str
    name: str
    arguments: str
    status: str | None = None

    @property
    def raw_input(self) -> str:
        """What the model sent the tool: its JSON arguments."""
        return self.arguments


class FunctionCallOutput(CompactWireModel):
    type: Literal["function_call_output"] = "function_call_output"
    id: str | None = None
    call_id: str
    output: str | list[ContentPart]
    status: str | None = None


class Reasoning(CompactWireModel):
    """A reasoning item; `encrypted_content` lets a `store:false` client resend it later."""

    type: Literal["reasoning"] = "reasoning"
    id: str | None = None
    summary: list[SummaryText | UnknownPart] = []
    content: list[ReasoningText | UnknownPart] | None = None
    encrypted_content: str | None = None
    status: str | None = None


class CustomToolCall(CompactWireModel):
    type: Literal["custom_tool_call"] = "custom_tool_call"
    id: str | None = None
    call_id: str
    name: str
    input: str
    status: str | None = None

    @property
    def raw_input(self) -> str:
        """What the model sent the tool: its freeform input."""
        return self.input


class CustomToolCallOutput(CompactWireModel):
    type: Literal["custom_tool_call_output"] = "custom_tool_call_output"
    id: str | None = None
    call_id: str
    output: str | list[ContentPart]


class UnknownItem(CompactWireModel):
    """An item of a type this client does not model; kept verbatim."""

    type: str


_ITEM_TYPES = frozenset(
    {
        "message",
        "function_call",
        "function_call_output",
        "reasoning",
        "custom_tool_call",
        "custom_tool_call_output",
    }
)


def _item_tag(value: Any) -> str:
    if isinstance(value, dict):
        kind = value.get("type")
        if kind is None and "role" in value:
            return "message"
    else:
        kind = getattr(value, "type", None)
    return kind if isinstance(kind, str) and kind in _ITEM_TYPES else "unknown"


Item = Annotated[
    Annotated[Message, Tag("message")]
    | Annotated[FunctionCall, Tag("function_call")]
    | Annotated[FunctionCallOutput, Tag("function_call_output")]
    | Annotated[Reasoning, Tag("reasoning")]
    | Annotated[CustomToolCall, Tag("custom_tool_call")]
    | Annotated[CustomToolCallOutput, Tag("custom_tool_call_output")]
    | Annotated[UnknownItem, Tag("unknown")],
    Discriminator(_item_tag),
]
"""Any input or output item, discriminated on `type` (a missing `type` with a `role` is a message)."""

ToolCallItem = FunctionCall | CustomToolCall
"""The output items that ask the client to run a tool."""


def user_message(text: str, images: Iterable[str] = ()) -> Message:
    """A user message item: one `input_text` part, then an `input_image` part per image URL."""
    return Message(role="user", content=[InputText(text=text), *(InputImage(image_url=url) for url in images)])


def tool_output_content(text: str, images: Iterable[str] = ()) -> str | list[ContentPart]:
    """A tool call's `output`: the text alone, or a text part followed by one `input_image` part
    per image URL when the tool returned images."""
    urls = list(images)
    if not urls:
        return text
    return [InputText(text=text), *(InputImage(image_url=url) for url in urls)]


def assistant_text(items: list[Item]) -> str:
    """The assistant's text in `items`: every output text and refusal part, in order."""
    parts: list[str] = []
    for item in items:
        if isinstance(item, Message) and item.role == "assistant" and not isinstance(item.content, str):
            for part in item.content:
                if isinstance(part, OutputText):
                    parts.append(part.text)
                elif isinstance(part, Refusal):
                    parts.append(part.refusal)
    return "".join(parts)
