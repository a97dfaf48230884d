"""Answering the tool calls of a completed response: every call gets exactly one output.

A call is answered only once its call id is claimed in the call ledger: it is decided (by a rule,
the policy or a person) and run, or refused (invalid arguments, a denial).

Calls are answered in call order, one at a time, except runs of calls that may go together: a
call whose tool is `parallel_safe` (it changes nothing) and which the approval gate settles
without asking anyone joins the calls of that kind just before it, and such a group runs
concurrently. Any other call is a barrier: it waits for the group before it and runs alone. All
the calls of a group are announced (`ToolCallReady`, final) before the first starts; their
`ToolFinished` events come as each call finishes, but their outputs enter the conversation in
call order, so the next request sends them in that order. A call of a group has no live output
(`ToolContext.live` belongs to the one call running alone).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from typing import TYPE_CHECKING, Any, TypeVar

from agent.approvals import ApprovalGate, ApprovalRequest, Decision
from agent.conversation import Conversation
from agent.events import (
    AgentEvent,
    ApprovalDecided,
    ApprovalRequested,
    ToolCallReady,
    ToolFinished,
    ToolOutput,
    ToolStatus,
)
from agent.sandbox import escalated
from agent.tools import LiveOutput, Tool, ToolArgs, ToolContext, ToolError, ToolRegistry, ToolResult
from agent.wire import CustomToolCallOutput, FunctionCallOutput, tool_output_content
from agent.wire.items import CustomToolCall, ToolCallItem

if TYPE_CHECKING:
    from agent.checkpoints import TurnCheckpoints

T = TypeVar("T")

ABORTED_OUTPUT = "aborted: the user cancelled the turn before this call finished; its outcome is unknown."
PARTIAL_OUTPUT_HEADING = "Output before it was stopped:"
"""Between `ABORTED_OUTPUT` and what a cancelled call had printed (when it printed anything)."""
LIVE_OUTPUT_INTERVAL_S = 0.1
"""At most one `ToolOutput` per running call in this many seconds."""


class TurnCancelled(Exception):
    """The user cancelled the turn (raised inside the loop, never out of `run_turn`)."""


@dataclasses.dataclass(frozen=True)
class _Settled:
    """A call that may run in a group: its tool, its arguments and its approval request, settled."""

    call: ToolCallItem
    tool: Tool[Any]
    args: ToolArgs
    request: ApprovalRequest


class _GroupMemberEnded:
    """Put on a group's queue when one of its calls has yielded its last event."""


_MEMBER_ENDED = _GroupMemberEnded()


