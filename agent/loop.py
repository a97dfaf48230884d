"""The agent loop: `Agent.run_turn(prompt)` streams `AgentEvent`s until the turn ends.

A turn is a sequence of steps. Each step streams one model response; when it completes, every
tool call in it is answered — approved and run, denied, or refused for invalid arguments —
with exactly one output, and the next step sends those outputs. The turn ends when a response
asks for no tools, at the step limit, on an error, or when the user cancels.

A call is decided and run only once its call id is claimed in the session's call ledger
(`agent.call_ledger`): a call id the session already answered, before a restart included, never
runs again. Its arguments are those of the completed response, announced first with a final
`ToolCallReady`. How a step's calls are answered, and which of them run together, is
`agent.loop_calls`.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from typing import TYPE_CHECKING

from agent.approvals import ApprovalGate, Decision
from agent.compaction import CompactionFailed, Compactor
from agent.conversation import Conversation, is_compaction
from agent.cost import SpendingLimits
from agent.events import (
    AgentError,
    AgentEvent,
    CompactionStarted,
    MessageCompleted,
    Notice,
    OutputDiscarded,
    Reconnecting,
    ResponseFinished,
    ResponseStarted,
    TransportChanged,
    TurnEnded,
    TurnEndReason,
    TurnStarted,
    streamed_event,
)
from agent.loop_calls import ABORTED_OUTPUT, PARTIAL_OUTPUT_HEADING, CallAnswering, TurnCancelled
from agent.model_client import (
    CompactionRefused,
    ModelClient,
    ModelError,
    RequestStarted,
    ResponseResult,
    Retrying,
    TransportSwitched,
)
from agent.recorder import SessionRecorder
from agent.stats import ResponseStats, TurnStats
from agent.tools import ToolContext, ToolRegistry
from agent.transport import TransportAborted
from agent.wire import user_message

if TYPE_CHECKING:
    from agent.checkpoints import TurnCheckpoints

__all__ = ["ABORTED_OUTPUT", "PARTIAL_OUTPUT_HEADING", "Agent", "TurnCancelled"]


class _Step:
    """Where `_stream` leaves the result of one step's response."""

    result: ResponseResult | None = None

    def over_window(self) -> bool:
        """Whether the response failed for being over the context window."""
        result = self.result
        error = result.response.get("error") if result is not None and result.status == "failed" else None
        return isinstance(error, dict) and error.get("code") == "context_length_exceeded"


