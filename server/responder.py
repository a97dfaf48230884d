"""Turns an engine's pieces into the Responses event stream of one response (reference §3.1).

The same events go out as WebSocket frames and as SSE; this module knows neither transport.
"""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncIterator
from typing import Any

from agent.wire import Item, Response, ResponseCreate
from agent.wire.items import (
    CustomToolCall,
    FunctionCall,
    Message,
    OutputText,
    Reasoning,
    SummaryText,
)
from agent.wire.response import IncompleteDetails, InputTokensDetails, OutputTokensDetails, ResponseError, Usage
from server.context_window import ContextPlan, item_tokens, prefix_of, prefix_tokens
from server.engines import Generation
from server.engines.base import (
    ITEM,
    Delta,
    EndItem,
    Fail,
    HostedCall,
    Incomplete,
    NextSummaryPart,
    StartCustomToolCall,
    StartFunctionCall,
    StartMessage,
    StartReasoning,
)
from server.state import ServerState, StoredResponse
from server.tokens import text_tokens


class _OpenItem:
    """The output item being streamed."""

    def __init__(self, kind: str, item_id: str, output_index: int, **fields: Any) -> None:
        self.kind = kind
        self.id = item_id
        self.output_index = output_index
        self.fields = fields
        self.text = ""
        self.summary: list[str] = []
        self.part_open = False


