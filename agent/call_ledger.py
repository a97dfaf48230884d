"""The call ledger: a tool call id runs at most once per session, whatever the server repeats.

The ledger is kept by the conversation from its items: a call id is *called* once a tool call
item with it is in the transcript, and *answered* once an output for it is. The transcript is
what the session record holds and what resume restores, so the ledger is persisted with it and
honoured after `--continue` (an interrupted call is answered there too, as interrupted). On top
of that, the loop *claims* a call id before it decides and runs the call; a claimed or answered
id is never claimed again.

A server that repeats itself — a duplicated `response.completed` or `output_item.done`, the same
call id twice in one response, a call id reused by a later response — therefore never runs
anything twice: the model client drops repeated tool calls before it commits a response
(`without_repeated_calls`), and the loop runs only what it could claim.
"""

from __future__ import annotations

from collections.abc import Iterable

from agent.wire.items import CustomToolCall, CustomToolCallOutput, FunctionCall, FunctionCallOutput, Item

__all__ = ["CallLedger"]


class CallLedger:
    """Which call ids the session has called, answered and claimed."""

    def __init__(self) -> None:
        self.called: set[str] = set()
        """Call ids of the tool call items in the transcript."""
        self.answered: set[str] = set()
        """Call ids that have an output in the transcript."""
        self._claimed: set[str] = set()

    def note(self, items: Iterable[Item]) -> None:
        """Take in items that joined the transcript."""
        for item in items:
            if isinstance(item, FunctionCall | CustomToolCall):
                self.called.add(item.call_id)
            elif isinstance(item, FunctionCallOutput | CustomToolCallOutput):
                self.answered.add(item.call_id)

    def known(self, call_id: str) -> bool:
        """Whether `call_id` was called or answered before (in this session or a resumed one)."""
        return call_id in self.called or call_id in self.answered

    def without_repeated_calls(self, output: list[Item]) -> tuple[list[Item], list[str]]:
        """`output` without the tool calls whose call id is known or came earlier in `output`,
        and the call ids of those left out."""
        kept: list[Item] = []
        left_out: list[str] = []
        seen: set[str] = set()
        for item in output:
            if isinstance(item, FunctionCall | CustomToolCall):
                if item.call_id in seen or self.known(item.call_id):
                    left_out.append(item.call_id)
                    continue
                seen.add(item.call_id)
            kept.append(item)
        return kept, left_out

    def claim(self, call_id: str) -> bool:
        """Take `call_id` for deciding and running: True once, False when it was claimed or
        answered before (then nothing may run for it)."""
        if call_id in self._claimed or call_id in self.answered:
            return False
        self._claimed.add(call_id)
        return True
