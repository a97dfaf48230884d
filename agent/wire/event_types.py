"""The server event types the client reasons about, each set defined once.

Everything that asks "is this a token?", "has the response ended?" or "is this a tool call?"
(the model client, the agent loop, replay, resume, the benchmarks) imports these sets.
"""

from __future__ import annotations

TEXT_DELTAS = frozenset({"response.output_text.delta", "response.refusal.delta"})
"""Deltas of the assistant's visible answer."""

REASONING_DELTAS = frozenset({"response.reasoning_summary_text.delta", "response.reasoning_text.delta"})
"""Deltas of the model's reasoning (summary or raw text)."""

ARGUMENT_DELTAS = frozenset({"response.function_call_arguments.delta", "response.custom_tool_call_input.delta"})
"""Deltas of a tool call's arguments (function) or input (custom tool)."""

FIRST_TOKEN_EVENTS = TEXT_DELTAS | REASONING_DELTAS | ARGUMENT_DELTAS
"""Every delta that carries an output token: the first one marks time to first token."""

TERMINALS = frozenset({"response.completed", "response.incomplete", "response.failed", "response.done"})
"""Lifecycle events that end a response (`response.done` is the legacy spelling of completed)."""

COMMITTED_TERMINALS = frozenset({"response.completed", "response.incomplete", "response.done"})
"""Terminal events whose output joins the transcript (a failed response's output does not)."""

ERROR = "error"
"""The `error` event: it ends the request in flight without a response."""

STREAM_ENDS = TERMINALS | {ERROR}
"""Every event after which a transport stops reading a request's stream."""

TOOL_ITEM_TYPES = frozenset({"function_call", "custom_tool_call"})
"""Output item types that are tool calls the client must answer."""