class ResponseRun:
    """One response: iterate `events()`; afterwards `outcome` and `stored` say how it ended.

    `outcome` is "completed", "incomplete" or "failed"; `stored` is the chainable state of a
    response that did not fail.
    """

    def __init__(self, state: ServerState, request: ResponseCreate, plan: ContextPlan) -> None:
        self.state = state
        self.request = request
        self.plan = plan
        self.id = state.ids.new("resp")
        self.created_at = int(time.time())
        self.turn = plan.turn
        """Which scripted turn this is: how many model outputs the context already holds."""
        self.output: list[Item] = []
        self.outcome: str | None = None
        self.stored: StoredResponse | None = None
        self._sequence = 0
        self._output_tokens = 0
        self._reasoning_tokens = 0

    # ---- event helpers -------------------------------------------------------------------

    def _event(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return event

    def _response(self, status: str, **fields: Any) -> dict[str, Any]:
        request = self.request
        response = Response(
            id=self.id,
            created_at=self.created_at,
            status=status,
            model=request.model or self.state.engine.model,
            output=list(self.output),
            instructions=request.instructions,
            tools=request.tools or [],
            tool_choice=request.tool_choice if request.tool_choice is not None else "auto",
            parallel_tool_calls=request.parallel_tool_calls if request.parallel_tool_calls is not None else True,
            previous_response_id=request.previous_response_id,
            store=request.store if request.store is not None else True,
            reasoning=request.reasoning,
            text=request.text or {"format": {"type": "text"}},
            temperature=request.temperature,
            top_p=request.top_p,
            truncation=request.truncation or "disabled",
            max_output_tokens=request.max_output_tokens,
            metadata=request.metadata or {},
            prompt_cache_key=request.prompt_cache_key,
            service_tier=request.service_tier or "default",
            background=False,
            **fields,
        )
        return response.model_dump(mode="json")

    def _usage(self) -> Usage:
        input_tokens = self.plan.input_tokens
        return Usage(
            input_tokens=input_tokens,
            input_tokens_details=InputTokensDetails(cached_tokens=self.plan.cached_tokens),
            output_tokens=self._output_tokens,
            output_tokens_details=OutputTokensDetails(reasoning_tokens=self._reasoning_tokens),
            total_tokens=input_tokens + self._output_tokens,
        )

    def _zero_usage(self) -> Usage:
        return Usage(
            input_tokens=0,
            input_tokens_details=InputTokensDetails(cached_tokens=0),
            output_tokens=0,
            output_tokens_details=OutputTokensDetails(reasoning_tokens=0),
            total_tokens=0,
        )

    def _finish(self, outcome: str, usage: Usage, **fields: Any) -> dict[str, Any]:
        self.outcome = outcome
        status = {"completed": "completed", "failed": "failed", "incomplete": "incomplete"}[outcome]
        response = self._response(status, usage=usage, completed_at=int(time.time()), **fields)
        if outcome != "failed":
            self.stored = StoredResponse(
                id=self.id,
                context=[*self.plan.kept_context, *self.output],
                context_tokens=self.plan.kept_tokens + item_tokens(self.output),
                prefix=prefix_of(self.request),
                prefix_tokens=prefix_tokens(self.request),
                response=response,
            )
        return self._event(f"response.{outcome}", response=response)

    # ---- the stream ----------------------------------------------------------------------

    async def events(self) -> AsyncIterator[dict[str, Any]]:
        """The response's events, `response.created` first and a terminal event last."""
        yield self._event("response.created", response=self._response("in_progress"))
        if self.request.generate is False:
            yield self._finish("completed", self._zero_usage())
            return
        yield self._event("response.in_progress", response=self._response("in_progress"))
        if self.plan.compaction is not None:
            for event in self._compaction(self.plan.compaction):
                yield event

        generation = Generation(self.request, self.plan.engine_context, self.turn, self.plan.newest_input)
        open_item: _OpenItem | None = None
        async for piece in self.state.engine.generate(generation):
            match piece:
                case Delta(text=text):
                    if open_item is None:
                        continue
                    for event in self._delta(open_item, text):
                        yield event
                case NextSummaryPart():
                    if open_item is not None and open_item.part_open:
                        for event in self._close_summary_part(open_item):
                            yield event
                case EndItem():
                    if open_item is not None:
                        for event in self._close(open_item):
                            yield event
                    open_item = None
                case Fail(code=code, message=message):
                    yield self._finish("failed", self._usage(), error=ResponseError(code=code, message=message))
                    return
                case Incomplete(reason=reason):
                    yield self._finish("incomplete", self._usage(), incomplete_details=IncompleteDetails(reason=reason))
                    return
                case HostedCall(item=hosted):
                    for event in self._hosted_call(hosted):
                        yield event
                case _:
                    open_item, opening = self._open(piece)
                    for event in opening:
                        yield event
        yield self._finish("completed", self._usage())

    def _compaction(self, item: Item) -> list[dict[str, Any]]:
        index = len(self.output)
        self.output.append(item)
        dumped = item.model_dump(mode="json")
        return [
            self._event("response.output_item.added", output_index=index, item=dumped),
            self._event("response.output_item.done", output_index=index, item=dumped),
        ]

    def _hosted_call(self, hosted: dict[str, Any]) -> list[dict[str, Any]]:
        """A hosted tool call the endpoint ran (`web_search_call`): added, its progress, done."""
        index = len(self.output)
        item = ITEM.validate_python(hosted)
        self.output.append(item)
        kind = hosted["type"]
        where = {"item_id": hosted["id"], "output_index": index}
        return [
            self._event("response.output_item.added", output_index=index, item={**hosted, "status": "in_progress"}),
            self._event(f"response.{kind}.in_progress", **where),
            self._event(f"response.{kind}.searching", **where),
            self._event(f"response.{kind}.completed", **where),
            self._event("response.output_item.done", output_index=index, item=item.model_dump(mode="json")),
        ]

    def _open(self, piece: Any) -> tuple[_OpenItem, list[dict[str, Any]]]:
        index = len(self.output)
        match piece:
            case StartMessage(annotations=annotations):
                item = _OpenItem("message", self.state.ids.new("msg"), index, annotations=list(annotations))
                added = {"id": item.id, "type": "message", "status": "in_progress", "role": "assistant", "content": []}
                part = {"type": "output_text", "text": "", "annotations": []}
                return item, [
                    self._event("response.output_item.added", output_index=index, item=added),
                    self._event(
                        "response.content_part.added", item_id=item.id, output_index=index, content_index=0, part=part
                    ),
                ]
            case StartReasoning(encrypted_content=encrypted):
                item = _OpenItem("reasoning", self.state.ids.new("rs"), index, encrypted_content=encrypted)
                added = {"id": item.id, "type": "reasoning", "summary": []}
            case StartFunctionCall(name=name, call_id=call_id):
                item = _OpenItem("function_call", self.state.ids.new("fc"), index, name=name, call_id=call_id)
                added = {
                    "id": item.id,
                    "type": "function_call",
                    "status": "in_progress",
                    "call_id": call_id,
                    "name": name,
                    "arguments": "",
                }
            case StartCustomToolCall(name=name, call_id=call_id):
                item = _OpenItem("custom_tool_call", self.state.ids.new("ctc"), index, name=name, call_id=call_id)
                added = {
                    "id": item.id,
                    "type": "custom_tool_call",
                    "status": "in_progress",
                    "call_id": call_id,
                    "name": name,
                    "input": "",
                }
            case _:
                raise TypeError(f"unexpected engine piece {piece!r}")
        return item, [self._event("response.output_item.added", output_index=index, item=added)]

    def _delta(self, item: _OpenItem, text: str) -> list[dict[str, Any]]:
        item.text += text
        tokens = text_tokens(text)
        self._output_tokens += tokens
        where = {"item_id": item.id, "output_index": item.output_index}
        if item.kind == "message":
            return [self._event("response.output_text.delta", **where, content_index=0, delta=text, logprobs=[])]
        if item.kind == "function_call":
            return [self._event("response.function_call_arguments.delta", **where, delta=text)]
        if item.kind == "custom_tool_call":
            return [self._event("response.custom_tool_call_input.delta", **where, delta=text)]
        self._reasoning_tokens += tokens
        events = []
        if not item.part_open:
            item.part_open = True
            events.append(
                self._event(
                    "response.reasoning_summary_part.added",
                    **where,
                    summary_index=len(item.summary),
                    part={"type": "summary_text", "text": ""},
                )
            )
        events.append(
            self._event("response.reasoning_summary_text.delta", **where, summary_index=len(item.summary), delta=text)
        )
        return events

    def _close_summary_part(self, item: _OpenItem) -> list[dict[str, Any]]:
        where = {"item_id": item.id, "output_index": item.output_index, "summary_index": len(item.summary)}
        text, item.text, item.part_open = item.text, "", False
        item.summary.append(text)
        return [
            self._event("response.reasoning_summary_text.done", **where, text=text),
            self._event("response.reasoning_summary_part.done", **where, part={"type": "summary_text", "text": text}),
        ]

    def _close(self, item: _OpenItem) -> list[dict[str, Any]]:
        where = {"item_id": item.id, "output_index": item.output_index}
        events: list[dict[str, Any]] = []
        done: Item
        if item.kind == "message":
            annotations = item.fields["annotations"]
            events += [
                self._event(
                    "response.output_text.annotation.added",
                    **where,
                    content_index=0,
                    annotation_index=number,
                    annotation=annotation,
                )
                for number, annotation in enumerate(annotations)
            ]
            part = {"type": "output_text", "text": item.text, "annotations": annotations}
            events.append(
                self._event("response.output_text.done", **where, content_index=0, text=item.text, logprobs=[])
            )
            events.append(self._event("response.content_part.done", **where, content_index=0, part=part))
            done = Message(
                id=item.id,
                role="assistant",
                status="completed",
                content=[OutputText(text=item.text, annotations=annotations)],
            )
        elif item.kind == "function_call":
            events.append(
                self._event(
                    "response.function_call_arguments.done", **where, name=item.fields["name"], arguments=item.text
                )
            )
            done = FunctionCall(
                id=item.id,
                call_id=item.fields["call_id"],
                name=item.fields["name"],
                arguments=item.text,
                status="completed",
            )
        elif item.kind == "custom_tool_call":
            events.append(self._event("response.custom_tool_call_input.done", **where, input=item.text))
            done = CustomToolCall(
                id=item.id,
                call_id=item.fields["call_id"],
                name=item.fields["name"],
                input=item.text,
                status="completed",
            )
        else:
            if item.part_open:
                events.extend(self._close_summary_part(item))
            done = Reasoning(
                id=item.id,
                summary=[SummaryText(text=text) for text in item.summary],
                encrypted_content=self._encrypted_reasoning(item),
            )
        self.output.append(done)
        events.append(
            self._event("response.output_item.done", output_index=item.output_index, item=done.model_dump(mode="json"))
        )
        return events

    def _encrypted_reasoning(self, item: _OpenItem) -> str | None:
        if "reasoning.encrypted_content" not in (self.request.include or []):
            return None
        given = item.fields.get("encrypted_content")
        return given or "enc_" + base64.b64encode("\n".join(item.summary).encode()).decode()
