"""The event router: the one place where `AgentEvent`s become widget updates.

The worker that runs a turn (or a replay) feeds every event to `EventRouter.route`; widgets
never see the agent. Live runs and replays go through exactly this code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from textual.widget import Widget

from agent.events import (
    AgentError,
    AgentEvent,
    ApprovalDecided,
    ApprovalRequested,
    Notice,
    ReasoningDelta,
    Reconnecting,
    ResponseFinished,
    ResponseStarted,
    TextDelta,
    ToolCallReady,
    ToolCallStarted,
    ToolFinished,
    TransportChanged,
    TurnEnded,
    TurnStarted,
)
from agent.session import Session, SessionStats, TurnStats
from tui.widgets.approval import ApprovalCard
from tui.widgets.stats_panel import StatsPanel
from tui.widgets.transcript import AssistantMessage, NoticeLine, ReasoningBlock, ToolCard, Transcript, UserMessage


class EventRouter:
    """Maps events to the transcript and the stats panel.

    Args:
        transcript: where messages, cards and notices are mounted.
        stats: the side panel.
        session_stats: returns the current connection/session figures (None in replay).
        interactive: whether approval cards take keys (False in replay).
        on_turn_ended: called with each finished turn's stats.
    """

    def __init__(
        self,
        transcript: Transcript,
        stats: StatsPanel,
        *,
        session_stats: Callable[[], SessionStats | None],
        interactive: bool = True,
        on_turn_ended: Callable[[TurnStats], None] | None = None,
    ) -> None:
        self.transcript = transcript
        self.stats = stats
        self.session_stats = session_stats
        self.interactive = interactive
        self.on_turn_ended = on_turn_ended
        self.answer: AssistantMessage | None = None
        self.reasoning: ReasoningBlock | None = None
        self.cards: dict[str, ToolCard] = {}
        self.approvals: dict[str, ApprovalCard] = {}
        self.last_answer = ""
        self.user_messages: dict[int, UserMessage] = {}

    async def mount(self, widget: Widget) -> None:
        await self.transcript.mount(widget)

    async def route(self, event: AgentEvent) -> None:
        match event:
            case TextDelta(text=text):
                if self.answer is None:
                    await self._close_reasoning()
                    self.answer = AssistantMessage()
                    await self.mount(self.answer)
                self.answer.append_text(text)
            case ReasoningDelta(text=text):
                if self.reasoning is None:
                    self.reasoning = ReasoningBlock()
                    await self.mount(self.reasoning)
                self.reasoning.append_text(text)
            case TurnStarted(prompt=prompt, turn=turn):
                queued = self.user_messages.pop(turn, None)
                if queued is not None:
                    queued.mark_sent()
                else:
                    await self.mount(UserMessage(prompt))
            case ResponseStarted():
                await self._close_blocks()
            case ToolCallStarted(call_id=call_id, name=name):
                await self._close_blocks()
                started = ToolCard(call_id, name)
                self.cards[call_id] = started
                await self.mount(started)
            case ToolCallReady(call_id=call_id, name=name, arguments=arguments):
                card = self.cards.get(call_id)
                if card is None:
                    card = self.cards[call_id] = ToolCard(call_id, name)
                    await self.mount(card)
                card.set_arguments(arguments, Session.describe_call(name, arguments))
            case ApprovalRequested(request=request):
                card = self.cards.get(request.call_id)
                if card is not None:
                    card.set_status("waiting")
                described = card.description if card is not None else None
                approval = ApprovalCard(
                    request, interactive=self.interactive, segments=described.segments if described else ()
                )
                self.approvals[request.call_id] = approval
                await self.mount(approval)
            case ApprovalDecided(call_id=call_id, decision=decision, rule=rule, reason=reason):
                answered = self.approvals.pop(call_id, None)
                if answered is not None and answered.decided is None:
                    answered.show_decision(decision, rule, reason)
                card = self.cards.get(call_id)
                if card is not None and decision in ("approve_once", "approve_always"):
                    card.set_status("running")
            case ToolFinished(
                call_id=call_id, name=name, status=status, output=output, duration_s=duration, display=display
            ):
                card = self.cards.get(call_id)
                if card is None:
                    card = self.cards[call_id] = ToolCard(call_id, name)
                    await self.mount(card)
                card.finish(status, output, duration, display)
            case ResponseFinished():
                await self._close_blocks()
            case Reconnecting(attempt=attempt, delay_s=delay, cause=cause):
                await self._close_blocks(interrupted=True)
                await self.mount(NoticeLine(f"↻ reconnecting ({cause}), attempt {attempt}, in {delay:.1f}s"))
            case TransportChanged(transport=transport, reason=reason):
                await self.mount(NoticeLine(f"⇄ switched to {transport}: {reason}"))
            case Notice(message=message):
                await self.mount(NoticeLine(message))
            case AgentError(message=message):
                await self.mount(NoticeLine(f"✗ {message}", error=True))
            case TurnEnded(reason=reason, stats=stats, message=message):
                await self._close_blocks(interrupted=reason == "cancelled")
                if reason != "completed" and message:
                    await self.mount(NoticeLine(f"turn ended: {message}", error=reason in ("error", "failed")))
                self.stats.add_turn(stats)
                session = self.session_stats()
                if session is not None:
                    self.stats.show_session(session)
                if self.on_turn_ended is not None:
                    self.on_turn_ended(stats)

    async def route_history(self, events: Iterable[AgentEvent]) -> None:
        """Draw events that already happened (a resumed session's earlier turns): their approval
        cards show the recorded decisions and take no keys."""
        interactive, self.interactive = self.interactive, False
        try:
            for event in events:
                await self.route(event)
        finally:
            self.interactive = interactive

    async def _close_reasoning(self) -> None:
        if self.reasoning is not None:
            self.reasoning.finish()
            self.reasoning = None

    async def _close_blocks(self, *, interrupted: bool = False) -> None:
        await self._close_reasoning()
        if self.answer is not None:
            await self.answer.finish(interrupted=interrupted)
            self.last_answer = self.answer.text
            self.answer = None
