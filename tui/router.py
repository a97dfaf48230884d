"""The event router: the one place where `AgentEvent`s become widget updates.

The worker that runs a turn (or a replay) feeds every event to `EventRouter.route`; widgets
never see the agent. Live runs and replays go through exactly this code.

The widgets a response streams (answer and reasoning blocks, tool cards still waiting for their
result) are remembered until the response finishes: when its attempt is abandoned and retried
(`OutputDiscarded`), they are removed, so the retried answer is not shown after a partial copy.

Once a turn has ended and `LIVE_TURNS` newer ones have too, its widgets are replaced by a
`FrozenTurn` (same look, data kept, thawed on demand) in the `FrozenHistory` above them: one
widget for all frozen turns, so the transcript's layout cost and memory stay flat over a long
session.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterable, Sequence

from textual.widget import Widget

from agent.events import (
    AgentError,
    AgentEvent,
    ApprovalDecided,
    ApprovalRequested,
    ChangesRedone,
    ChangesUndone,
    CheckpointCreated,
    Committed,
    Compacted,
    MessageCompleted,
    Notice,
    OutputDiscarded,
    ReasoningDelta,
    Reconnecting,
    ResponseFinished,
    ResponseStarted,
    TextDelta,
    ToolCallReady,
    ToolCallStarted,
    ToolFinished,
    ToolOutput,
    TransportChanged,
    TurnChanges,
    TurnEnded,
    TurnStarted,
)
from agent.session import Session, SessionStats, TurnStats
from tui.widgets.approval import ApprovalCard
from tui.widgets.changes import CheckpointLine, CommittedLine, TurnChangesLine, UndoneLine
from tui.widgets.frozen_turn import FrozenHistory, FrozenTurn, OffscreenToolCard, freeze
from tui.widgets.stats_panel import StatsPanel
from tui.widgets.tool_card import ToolCard
from tui.widgets.transcript import AssistantMessage, NoticeLine, ReasoningBlock, Transcript, UserMessage

LIVE_TURNS = 3
"""How many of the latest ended turns keep their live widgets (older ones are frozen)."""

SETTLE_EVERY_TURNS = 25
"""Every this many frozen turns, the heap is settled (`settle_heap`)."""


def settle_heap() -> None:
    """Collect the cyclic garbage, then move every object left out of the cyclic collector's
    sight (`gc.freeze`). A long session's history is hundreds of thousands of long-lived objects;
    without this, each full collection walks them all while an answer streams (about 100 ms,
    three times in 150 frames at 200 turns: the frame cost grew with the session). Objects frozen
    here that become garbage later are still freed by reference counting, and cycles among them
    at the next settling."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


