"""Putting a resumed conversation back on screen (nothing is re-run)."""

from __future__ import annotations

from agent.wire import FunctionCall, FunctionCallOutput, Item, Message
from agent.wire.items import CustomToolCall, CustomToolCallOutput
from tui.router import EventRouter
from tui.widgets.transcript import AssistantMessage, ToolCard, UserMessage


async def render_history(router: EventRouter, items: list[Item]) -> None:
    """Mount the transcript of `items`: prompts, answers and tool calls with their outputs."""
    outputs = {
        item.call_id: item.output if isinstance(item.output, str) else str(item.output)
        for item in items
        if isinstance(item, FunctionCallOutput | CustomToolCallOutput)
    }
    for item in items:
        if isinstance(item, Message) and item.role == "user":
            await router.mount(UserMessage(item.text().split("\n\n[Attached @", 1)[0]))
        elif isinstance(item, Message) and item.role == "assistant":
            answer = AssistantMessage()
            await router.mount(answer)
            answer.append_text(item.text())
            await answer.finish()
            router.last_answer = answer.text
        elif isinstance(item, FunctionCall | CustomToolCall):
            card = ToolCard(item.call_id, item.name)
            await router.mount(card)
            card.set_arguments(item.arguments if isinstance(item, FunctionCall) else item.input)
            output = outputs.get(item.call_id, "")
            card.finish("ok" if output else "aborted", output, 0.0, None)
