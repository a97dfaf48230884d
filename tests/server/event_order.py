"""Checks one response's events against the order of the reference (§3.1)."""

from __future__ import annotations

from typing import Any

OPENERS = {
    "message": "response.content_part.added",
    "function_call": None,
    "custom_tool_call": None,
    "reasoning": None,
    "compaction": None,
}


def check_event_order(events: list[dict[str, Any]]) -> None:
    """Assert the lifecycle, per-item nesting, sequence numbers and the final output list."""
    types = [event["type"] for event in events]
    assert types[0] == "response.created", types
    assert events[0]["response"]["status"] == "in_progress"
    assert events[0]["response"]["usage"] is None
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    terminal = events[-1]
    assert terminal["type"] in ("response.completed", "response.failed", "response.incomplete"), types
    if terminal["response"]["output"] == [] and len(events) == 2:
        return  # a warm-up: created → completed
    assert types[1] == "response.in_progress", types

    open_item: dict[str, Any] | None = None
    done_items: list[dict[str, Any]] = []
    state = ""
    for event in events[2:-1]:
        kind = event["type"]
        if kind == "response.output_item.added":
            assert open_item is None, "an item opened while another is open"
            assert event["output_index"] == len(done_items)
            open_item = event["item"]
            state = "added"
            continue
        assert open_item is not None, f"{kind} outside an item"
        assert event.get("output_index") == len(done_items)
        item_type = open_item["type"]
        if kind == "response.output_item.done":
            expected_end = {
                "message": "part_done",
                "function_call": "args_done",
                "custom_tool_call": "input_done",
                "reasoning": ("added", "summary_part_done"),
                "compaction": "added",
            }[item_type]
            assert state in (expected_end if isinstance(expected_end, tuple) else (expected_end,)), (kind, state)
            assert event["item"]["id"] == open_item["id"]
            done_items.append(event["item"])
            open_item = None
            continue
        assert event["item_id"] == open_item["id"]
        transitions = {
            "message": {
                ("added", "response.content_part.added"): "part",
                ("part", "response.output_text.delta"): "part",
                ("part", "response.output_text.done"): "text_done",
                ("text_done", "response.content_part.done"): "part_done",
            },
            "function_call": {
                ("added", "response.function_call_arguments.delta"): "added",
                ("added", "response.function_call_arguments.done"): "args_done",
            },
            "custom_tool_call": {
                ("added", "response.custom_tool_call_input.delta"): "added",
                ("added", "response.custom_tool_call_input.done"): "input_done",
            },
            "reasoning": {
                ("added", "response.reasoning_summary_part.added"): "summary_part",
                ("summary_part_done", "response.reasoning_summary_part.added"): "summary_part",
                ("summary_part", "response.reasoning_summary_text.delta"): "summary_part",
                ("summary_part", "response.reasoning_summary_text.done"): "summary_text_done",
                ("summary_text_done", "response.reasoning_summary_part.done"): "summary_part_done",
            },
        }[item_type]
        assert (state, kind) in transitions, f"{kind} after {state} in a {item_type}"
        state = transitions[(state, kind)]
    assert open_item is None, "response ended with an item still open"
    assert terminal["response"]["output"] == done_items