class Agent(CallAnswering):
    """Drives one agent session: the conversation, the model client, tools and approvals.

    Args:
        client: the model client (transports and failure policy).
        conversation: the transcript and request settings.
        tools: the registry of callable tools.
        tool_context: shared tool state (workspace, read hashes, plan).
        approvals: the policy, the session's rules and the decisions waiting for an answer.
        recorder: the session record (`agent.recorder.SessionRecorder`: every yielded event
            and every conversation item go into it), or None to record nothing.
        max_steps: responses per turn before the turn ends with `step_limit`.
        compactor: runs compactions (default: client-side only, no standalone endpoint).
    """

    def __init__(
        self,
        *,
        client: ModelClient,
        conversation: Conversation,
        tools: ToolRegistry,
        tool_context: ToolContext,
        approvals: ApprovalGate,
        recorder: SessionRecorder | None = None,
        max_steps: int = 50,
        compactor: Compactor | None = None,
    ) -> None:
        super().__init__()
        self.client = client
        self.compactor = compactor or Compactor(client, conversation, None)
        self.conversation = conversation
        self.tools = tools
        self.tool_context = tool_context
        self.approvals = approvals
        self.recorder = recorder
        if recorder is not None:
            conversation.on_items = recorder.items
        self.max_steps = max_steps
        self.turns: list[TurnStats] = []
        self.limits: SpendingLimits | None = None
        """Cost and token limits checked between steps (None: none)."""
        self.latest_response: ResponseStats | None = None
        """The latest response of this run that reported usage (its input and output tokens are
        what the next request carries)."""
        self._cancel = asyncio.Event()
        self.checkpoints: TurnCheckpoints | None = None
        """Snapshots the workspace before a turn's first file-changing call and records what the turn
        changed (`agent.checkpoints`; None: no checkpoints)."""
        self._number = 0

    # ---- public API ----------------------------------------------------------------------

    async def warm_up(self) -> ResponseStats | None:
        """Send a `generate:false` request so the first turn can chain from it (WebSocket only).

        Failures are not fatal: the first turn then simply sends everything.
        """
        try:
            result = await self.client.warm_up(self.conversation)
        except (ModelError, TransportAborted):
            return None
        return result.stats if result is not None else None

    def answer_approval(self, call_id: str, decision: Decision) -> bool:
        """Answer the pending approval of `call_id` (see `ApprovalRequested`); False when no
        approval with that id waits."""
        return self.approvals.answer(call_id, decision)

    async def cancel(self) -> None:
        """Cancel the running turn: answer pending approvals with `cancel`, abandon the response
        in flight, stop tools.

        The turn then ends with `TurnEnded(reason="cancelled")`; every unanswered tool call
        gets an "aborted" output so the conversation stays valid for the next prompt.
        """
        self.approvals.cancel_pending()
        self._cancel.set()
        await self.client.abort()

    async def compact(self, focus: str | None = None) -> AsyncGenerator[AgentEvent]:
        """Compact the conversation now (between turns): `CompactionStarted`, then `Compacted`, or
        an `AgentError` saying why not. The events are recorded like a turn's."""
        try:
            async with aclosing(self.compactor.manual(focus)) as events:
                async for event in events:
                    self._emit(event)
                    yield event
        finally:
            if self.recorder is not None:
                self.recorder.flush(durable=True)

    async def run_turn(self, prompt: str, images: Mapping[str, str] | None = None) -> AsyncGenerator[AgentEvent]:
        """Run one user turn, yielding every event; always ends with one `TurnEnded`.

        `images` are attached to the prompt: each image's name (as the user gave it) and its
        `data:` URL. Every event passes through `_emit` on its way out, so the session record
        holds exactly what the caller saw.
        """
        async with aclosing(self._turn(prompt, dict(images or {}))) as events:
            async for event in events:
                self._emit(event)
                yield event

    async def _turn(self, prompt: str, images: dict[str, str]) -> AsyncGenerator[AgentEvent]:
        self._cancel = asyncio.Event()
        number = len(self.turns) + 1
        started = time.monotonic()
        responses: list[ResponseStats] = []
        timers = {"tool_s": 0.0, "approval_wait_s": 0.0, "tool_calls": 0.0}
        if self.checkpoints is not None:  # tells the model what was undone or redone since the last turn
            self.checkpoints.add_note(self.conversation)
        self.conversation.add(user_message(prompt, images.values()))
        self._number = number
        reason: TurnEndReason = "step_limit"
        message: str | None = None
        unsent: list[AgentEvent] = []  # made but not yet yielded: recorded anyway if the caller stops
        ended = False
        try:
            try:
                yield TurnStarted(turn=number, prompt=prompt, images=list(images))
                for step in range(1, self.max_steps + 1):
                    exceeded = self.limits.exceeded(self.turns, responses) if self.limits else None
                    if exceeded is not None:  # between steps: every call of the last one is answered
                        reason, message = "limit_exceeded", exceeded
                        break
                    outcome = _Step()
                    if self.compactor.due():
                        async with aclosing(self._compact_client_side()) as compacting:
                            async for event in compacting:
                                yield event
                    respond = functools.partial(self._stream, step, outcome, responses)
                    recovering = self.compactor.recovering(respond, outcome.over_window)
                    async with aclosing(recovering) as streamed:
                        async for event in streamed:
                            yield event
                    result = outcome.result
                    assert result is not None, "a response ends with its result or raises"
                    if result.status != "completed":
                        reason, message = ("incomplete" if result.status == "incomplete" else "failed"), result.failure
                        if result.status == "incomplete":  # committed: its calls need outputs
                            self._pending_calls = result.calls
                            unsent = [*self._abort_pending(f"not run: {message}")]
                            while unsent:
                                yield unsent.pop(0)
                        break
                    self._pending_calls = result.calls
                    if self._cancel.is_set():
                        raise TurnCancelled
                    if not result.calls:
                        reason = "completed"
                        break
                    async with aclosing(self._answer_calls(result.calls, timers)) as answering:
                        async for event in answering:
                            yield event
                    self._pending_calls = []
                else:
                    message = f"Stopped after {self.max_steps} steps (the step limit)."
            except (TurnCancelled, TransportAborted):
                reason, message = "cancelled", "Cancelled by the user."
                unsent = [*self._abort_pending()]
            except ModelError as exc:
                reason, message = "error", str(exc)
                unsent = [*self._abort_pending(), AgentError(message=str(exc), code=exc.code)]
            except Exception as exc:  # a defect: the turn still ends, and every call keeps its output
                reason, message = "error", f"Internal error: {type(exc).__name__}: {exc}"
                unsent = [*self._abort_pending(), AgentError(message=message, code="internal_error")]
            if self.checkpoints is not None:
                unsent += await self.checkpoints.after_turn(number)
            unsent.append(self._finish_turn(number, started, responses, timers, reason, message))
            ended = True
            while unsent:
                yield unsent.pop(0)
        except (asyncio.CancelledError, GeneratorExit):
            # The task was cancelled, or the caller stopped iterating (`aclose`): nobody takes
            # these events, so they are only recorded.
            for event in [*unsent, *self._abort_pending()]:
                self._emit(event)
            if not ended:
                await asyncio.shield(self.client.abort())
                self._emit(self._finish_turn(number, started, responses, timers, "cancelled", "Cancelled."))
            raise

    # ---- one response ----------------------------------------------------------------------

    async def _compact_client_side(self) -> AsyncGenerator[AgentEvent]:
        """The context reached the threshold on an endpoint without compaction: summarise it (a
        failure is told, and the request goes out as it is)."""
        try:
            async with aclosing(self.compactor.compact("client")) as events:
                async for event in events:
                    yield event
        except CompactionFailed as exc:
            yield Notice(message=f"Compaction failed ({exc}); the conversation is sent as it is.")

    async def _stream(self, step: int, outcome: _Step, responses: list[ResponseStats]) -> AsyncGenerator[AgentEvent]:
        """Stream one response as agent events; its result is left in `outcome`."""
        if self._cancel.is_set():
            raise TurnCancelled
        streamed = False  # whether the current attempt has shown any output
        async with aclosing(self.client.respond(self.conversation, turn_start=step == 1)) as stream:
            async for item in stream:
                if isinstance(item, ResponseResult):
                    outcome.result = item
                    responses.append(item.stats)
                    if item.stats.input_tokens:  # a failed response reports no usage
                        self.latest_response = item.stats
                    compacted = self.compactor.after_response(item.usage)
                    if compacted is not None:
                        yield compacted
                    text = item.text if item.status != "failed" else ""
                    if text:
                        yield MessageCompleted(text=text)
                    yield ResponseFinished(stats=item.stats)
                    if item.repeated_calls:
                        shown = ", ".join(dict.fromkeys(item.repeated_calls))
                        yield Notice(message=f"Repeated tool calls not run again (already answered): {shown}")
                    continue
                if self._cancel.is_set():
                    await self.client.abort()
                    raise TurnCancelled  # closing the response stream breaks the chain
                if isinstance(item, dict):
                    if item.get("type") == "response.output_item.added" and is_compaction(item.get("item") or {}):
                        yield CompactionStarted(mode="auto")
                    translated = streamed_event(item)
                    if translated is not None:
                        streamed = True
                        yield translated
                elif isinstance(item, RequestStarted):
                    plan = item.plan
                    streamed = False
                    yield ResponseStarted(
                        step=step,
                        transport=plan.transport,
                        incremental=plan.incremental,
                        reason=plan.reason,
                        items_sent=plan.items_sent,
                    )
                elif isinstance(item, Retrying):
                    if streamed:
                        streamed = False
                        yield OutputDiscarded(cause=item.cause)
                    yield Reconnecting(attempt=item.attempt, delay_s=item.delay_s, cause=item.cause)
                elif isinstance(item, CompactionRefused):
                    yield Notice(
                        message="The endpoint does not take context_management: codeassist compacts the "
                        f"conversation itself from now on ({item.reason})."
                    )
                elif isinstance(item, TransportSwitched):
                    if streamed:
                        streamed = False
                        yield OutputDiscarded(cause="transport changed")
                    yield TransportChanged(
                        transport=item.transport, reason=item.reason, cause=item.cause, permanent=item.permanent
                    )

    # ---- bookkeeping -----------------------------------------------------------------------

    def _finish_turn(
        self,
        number: int,
        started: float,
        responses: list[ResponseStats],
        timers: dict[str, float],
        reason: TurnEndReason,
        message: str | None,
    ) -> TurnEnded:
        stats = TurnStats(
            turn=number,
            responses=responses,
            total_s=time.monotonic() - started,
            tool_s=timers["tool_s"],
            approval_wait_s=timers["approval_wait_s"],
            tool_calls=int(timers["tool_calls"]),
        )
        self.turns.append(stats)
        return TurnEnded(reason=reason, stats=stats, message=message)

    def _emit(self, event: AgentEvent) -> None:
        """The one place every event passes on its way out: it goes into the session record,
        which flushes durably where a tool may run next, after a result and at turn end."""
        if self.recorder is not None:
            self.recorder.event(event)
        if self.checkpoints is not None:
            self.checkpoints.observe(event)