class CallAnswering:
    """How `agent.loop.Agent` answers the tool calls of a step (it holds the state named here)."""

    conversation: Conversation
    tools: ToolRegistry
    tool_context: ToolContext
    approvals: ApprovalGate
    checkpoints: TurnCheckpoints | None
    _cancel: asyncio.Event
    _number: int
    _emit: Callable[[AgentEvent], None]

    def __init__(self) -> None:
        self._pending_calls: list[ToolCallItem] = []
        self._running: dict[str, float] = {}
        """call_id → when each call of the current step that is running started."""
        self._partial: dict[str, str] = {}
        """call_id → what a cancelled call had printed (kept in its aborted output)."""
        self._group_order: list[str] = []
        """The call ids of the running group whose outputs have not entered the conversation yet."""
        self._held: dict[str, FunctionCallOutput | CustomToolCallOutput] = {}
        """Outputs of a group's calls that finished before an earlier call of the group."""

    # ---- the calls of a step -----------------------------------------------------------------

    async def _answer_calls(self, calls: list[ToolCallItem], timers: dict[str, float]) -> AsyncGenerator[AgentEvent]:
        """Answer every call of a completed response that can be claimed: groups together,
        barriers alone, in call order."""
        group: list[_Settled] = []
        for call in calls:
            if not self.conversation.ledger.claim(call.call_id):
                continue
            settled = self._settled_for_group(call)
            if settled is not None:
                group.append(settled)
                continue
            async with aclosing(self._run_group(group, timers)) as running:
                async for event in running:
                    yield event
            group = []
            async with aclosing(self._answer_alone(call, timers)) as answered:
                async for event in answered:
                    yield event
        async with aclosing(self._run_group(group, timers)) as running:
            async for event in running:
                yield event

    def _settled_for_group(self, call: ToolCallItem) -> _Settled | None:
        """The call, ready to run in a group when its tool may and the gate approves it without
        asking; None otherwise (it is then answered alone, which also reports any problem)."""
        try:
            tool, args = self.tools.parse_call(call)
        except ToolError:
            return None
        if not tool.parallel_safe or tool.mutating:
            return None
        try:
            request = tool.approval_request(call.call_id, args, self.tool_context)
        except ToolError:
            return None
        decision = self.approvals.settle_without_asking(request, mutating=False)
        if decision is None or not decision.approved:
            return None
        return _Settled(call, tool, args, request)

    async def _run_group(self, group: list[_Settled], timers: dict[str, float]) -> AsyncGenerator[AgentEvent]:
        """Run the calls of `group` concurrently (a group of one simply runs, with its live output;
        each call is already parsed and approved)."""
        if not group:
            return
        if len(group) == 1:
            only = group[0]
            yield self._ready(only.call)
            running = self._run_approved(only.call, only.tool, only.args, only.request, timers, alone=True)
            async with aclosing(running) as events:
                async for event in events:
                    yield event
            return
        for member in group:
            yield self._ready(member.call)
        self._group_order = [member.call.call_id for member in group]
        queue: asyncio.Queue[AgentEvent | _GroupMemberEnded] = asyncio.Queue()
        own_timers = [dict.fromkeys(timers, 0.0) for _ in group]

        async def run(member: _Settled, member_timers: dict[str, float]) -> None:
            try:
                running = self._run_approved(
                    member.call, member.tool, member.args, member.request, member_timers, alone=False
                )
                async with aclosing(running) as events:
                    async for event in events:
                        queue.put_nowait(event)
            finally:
                queue.put_nowait(_MEMBER_ENDED)

        started = time.monotonic()
        tasks = [asyncio.ensure_future(run(member, mine)) for member, mine in zip(group, own_timers, strict=True)]
        try:
            ended = 0
            while ended < len(tasks):
                item = await queue.get()
                if isinstance(item, _GroupMemberEnded):
                    ended += 1
                else:
                    yield item
        except BaseException:  # the caller stopped listening, or the turn's task was cancelled
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            while not queue.empty():  # made, not yielded: recorded all the same
                left = queue.get_nowait()
                if not isinstance(left, _GroupMemberEnded):
                    self._emit(left)
            raise
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        timers["tool_s"] += time.monotonic() - started
        timers["tool_calls"] += sum(mine["tool_calls"] for mine in own_timers)
        timers["approval_wait_s"] += sum(mine["approval_wait_s"] for mine in own_timers)
        failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        if failures:
            raise next((f for f in failures if not isinstance(f, TurnCancelled)), failures[0])

    # ---- one call ------------------------------------------------------------------------------

    def _ready(self, call: ToolCallItem) -> ToolCallReady:
        """The announcement that `call` is decided and run now, with exactly the arguments that run."""
        return ToolCallReady(call_id=call.call_id, name=call.name, arguments=call.raw_input, final=True)

    async def _answer_alone(self, call: ToolCallItem, timers: dict[str, float]) -> AsyncGenerator[AgentEvent]:
        yield self._ready(call)
        async with aclosing(self._answer(call, timers)) as answered:  # closing withdraws its approval
            async for event in answered:
                yield event

    async def _answer(self, call: ToolCallItem, timers: dict[str, float]) -> AsyncGenerator[AgentEvent]:
        """Give `call` its one output. Its duration is the time it ran (a call that never runs
        takes the time to decide, the approval wait left out)."""
        started = time.monotonic()
        try:
            tool, args = self.tools.parse_call(call)
        except ToolError as exc:
            yield self._record(call, "invalid", str(exc), time.monotonic() - started)
            return

        try:
            request = tool.approval_request(call.call_id, args, self.tool_context)
        except ToolError as exc:
            yield self._record(call, "error", str(exc), time.monotonic() - started)
            return
        answer = _Answer()
        async with aclosing(self._decide(request, tool.mutating, timers, answer)) as deciding:
            async for event in deciding:
                yield event
        decision, waited = answer.decision, answer.waited_s
        if decision.kind == "cancel":
            raise TurnCancelled
        if not decision.approved:
            yield self._record(call, "denied", decision.denial_output(), max(time.monotonic() - started - waited, 0.0))
            return

        if tool.mutating and self.checkpoints is not None:  # Esc does not wait for the snapshot
            for event in await self._cancellable(self.checkpoints.before_mutation(self._number)):
                yield event
            if self._cancel.is_set():
                raise TurnCancelled
        async with aclosing(self._run_approved(call, tool, args, request, timers, alone=True)) as running:
            async for event in running:
                yield event

    async def _run_approved(
        self,
        call: ToolCallItem,
        tool: Tool[Any],
        args: ToolArgs,
        request: ApprovalRequest,
        timers: dict[str, float],
        *,
        alone: bool,
    ) -> AsyncGenerator[AgentEvent]:
        """Run an approved call (again with more, when the sandbox blocked it and a person or a
        rule allows), and give it its output."""
        timers["tool_calls"] += 1
        run_started = self._running[call.call_id] = time.monotonic()
        context = self.tool_context
        granted = self.approvals.preapproved_escalation(request) if context.sandbox is not None else None
        if granted is not None:
            context = dataclasses.replace(context, sandbox=escalated(context.sandbox, granted))
        outcome = _Outcome()
        escalation_wait = 0.0
        try:
            async with aclosing(self._execute(call.call_id, tool, args, context, outcome, alone)) as running:
                async for event in running:
                    yield event
            escalation = tool.escalation_request(call.call_id, args, context, outcome.result)
            if escalation is not None:
                answer = _Answer()
                async with aclosing(self._decide(escalation, True, timers, answer)) as deciding:
                    async for event in deciding:
                        yield event
                escalation_wait = answer.waited_s
                if answer.decision.kind == "cancel":
                    raise TurnCancelled
                if not answer.decision.approved:
                    outcome.result = _noted(
                        outcome.result, "(the sandbox blocked this; the user did not allow running it again outside it)"
                    )
                elif escalation.escalation is not None:
                    context = dataclasses.replace(context, sandbox=escalated(context.sandbox, escalation.escalation))
                    async with aclosing(self._execute(call.call_id, tool, args, context, outcome, alone)) as running:
                        async for event in running:
                            yield event
                    again = "with network access" if escalation.escalation == "network" else "outside the sandbox"
                    outcome.result = _noted(outcome.result, f"(the sandbox blocked it; run again {again}, as approved)")
        except ToolError as exc:
            ran = time.monotonic() - run_started - escalation_wait
            timers["tool_s"] += ran
            yield self._record(call, "error", str(exc), ran)
            return
        ran = time.monotonic() - run_started - escalation_wait
        timers["tool_s"] += ran
        result = outcome.result
        yield self._record(call, "ok" if result.ok else "error", result.output, ran, result.display, result.images)

    async def _decide(
        self, request: ApprovalRequest, mutating: bool, timers: dict[str, float], answer: _Answer
    ) -> AsyncGenerator[AgentEvent]:
        """Settle `request` by rule or policy, or ask and wait for the answer; the decision (and the
        time a person took) goes into `answer`."""
        decision = self.approvals.settle_without_asking(request, mutating=mutating)
        if decision is None:
            pending = self.approvals.register(request)  # before the event: an answer can come at once
            asked = time.monotonic()
            try:
                yield ApprovalRequested(request=request)
                decision = await self._cancellable(pending)
            finally:
                self.approvals.withdraw(request.call_id)
            answer.waited_s = time.monotonic() - asked
            timers["approval_wait_s"] += answer.waited_s
            yield self._decided(request.call_id, decision, answer.waited_s)
        elif mutating:
            yield self._decided(request.call_id, decision, 0.0)
        answer.decision = decision

    async def _execute(
        self, call_id: str, tool: Tool[Any], args: ToolArgs, context: ToolContext, outcome: _Outcome, alone: bool
    ) -> AsyncGenerator[AgentEvent]:
        """Run the tool in `context`, yielding its live output (only a call running `alone`
        has one); its result goes into `outcome`.

        Raises:
            ToolError: the tool failed in a way the model should hear about.
        """
        live = LiveOutput()
        if alone:
            context.live = live
        task = asyncio.ensure_future(tool.run(args, context))
        try:
            async with aclosing(self._follow(call_id, task, live)) as progress:
                async for event in progress:
                    yield event
            outcome.result = await self._cancellable(task)
        finally:
            if not task.done():  # the caller stopped listening while the tool ran
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            if live.partial:
                self._partial[call_id] = live.partial
            if alone:
                context.live = None

    async def _follow(
        self, call_id: str, task: asyncio.Future[ToolResult], live: LiveOutput
    ) -> AsyncGenerator[ToolOutput]:
        """While `task` runs (and the turn is not cancelled), yield its output's tail whenever more
        arrived, at most once per `LIVE_OUTPUT_INTERVAL_S`."""
        cancelled = asyncio.ensure_future(self._cancel.wait())
        ends: set[asyncio.Future[Any]] = {task, cancelled}
        try:
            while not (task.done() or cancelled.done()):
                changed = asyncio.ensure_future(live.changed.wait())
                try:
                    await asyncio.wait({*ends, changed}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    changed.cancel()
                if task.done() or cancelled.done():
                    return
                live.changed.clear()
                text, total = live.tail()
                yield ToolOutput(call_id=call_id, text=text, total_bytes=total)
                await asyncio.wait(ends, timeout=LIVE_OUTPUT_INTERVAL_S)
        finally:
            cancelled.cancel()

    def _decided(self, call_id: str, decision: Decision, waited: float) -> ApprovalDecided:
        return ApprovalDecided(
            call_id=call_id, decision=decision.kind, rule=decision.rule, reason=decision.reason, waited_s=waited
        )

    # ---- outputs -------------------------------------------------------------------------------

    def _record(
        self,
        call: ToolCallItem,
        status: ToolStatus,
        output: str,
        duration_s: float,
        display: dict[str, Any] | None = None,
        images: tuple[str, ...] = (),
    ) -> ToolFinished:
        """Give the call its one output: in the conversation (and so the record, and the ledger),
        and as an event (which names how many images went with it, not their bytes)."""
        self._running.pop(call.call_id, None)
        content = tool_output_content(output, images)
        if isinstance(call, CustomToolCall):
            self._add_output(CustomToolCallOutput(call_id=call.call_id, output=content))
        else:
            self._add_output(FunctionCallOutput(call_id=call.call_id, output=content))
        return ToolFinished(
            call_id=call.call_id,
            name=call.name,
            status=status,
            output=output,
            duration_s=duration_s,
            display=display,
            images=len(images),
        )

    def _add_output(self, item: FunctionCallOutput | CustomToolCallOutput) -> None:
        """Add a call's output to the conversation; a group's waits for those of the calls before it."""
        if item.call_id not in self._group_order:
            self.conversation.add(item)
            return
        self._held[item.call_id] = item
        while self._group_order and self._group_order[0] in self._held:
            self.conversation.add(self._held.pop(self._group_order.pop(0)))

    def _abort_pending(self, output: str = ABORTED_OUTPUT) -> list[ToolFinished]:
        """Give every unanswered call of the current step an "aborted" output; one that was
        running has run until now. A call of a group that finished keeps its own output."""
        now = time.monotonic()
        finished = [
            self._record(
                call, "aborted", self._with_partial(call.call_id, output), now - self._running.get(call.call_id, now)
            )
            for call in self._pending_calls
            if call.call_id not in self.conversation.ledger.answered and call.call_id not in self._held
        ]
        self._pending_calls = []
        self._running = {}
        self._partial = {}
        self._group_order = []
        self._held = {}
        return finished

    def _with_partial(self, call_id: str, output: str) -> str:
        """`output`, followed by what the call printed before it was cancelled (if anything)."""
        partial = self._partial.get(call_id)
        return f"{output}\n\n{PARTIAL_OUTPUT_HEADING}\n{partial}" if partial else output

    async def _cancellable(self, awaitable: Awaitable[T]) -> T:
        """Await `awaitable` unless the turn is cancelled first (then it is cancelled too)."""
        task = asyncio.ensure_future(awaitable)
        cancelled = asyncio.ensure_future(self._cancel.wait())
        try:
            await asyncio.wait({task, cancelled}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            cancelled.cancel()
        if task.done():
            return task.result()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        raise TurnCancelled


@dataclasses.dataclass
class _Answer:
    """How an approval question was settled, and how long a person took."""

    decision: Decision = dataclasses.field(default_factory=lambda: Decision(kind="cancel"))
    waited_s: float = 0.0


@dataclasses.dataclass
class _Outcome:
    """What a tool run returned."""

    result: ToolResult = dataclasses.field(default_factory=lambda: ToolResult(output="", ok=False))


def _noted(result: ToolResult, note: str) -> ToolResult:
    return result.model_copy(update={"output": f"{result.output.rstrip()}\n{note}"})
