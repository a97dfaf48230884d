"""The status line between the transcript and the prompt: what the agent is doing right now.

It is fed every live event by the router (`StatusLine.observe`) and shows one line: a spinner,
the current activity (connecting, waiting for the MCP servers to start, waiting for the first
token, streaming, running a tool or several together, waiting for your approval, reconnecting
n/N), the elapsed time of the activity and of the turn, and the key that interrupts. Times come
from the app's monotonic `clock` (tests substitute a manual one), and so does the spinner's
frame, so a frozen clock gives a still picture. While no turn runs the
line is hidden and its timer stopped: an idle app spends nothing on it. Replays and drawn history
do not feed it (it stays hidden there).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.text import Text
from textual.timer import Timer
from textual.widgets import Static

from agent.terminal_text import safe_terminal_text

if TYPE_CHECKING:  # the events load after the first frame, with the session
    from agent.events import AgentEvent

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
FRAME_S = 0.1
"""Seconds per spinner frame (and between repaints while work is in flight)."""
INTERRUPT_KEY = "Esc"
APPROVAL_KEYS = "y/a/n, Ctrl+G for the card"
"""How a pending approval is answered (the card's keys; Ctrl+G focuses a card that did not take the focus)."""
APPROVAL_KEYS_WITHOUT_ALWAYS = "y/n, Ctrl+G for the card"
"""The same for a call no rule may approve ("approve always" is not offered: no `a`)."""

LABELS = {
    "connecting": "connecting",
    "mcp": "waiting for the MCP servers to start",
    "waiting": "waiting for the first token",
    "answer": "streaming the answer",
    "reasoning": "streaming reasoning",
    "call": "streaming a tool call",
    "working": "working",
    "tool": "running",
    "approval": "waiting for your approval",
    "reconnecting": "reconnecting",
    "compacting": "compacting the conversation",
}
"""What each state says (`tool` is followed by the call's summary)."""


class StatusLine(Static):
    """One line saying what the agent is doing; hidden while idle.

    Args:
        max_attempts: the configured maximum of reconnect attempts (the N of "reconnecting n/N");
            None reads the app's `settings.max_retries` when a reconnect is shown.
        clock: the monotonic clock of elapsed times; None reads the app's `clock`.
    """

    def __init__(
        self, max_attempts: int | None = None, *, clock: Callable[[], float] | None = None, id: str | None = None
    ) -> None:
        super().__init__("", id=id)
        self.max_attempts = max_attempts
        self.clock = clock
        self.state = "idle"
        """The current activity: `idle` or one of `LABELS`."""
        self.tool_summary = ""
        self.attempt = 0
        self.turn_started: float | None = None
        self.state_started = 0.0
        self._calls: dict[str, str] = {}
        """call_id → summary of this step's calls not yet finished, in the order they run."""
        self._started: set[str] = set()
        """The calls of `_calls` that were announced to run (several at once: they run together)."""
        self._in_turn = False
        self._timer: Timer | None = None
        self.approval_keys = APPROVAL_KEYS
        """The keys of the approval that waits (without `a` when it cannot be approved always)."""

    # ---- events ------------------------------------------------------------------------------

    def observe(self, event: AgentEvent) -> None:
        """Follow one live event (the router calls this before drawing it)."""
        from agent import events as e  # loaded with the session, before any event

        match event:
            case e.TurnStarted():
                self._in_turn = True
                self._calls, self._started = {}, set()
                self.attempt = 0
                self.turn_started = self._now()
                self._enter("connecting")
            case e.ResponseStarted():
                self._calls, self._started = {}, set()
                self._enter("waiting")
            case e.TextDelta():
                self.attempt = 0
                self._enter("answer", keep=True)
            case e.ReasoningDelta():
                self._enter("reasoning", keep=True)
            case e.ToolCallStarted():
                self._enter("call", keep=True)
            case e.ToolCallReady(call_id=call_id, name=name, arguments=arguments, final=final):
                self._calls[call_id] = _summary(name, arguments)
                if final:
                    self._started.add(call_id)
            case e.ResponseFinished():
                self._next_call()
            case e.ApprovalRequested(request=request):
                from tui.widgets.approval import offers_always  # loaded with the router

                self.approval_keys = APPROVAL_KEYS if offers_always(request) else APPROVAL_KEYS_WITHOUT_ALWAYS
                self._enter("approval")
            case e.ApprovalDecided(call_id=call_id, decision=decision):
                if decision in ("approve_once", "approve_always"):
                    self._run_call(call_id)
                else:
                    self._enter("working")
            case e.ToolOutput(call_id=call_id):
                if self.state != "tool":
                    self._run_call(call_id)
            case e.ToolFinished(call_id=call_id):
                self._calls.pop(call_id, None)
                self._started.discard(call_id)
                self._next_call()
            case e.Reconnecting(attempt=attempt):
                self.attempt = attempt
                self._enter("reconnecting")
            case e.Notice(waiting="mcp_servers"):
                self._enter("mcp")
            case e.CompactionStarted():
                self._enter("compacting")
            case e.Compacted() | e.AgentError() if not self._in_turn:  # `/compact` between turns
                self.idle()
            case e.Compacted():
                self._enter("working")
            case e.TurnEnded():
                self.idle()

    def idle(self) -> None:
        """No turn runs: hide the line and stop its timer."""
        self.state = "idle"
        self.turn_started = None
        self._in_turn = False
        self._calls, self._started = {}, set()
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if self.display:
            self.display = False
        self.update("", layout=False)

    @property
    def animating(self) -> bool:
        """Whether the line's timer runs (only while a turn is in flight)."""
        return self._timer is not None

    # ---- states ------------------------------------------------------------------------------

    def _next_call(self) -> None:
        """After a response or a call: the next call of the step runs (or the agent works on)."""
        if self._calls:
            self._run_call(next(iter(self._calls)))
        else:
            self._enter("working")

    def _run_call(self, call_id: str) -> None:
        self.tool_summary = self._calls.get(call_id, "")
        self._enter("tool")

    def _enter(self, state: str, *, keep: bool = False) -> None:
        if keep and self.state == state:
            return
        if self.turn_started is None:  # an event of a turn whose start was not seen
            self.turn_started = self._now()
        self.state = state
        self.state_started = self._now()
        if not self.display:
            self.display = True
        if self._timer is None and self.is_mounted:
            self._timer = self.set_interval(FRAME_S, self._paint)
        self._paint()

    # ---- drawing -----------------------------------------------------------------------------

    def _now(self) -> float:
        clock = self.clock or getattr(self.app, "clock", None) or time.monotonic
        return float(clock())

    def _max_attempts(self) -> int:
        if self.max_attempts is not None:
            return self.max_attempts
        settings = getattr(self.app, "settings", None)
        return int(getattr(settings, "max_retries", 0))

    def _paint(self) -> None:
        if self.state == "idle":
            return
        self.update(self.describe(self._now()), layout=False)  # one fixed row: no layout pass per frame

    def describe(self, now: float) -> Text:
        """The line for the current state at time `now`."""
        started = self.turn_started if self.turn_started is not None else now
        frame = SPINNER[int(max(now - started, 0.0) / FRAME_S) % len(SPINNER)]
        line = Text.assemble((f"{frame} ", "bold"), (LABELS.get(self.state, self.state), "bold"))
        line.no_wrap, line.overflow = True, "ellipsis"
        if self.state == "tool":
            together = [summary for call_id, summary in self._calls.items() if call_id in self._started]
            if len(together) > 1:
                line.append(f" {len(together)} calls together: {together[0]} and {len(together) - 1} more")
            elif self.tool_summary:
                line.append(f" {self.tool_summary}")
            line.append(f" · {_seconds(now - self.state_started)}")
        elif self.state == "reconnecting":
            if self.attempt:  # a resend that is no retry (a lost previous response) is attempt 0
                line.append(f" {self.attempt}/{self._max_attempts()}")
        elif self.state in ("connecting", "waiting") and self.attempt:
            line.append(f" · retry {self.attempt}/{self._max_attempts()}")
        elif self.state == "approval":
            line.append(f" ({self.approval_keys}) · {_seconds(now - self.state_started)}")
        line.append(f"  ·  turn {_seconds(now - started)}  ·  {INTERRUPT_KEY} to interrupt", style="dim")
        return line


def _summary(name: str, arguments: str) -> str:
    """`name summary` of a call, safe to draw."""
    from agent.session import Session  # after the first frame, like the router

    summary = Session.describe_call(name, arguments).summary
    return safe_terminal_text(f"{name} {summary}".strip())


def _seconds(elapsed: float) -> str:
    """`7s`, or `2m05s` from a minute on."""
    whole = int(max(elapsed, 0.0))
    return f"{whole}s" if whole < 60 else f"{whole // 60}m{whole % 60:02d}s"
