"""Errors as the server reports them: the `error` event (both shapes), HTTP error bodies and
`Retry-After`, read in one place for both transports and the model client."""

from __future__ import annotations

import math
import re
from typing import Any, Literal

import orjson
from pydantic import ValidationError

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

    @classmethod
    def lenient(cls, event: dict[str, Any]) -> ErrorEvent:
        """Read an `error` event whatever its field types: a field of the wrong type is read as
        text when it is a number or a boolean, and left out otherwise. Never raises."""
        try:
            return cls.model_validate(event)
        except ValidationError:
            pass
        error = event.get("error")
        status = event.get("status")
        return cls.model_validate(
            {
                **{key: _scalar_text(event.get(key)) for key in ("code", "message", "param")},
                "status": status if isinstance(status, int) and not isinstance(status, bool) else None,
                "error": _lenient_payload(error) if isinstance(error, dict) else None,
                **({"headers": event["headers"]} if isinstance(event.get("headers"), dict) else {}),
                **({"status_code": event["status_code"]} if "status_code" in event else {}),
            }
        )

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
        except (TypeError, ValueError, OverflowError):
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


def _scalar_text(value: Any) -> str | None:
    """A string as is; a number or boolean as its text; anything else None."""
    if isinstance(value, str):
        return value
    return str(value) if isinstance(value, int | float | bool) else None


def _lenient_payload(error: dict[str, Any]) -> dict[str, Any]:
    payload: dict[str, Any] = {key: _scalar_text(error.get(key)) for key in ("type", "code", "param")}
    payload["message"] = _scalar_text(error.get("message")) or ""
    headers = error.get("headers")
    if isinstance(headers, dict):
        payload["headers"] = headers
    return payload


MAX_RETRY_AFTER_S = 300.0
"""The longest wait a server's `Retry-After` (or "try again in …") is followed for."""


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds form, at most `MAX_RETRY_AFTER_S`), None
    when absent or unreadable."""
    if not value or not isinstance(value, str):
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return min(max(0.0, seconds), MAX_RETRY_AFTER_S) if math.isfinite(seconds) else None


_TRY_AGAIN = re.compile(r"try again in (\d+(?:\.\d+)?)\s*(ms|s)")


def retry_after(header: str | None, message: str = "") -> float | None:
    """Seconds to wait: the `Retry-After` header when readable, else "try again in 1.5s" / "…in 20ms"."""
    seconds = parse_retry_after(header)
    if seconds is not None:
        return seconds
    found = _TRY_AGAIN.search(message) if isinstance(message, str) else None
    if found:
        return min(float(found.group(1)) / (1000 if found.group(2) == "ms" else 1), MAX_RETRY_AFTER_S)
    return None


def error_body_payload(body: bytes | None) -> ErrorPayload | None:
    """The `{"error": {...}}` of an HTTP error body (fields of the wrong type read leniently, as in
    `ErrorEvent.lenient`); None when the body is not that shape."""
    if not body:
        return None
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("error"), dict):
        return None
    try:
        return ErrorPayload.model_validate(data["error"])
    except ValidationError:  # a number for a code, a list for a message: read what can be read
        return ErrorPayload.model_validate(_lenient_payload(data["error"]))


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
