"""Errors as the server reports them: the `error` event (both shapes), HTTP error bodies and
`Retry-After`, read in one place for both transports and the model client."""

from __future__ import annotations

import re
from typing import Any, Literal

import orjson

from agent.wire._base import CompactWireModel, ServerEventBase


class ErrorPayload(CompactWireModel):
    type: str | None = None
    code: str | None = None
    message: str = ""
    param: str | None = None
    headers: dict[str, Any] | None = None


class ErrorEvent(ServerEventBase):
    """An `error` event in either shape.

    Nested (WebSocket envelope): `{"type":"error","status":400,"error":{type,code,message,param}}`.
    Flat (SSE, early WebSocket): `{"type":"error","code":…,"message":…,"param":…}`.
    Read it through `error_code`, `error_message` and `http_status`, which cover both.
    """

    type: Literal["error"] = "error"
    status: int | None = None
    error: ErrorPayload | None = None
    code: str | None = None
    message: str | None = None
    param: str | None = None

    @property
    def error_code(self) -> str | None:
        return (self.error.code if self.error else None) or self.code

    @property
    def error_message(self) -> str:
        return (self.error.message if self.error else None) or self.message or ""

    @property
    def error_type(self) -> str | None:
        return self.error.type if self.error else None

    @property
    def http_status(self) -> int | None:
        explicit = self.status or (self.model_extra or {}).get("status_code")
        try:
            return int(explicit) if explicit is not None else None
        except (TypeError, ValueError):
            return None

    @property
    def headers(self) -> dict[str, str]:
        top = (self.model_extra or {}).get("headers")
        nested = self.error.headers if self.error else None
        merged: dict[str, str] = {}
        for source in (top, nested):
            if isinstance(source, dict):
                merged.update({str(k).lower(): str(v) for k, v in source.items()})
        return merged

    @property
    def retry_after(self) -> float | None:
        """Seconds the server asked to wait: its `Retry-After` header, else "try again in …" in the message."""
        return retry_after(self.headers.get("retry-after"), self.error_message)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds form), None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


_TRY_AGAIN = re.compile(r"try again in (\d+(?:\.\d+)?)\s*(ms|s)")


def retry_after(header: str | None, message: str = "") -> float | None:
    """Seconds to wait: the `Retry-After` header when readable, else "try again in 1.5s" / "…in 20ms"."""
    seconds = parse_retry_after(header)
    if seconds is not None:
        return seconds
    found = _TRY_AGAIN.search(message)
    if found:
        return float(found.group(1)) / (1000 if found.group(2) == "ms" else 1)
    return None


def error_body_payload(body: bytes | None) -> ErrorPayload | None:
    """The `{"error": {...}}` of an HTTP error body; None when the body is not that shape."""
    if not body:
        return None
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(data, dict) and isinstance(data.get("error"), dict):
        return ErrorPayload.model_validate(data["error"])
    return None


def error_body_message(body: bytes | None) -> str:
    """A short message from an HTTP error body: its `error.message`, else the start of the text."""
    if not body:
        return ""
    payload = error_body_payload(body)
    if payload is not None:
        return payload.message
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:200].decode(errors="replace").strip()
    return ""
