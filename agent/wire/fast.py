"""The per-token path: decode a frame, read its `type`, take the delta — no model validation.

A streamed answer arrives as hundreds of delta events a second. Decoding one with orjson and
reading two keys costs well under a microsecond; validating it into a pydantic model costs
several. `bench/wire_decode.py` measures both.
"""

from __future__ import annotations

from typing import Any

import orjson

from agent.wire.event_types import FIRST_TOKEN_EVENTS, STREAM_ENDS

DELTA_EVENT_TYPES = FIRST_TOKEN_EVENTS
"""Event types that only carry a `delta` string to append."""

TERMINAL_EVENT_TYPES = STREAM_ENDS
"""Event types that end the response in flight (`response.done` is the legacy spelling)."""


class FrameDecodeError(ValueError):
    """A frame that is not a JSON object with a string `type`."""


def decode_frame(frame: str | bytes) -> dict[str, Any]:
    """Decode one WebSocket frame or SSE data line into a dict with a string `type`.

    Raises:
        FrameDecodeError: not JSON, not an object, or no string `type`.
    """
    try:
        data = orjson.loads(frame)
    except orjson.JSONDecodeError as exc:
        raise FrameDecodeError(f"frame is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise FrameDecodeError(f"frame is a JSON {type(data).__name__}, not an object")
    if not isinstance(data.get("type"), str):
        raise FrameDecodeError("frame has no string 'type' field")
    return data


def encode_frame(event: dict[str, Any]) -> str:
    """Encode one event as compact JSON text (the form sent on the socket and in SSE)."""
    return orjson.dumps(event).decode()
