"""Wire models of the OpenAI Responses API, shared by the client and `codeassist serve`.

Reference: the Responses WebSocket mode guide and event reference; sections are cited in each
module. Everything tolerates unknown fields and unknown event or item types.
"""

from agent.wire.errors import ErrorEvent, ErrorPayload
from agent.wire.fast import (
    DELTA_EVENT_TYPES,
    TERMINAL_EVENT_TYPES,
    FrameDecodeError,
    decode_frame,
    encode_frame,
)
from agent.wire.items import (
    CustomToolCall,
    CustomToolCallOutput,
    FunctionCall,
    FunctionCallOutput,
    InputImage,
    InputText,
    Item,
    Message,
    OutputText,
    Reasoning,
    SummaryText,
    UnknownItem,
    tool_output_content,
    user_message,
)
from agent.wire.requests import ResponseCreate
from agent.wire.response import Response, Usage

__all__ = [
    "DELTA_EVENT_TYPES",
    "TERMINAL_EVENT_TYPES",
    "CustomToolCall",
    "CustomToolCallOutput",
    "ErrorEvent",
    "ErrorPayload",
    "FrameDecodeError",
    "FunctionCall",
    "FunctionCallOutput",
    "InputImage",
    "InputText",
    "Item",
    "Message",
    "OutputText",
    "Reasoning",
    "Response",
    "ResponseCreate",
    "SummaryText",
    "UnknownItem",
    "Usage",
    "decode_frame",
    "encode_frame",
    "tool_output_content",
    "user_message",
]
