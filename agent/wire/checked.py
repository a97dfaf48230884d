"""Checked reads of server events: every field the client uses, type-checked before it is used.

A server (or a proxy in between) can send an event of a known type whose fields have the wrong
types: an `item` that is a string, an integer `call_id`, a `response` that is a list. The model
client runs `check_event` on each event before reading it; a `MalformedEvent` then ends the
response as a protocol error instead of an exception somewhere further on.

Only the fields the client reads are checked, and deltas (one per token) cost two `isinstance`
tests: events stay plain dicts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent.wire.event_types import FIRST_TOKEN_EVENTS, TERMINALS, TOOL_ITEM_TYPES

__all__ = [
    "MalformedEvent",
    "check_event",
    "event_item",
    "event_response",
    "optional_text",
    "response_id",
]


class MalformedEvent(ValueError):
    """An event of a known type whose fields the client reads are missing or wrongly typed."""


def optional_text(value: Any) -> str | None:
    """`value` when it is a string, else None."""
    return value if isinstance(value, str) else None


def event_response(event: dict[str, Any]) -> dict[str, Any]:
    """The `response` object of a lifecycle event ({} when absent or not an object)."""
    response = event.get("response")
    return response if isinstance(response, dict) else {}


def response_id(event: dict[str, Any]) -> str | None:
    """The response id a lifecycle event carries, if it carries a string one."""
    response = event.get("response")
    return optional_text(response.get("id")) if isinstance(response, dict) else None


def event_item(event: dict[str, Any]) -> dict[str, Any]:
    """The `item` of an `output_item.*` event ({} when absent or not an object)."""
    item = event.get("item")
    return item if isinstance(item, dict) else {}


def _delta(event: dict[str, Any]) -> None:
    if not isinstance(event.get("delta"), str):
        raise MalformedEvent("its 'delta' is not a string")
    item_id = event.get("item_id")
    if item_id is not None and not isinstance(item_id, str):
        raise MalformedEvent("its 'item_id' is not a string")


def _lifecycle(event: dict[str, Any]) -> None:
    response = event.get("response")
    if response is None:
        return
    if not isinstance(response, dict):
        raise MalformedEvent("its 'response' is not an object")
    if response.get("id") is not None and not isinstance(response["id"], str):
        raise MalformedEvent("its 'response.id' is not a string")


def _terminal(event: dict[str, Any]) -> None:
    response = event.get("response")
    if not isinstance(response, dict):
        raise MalformedEvent("it has no 'response' object")
    _lifecycle(event)
    output = response.get("output")
    if output is not None and not isinstance(output, list):
        raise MalformedEvent("its 'response.output' is not a list")


def _item(event: dict[str, Any], *, done: bool) -> None:
    item = event.get("item")
    if not isinstance(item, dict):
        raise MalformedEvent("its 'item' is not an object")
    kind = item.get("type")
    if kind is not None and not isinstance(kind, str):
        raise MalformedEvent("its 'item.type' is not a string")
    if item.get("id") is not None and not isinstance(item["id"], str):
        raise MalformedEvent("its 'item.id' is not a string")
    if kind not in TOOL_ITEM_TYPES:
        return
    call_id, name = item.get("call_id"), item.get("name")
    if not isinstance(call_id, str) or not call_id:
        raise MalformedEvent("its tool call has no string 'call_id'")
    if not isinstance(name, str):
        raise MalformedEvent("its tool call has no string 'name'")
    if done:
        field = "arguments" if kind == "function_call" else "input"
        if not isinstance(item.get(field), str):
            raise MalformedEvent(f"its tool call's '{field}' is not a string")


def _item_added(event: dict[str, Any]) -> None:
    _item(event, done=False)


def _item_done(event: dict[str, Any]) -> None:
    _item(event, done=True)


_CHECKS: dict[str, Callable[[dict[str, Any]], None]] = {
    **dict.fromkeys(FIRST_TOKEN_EVENTS, _delta),
    **dict.fromkeys(TERMINALS, _terminal),
    "response.created": _lifecycle,
    "response.in_progress": _lifecycle,
    "response.output_item.added": _item_added,
    "response.output_item.done": _item_done,
}
"""The check of each event type whose fields the client reads (`error` events are read
leniently instead: `agent.wire.errors.ErrorEvent.lenient`)."""


def check_event(event: dict[str, Any]) -> None:
    """Check the fields the client reads of `event` (a decoded frame with a string `type`).

    Raises:
        MalformedEvent: a field the client reads is missing or has the wrong type; the message
            names the event type and the field.
    """
    check = _CHECKS.get(event["type"])
    if check is not None:
        try:
            check(event)
        except MalformedEvent as exc:
            raise MalformedEvent(f"{event['type']}: {exc}") from None