class EventRouter:
    """Maps events to the transcript and the stats panel.

    Args:
        transcript: where messages, cards and notices are mounted.
        stats: the side panel.
        session_stats: returns the current connection/session figures (None in replay).
        interactive: whether approval cards take keys (False in replay).
        commands: whether the transcript's lines may name slash commands (False in replay: its
            prompt takes none, so a turn's changes line names the `d` key instead).
        on_turn_ended: called with each finished turn's stats.
        observer: sees every live event first (the status line); not called while `interactive`
            is False (replays and drawn history).
    """

    def __init__(
        self,
        transcript: Transcript,
        stats: StatsPanel,
        *,
        session_stats: Callable[[], SessionStats | None],
        interactive: bool = True,
        commands: bool = True,
        on_turn_ended: Callable[[TurnStats], None] | None = None,
        observer: Callable[[AgentEvent], None] | None = None,
    ) -> None:
        self.observer = observer
        self.transcript = transcript
        self.stats = stats
        self.session_stats = session_stats
        self.interactive = interactive
        self.commands = commands
        self.on_turn_ended = on_turn_ended
        self.answer: AssistantMessage | None = None
        self.reasoning: ReasoningBlock | None = None
        self.cards: dict[str, ToolCard] = {}
        self.approvals: dict[str, ApprovalCard] = {}
        self.last_answer = ""
        self.user_messages: dict[int, UserMessage] = {}
        self.streamed: list[Widget] = []
        """What the response in flight has shown so far (dropped if its attempt is discarded)."""
        self._answer_before_response = ""
        self.turn_widgets: list[Widget] = []
        """What the turn in flight mounted so far (frozen with it, a while after it ended)."""
        self.ended_turns: list[list[Widget]] = []
        """The widgets of the ended turns that are still live, oldest first."""
        self.decisions: dict[str, tuple[str, str | None, str | None]] = {}
        """Each answered approval's decision, rule and reason, by call id."""
        self.detached = False
        """Drawing old history: widgets are built but not mounted, each turn is frozen as it ends."""
        self._frozen_history: list[Widget | FrozenTurn] = []
        self._frozen_unsettled = 0
        self.turn: int | None = None
        """The number of the turn in flight, or of the last one (None before the first)."""
        self.turn_changes: dict[int, TurnChanges] = {}
        """What each drawn turn changed, by turn (replay opens a turn's diff from it)."""

    async def mount(self, widget: Widget) -> None:
        self.turn_widgets.append(widget)
        if not self.detached:
            await self.transcript.mount(widget)

    async def route(self, event: AgentEvent) -> None:
        if self.observer is not None and self.interactive:
            self.observer(event)
        match event:
            case TextDelta(text=text):
                await self._append_answer(text)
            case ReasoningDelta(text=text):
                if self.reasoning is None:
                    self.reasoning = ReasoningBlock()
                    await self._mount_streamed(self.reasoning)
                self.reasoning.append_text(text)
            case TurnStarted(prompt=prompt, turn=turn):
                self.turn = turn
                if self.detached and self.turn_widgets:  # drawn off-screen between turns (a compaction)
                    self._frozen_history.extend(self.turn_widgets)
                self.turn_widgets = []
                queued = self.user_messages.pop(turn, None)
                if queued is not None:
                    queued.mark_sent()
                else:
                    await self.mount(UserMessage(prompt))
            case ResponseStarted():
                await self._close_blocks()
                self.streamed = []
                self._answer_before_response = self.last_answer
            case ToolCallStarted(call_id=call_id, name=name):
                await self._close_blocks()
                started = self._tool_card(call_id, name)
                self.cards[call_id] = started
                await self._mount_streamed(started)
            case ToolCallReady(call_id=call_id, name=name, arguments=arguments, final=final):
                card = self.cards.get(call_id)
                if card is None:
                    card = self.cards[call_id] = self._tool_card(call_id, name)
                    await self._mount_streamed(card)
                card.set_arguments(arguments, Session.describe_call(name, arguments))
                if final and card.status == "queued":  # decided and run now (with the rest of its group)
                    card.set_status("running")
            case ApprovalRequested(request=request):
                card = self.cards.get(request.call_id)
                if card is not None:
                    card.set_status("waiting")
                described = card.description if card is not None else None
                approval = ApprovalCard(
                    request, interactive=self.interactive, segments=described.segments if described else ()
                )
                self.approvals[request.call_id] = approval
                await self._mount_after(approval, card)  # under its call, not under later ones
            case ApprovalDecided(call_id=call_id, decision=decision, rule=rule, reason=reason, waited_s=waited):
                self.decisions[call_id] = (decision, rule, reason)
                answered = self.approvals.pop(call_id, None)
                if answered is not None and answered.decided is None:
                    if answered.is_mounted:
                        answered.show_decision(decision, rule, reason)
                    else:
                        answered.decided = decision
                card = self.cards.get(call_id)
                if card is not None and answered is not None:
                    card.set_approval_wait(waited)
                if card is not None and decision in ("approve_once", "approve_always"):
                    card.set_status("running")
            case ToolFinished(
                call_id=call_id, name=name, status=status, output=output, duration_s=duration, display=display
            ):
                card = self.cards.get(call_id)
                if card is None:
                    card = self.cards[call_id] = self._tool_card(call_id, name)
                    await self.mount(card)
                card.finish(status, output, duration, display)
            case ToolOutput(call_id=call_id, text=text):
                live = self.cards.get(call_id)
                if live is not None:
                    live.show_live_output(text)
            case MessageCompleted(text=text):
                await self._settle_answer(text)
            case ResponseFinished(stats=response):
                await self._close_blocks()
                self.streamed = []
                self.stats.add_response(response, self.session_stats())
            case OutputDiscarded(cause=cause):
                await self._discard_streamed()
                await self.mount(NoticeLine(f"↺ {_restart_reason(cause)} — answer restarted"))
            case Reconnecting(attempt=attempt, delay_s=delay, cause=cause):
                await self._close_blocks(interrupted=True)
                await self.mount(NoticeLine(f"↻ reconnecting ({cause}), attempt {attempt}, in {delay:.1f}s"))
            case TransportChanged(transport=transport, reason=reason):
                await self.mount(NoticeLine(f"⇄ switched to {transport}: {reason}"))
            case Compacted():
                await self.mount(NoticeLine(compaction_marker(event)))
            case Notice(message=message):
                await self.mount(NoticeLine(message))
            case CheckpointCreated():  # above the card of the call about to change files
                pending = (w for w in self.turn_widgets if isinstance(w, ToolCard) and not w.has_result)
                await self._mount_before(CheckpointLine(event), next(pending, None))
            case TurnChanges(turn=turn):
                await self._close_blocks()
                self.turn_changes[turn] = event
                await self.mount(TurnChangesLine(event, commands=self.commands))
            case ChangesUndone():
                await self.mount(UndoneLine(event, redo=False, commands=self.commands))
            case ChangesRedone():
                await self.mount(UndoneLine(event, redo=True, commands=self.commands))
            case Committed():
                await self.mount(CommittedLine(event))
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
                ended, self.turn_widgets = self.turn_widgets, []
                if self.detached:
                    frozen_turn = self._frozen(ended)
                    self._frozen_history.extend([frozen_turn] if frozen_turn is not None else ended)
                else:
                    self.ended_turns.append(ended)
                    await self._freeze_old_turns()

    async def _mount_before(self, widget: Widget, anchor: Widget | None) -> None:
        """Mount `widget` just above `anchor`, a widget of the turn in flight (at the end without one)."""
        if anchor is None or anchor not in self.turn_widgets:
            await self.mount(widget)
            return
        self.turn_widgets.insert(self.turn_widgets.index(anchor), widget)
        if not self.detached and anchor.parent is self.transcript:
            await self.transcript.mount(widget, before=anchor)

    async def _mount_after(self, widget: Widget, anchor: Widget | None) -> None:
        """Mount `widget` just below `anchor`, a widget of the turn in flight (at the end without one)."""
        if anchor is None or anchor not in self.turn_widgets:
            await self.mount(widget)
            return
        self.turn_widgets.insert(self.turn_widgets.index(anchor) + 1, widget)
        if not self.detached and anchor.parent is self.transcript:
            await self.transcript.mount(widget, after=anchor)

    async def route_history(self, events: Iterable[AgentEvent]) -> None:
        """Draw events that already happened (a resumed session's earlier turns): their approval
        cards show the recorded decisions and take no keys, and `on_turn_ended` is called once,
        after the last turn, not per drawn turn."""
        interactive, self.interactive = self.interactive, False
        on_turn_ended, self.on_turn_ended = self.on_turn_ended, None
        last: TurnStats | None = None
        history = list(events)
        starts = [index for index, event in enumerate(history) if isinstance(event, TurnStarted)]
        # Turns before the latest `LIVE_TURNS` are built off-screen and mounted frozen, at once.
        cut = starts[-LIVE_TURNS] if len(starts) > LIVE_TURNS else 0
        try:
            for index, event in enumerate(history):
                if index == cut:
                    await self._mount_frozen_history()
                self.detached = bool(starts) and starts[0] <= index < cut
                await self.route(event)
                if isinstance(event, TurnEnded):
                    last = event.stats
        finally:
            self.detached = False
            await self._mount_frozen_history()
            self.interactive = interactive
            self.on_turn_ended = on_turn_ended
        if on_turn_ended is not None and last is not None:
            on_turn_ended(last)

    def _frozen(self, widgets: Sequence[Widget]) -> FrozenTurn | None:
        """`widgets` (an ended turn's) as one `FrozenTurn`, or None when one of them cannot be
        frozen (an approval still waiting); the router forgets their tool cards."""
        parts = [freeze(widget, self.decisions) for widget in widgets]
        if not widgets or any(part is None for part in parts):
            return None
        for widget in widgets:
            if isinstance(widget, ToolCard) and self.cards.get(widget.call_id) is widget:
                del self.cards[widget.call_id]
                self.decisions.pop(widget.call_id, None)
        return FrozenTurn([part for part in parts if part is not None])

    async def _freeze_old_turns(self) -> None:
        """Replace each ended turn older than the latest `LIVE_TURNS` by a `FrozenTurn`, added to
        the `FrozenHistory` just above it (a new one when there is none)."""
        while len(self.ended_turns) > LIVE_TURNS:
            widgets = [w for w in self.ended_turns.pop(0) if w.parent is self.transcript]
            frozen = self._frozen(widgets)
            if frozen is None:
                continue
            children = self.transcript.children
            position = children.index(widgets[0])
            above = children[position - 1] if position else None
            if isinstance(above, FrozenHistory):
                above.append(frozen)
            else:
                await self.transcript.mount(FrozenHistory([frozen]), before=widgets[0])
            await self.transcript.remove_children(widgets)
            self._settle_now_and_then(1)

    def _settle_now_and_then(self, frozen: int) -> None:
        """Count `frozen` more frozen turns; settle the heap once `SETTLE_EVERY_TURNS` were."""
        self._frozen_unsettled += frozen
        if self._frozen_unsettled >= SETTLE_EVERY_TURNS:
            self._frozen_unsettled = 0
            settle_heap()

    async def _mount_frozen_history(self) -> None:
        """Mount what history drew off-screen: runs of frozen turns as one `FrozenHistory` each."""
        if not self._frozen_history:
            return
        drawn, self._frozen_history = self._frozen_history, []
        widgets: list[Widget] = []
        for item in drawn:
            if isinstance(item, FrozenTurn):
                if widgets and isinstance(widgets[-1], FrozenHistory):
                    widgets[-1].append(item)
                else:
                    widgets.append(FrozenHistory([item]))
            else:
                widgets.append(item)
        await self.transcript.mount_all(widgets)
        self._settle_now_and_then(sum(isinstance(item, FrozenTurn) for item in drawn))

    def _tool_card(self, call_id: str, name: str) -> ToolCard:
        return OffscreenToolCard(call_id, name) if self.detached else ToolCard(call_id, name)

    async def _mount_streamed(self, widget: Widget) -> None:
        self.streamed.append(widget)
        await self.mount(widget)

    async def _append_answer(self, text: str) -> None:
        if self.answer is None:
            await self._close_reasoning()
            self.answer = AssistantMessage()
            await self._mount_streamed(self.answer)
        self.answer.append_text(text)

    async def _settle_answer(self, text: str) -> None:
        """Make the response's answer blocks hold exactly its final text (nothing is re-rendered
        when the streamed deltas already add up to it, the usual case), and close them."""
        blocks = [widget for widget in self.streamed if isinstance(widget, AssistantMessage)]
        shown = [block.text for block in blocks]
        if "".join(shown) != text:
            if not blocks:
                await self._append_answer(text)
            else:
                earlier = "".join(shown[:-1])
                if text.startswith(earlier):
                    await blocks[-1].replace_text(text[len(earlier) :])
                else:
                    await blocks[0].replace_text(text)
                    await self._remove(blocks[1:])
        await self._close_blocks()
        self.last_answer = text

    async def _discard_streamed(self) -> None:
        """Remove what the abandoned attempt showed: its answer and reasoning blocks, and its
        tool cards that have no result."""
        dropped = [w for w in self.streamed if not (isinstance(w, ToolCard) and w.has_result)]
        for card in dropped:
            if isinstance(card, ToolCard) and self.cards.get(card.call_id) is card:
                del self.cards[card.call_id]
        self.last_answer = self._answer_before_response
        await self._remove(dropped)

    async def _remove(self, widgets: Sequence[Widget]) -> None:
        if widgets:
            self.turn_widgets = [widget for widget in self.turn_widgets if widget not in widgets]
            self.streamed = [widget for widget in self.streamed if widget not in widgets]
            if self.answer in widgets:
                self.answer = None
            if self.reasoning in widgets:
                self.reasoning = None
            await self.transcript.remove_children([w for w in widgets if w.parent is self.transcript])

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


COMPACTION_MODES = {
    "auto": "by the server",
    "manual": "on request",
    "client": "by codeassist (the endpoint has no compaction)",
    "recovery": "after the context window overflowed",
}


def compaction_marker(event: Compacted) -> str:
    """The transcript's line for a compaction: how, and the context's size before and after."""

    def tokens(count: int | None) -> str:
        return f"{count:,}" if count is not None else "?"

    how = COMPACTION_MODES.get(event.mode, event.mode)
    return (
        f"⇲ context compacted {how}: {tokens(event.tokens_before)} → {tokens(event.tokens_after)} tokens, "
        f"{event.items_before} → {event.items_after} items"
    )


def _restart_reason(cause: str) -> str:
    """Why an answer started again, in a few words."""
    if cause == "transport changed":
        return "transport changed"
    if cause.startswith(("closed", "connection", "connect_")) or cause in ("stalled", "transport_error"):
        return "connection lost"
    return f"attempt failed ({cause})"
