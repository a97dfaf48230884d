"""The inline approval card: what will happen, and the keys to decide.

A file change's diff is shown here while the card waits for an answer; once answered the card
keeps only its summary and the decision, and the tool card shows the diff of what was written —
so a diff is on screen once, never twice.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input, Static

from agent.session import ApprovalRequest, Decision
from agent.terminal_text import safe_terminal_text

HINT = "y approve once · a approve always (this session) · n deny · esc cancel turn"
HINT_WITHOUT_ALWAYS = "y approve once · n deny · esc cancel turn"
"""The keys of a call that no rule may approve (it has no rule key): `a` is not offered."""
REACH_KEY = "ctrl+g"
"""The app's key that focuses a pending approval card (see `CodeassistApp.action_focus_approval`)."""
REACH_HINT = "you were typing, so this card did not take the keys — press ctrl+g to answer it"
GRACE_S = 0.5
"""Decision keys pressed this soon after a card appears are ignored (they were meant for the prompt)."""


def app_clock(node: object) -> float:
    """The monotonic clock of the app `node` runs in (`CodeassistApp.clock`, replaceable in tests)."""
    clock = getattr(getattr(node, "app", None), "clock", time.monotonic)
    return float(clock())


def offers_always(request: ApprovalRequest) -> bool:
    """Whether "approve always" can be offered: only a call with a rule key can become a rule."""
    return request.rule_key is not None


def rule_scope(request: ApprovalRequest) -> str | None:
    """What "approve always" would approve for the rest of the session, in words (None: no rule)."""
    if not offers_always(request):
        return None
    return request.rule_scope or f"every {request.tool} call"


def request_body(request: ApprovalRequest, segments: Sequence[str] = (), *, answered: bool = False) -> RenderableType:
    """The diff or the command (with every chained segment, as the tool describes the call, on its
    own line) and its directory, and what "approve always" covers; once `answered`, neither the
    diff (the tool card shows what was written) nor what "approve always" would cover."""
    parts: list[RenderableType] = [Text.assemble(("Approve? ", "bold"), safe_terminal_text(request.summary))]
    if request.diff and not answered:
        parts.append(Syntax(safe_terminal_text(request.diff), "diff", word_wrap=True, background_color="default"))
    if request.command is not None:
        pieces = list(segments) or [request.command]
        command = Text()
        for index, piece in enumerate(pieces):
            command.append(
                ("  " if index else "$ ")
                + safe_terminal_text(piece.strip())
                + ("\n" if index < len(pieces) - 1 else "")
            )
        parts.append(command)
        if request.workdir:
            parts.append(Text(f"in {safe_terminal_text(request.workdir)}", style="dim"))
    scope = rule_scope(request)
    if answered:
        return Group(*parts)
    if scope is not None:
        parts.append(Text(f"a = always approve, in this session: {safe_terminal_text(scope)}", style="dim"))
    else:
        why = (
            "for chained, redirected or network commands, or options that run programs or write outside the workspace"
            if request.kind == "command"
            else "for this call"
        )
        parts.append(Text(f"“approve always” is not offered {why}", style="dim"))
    return Group(*parts)


class ApprovalCard(Vertical, can_focus=True):
    """Waits for y / a / n (then an optional reason) / Esc; posts `ApprovalCard.Decided`."""

    BINDINGS = [
        Binding("y", "decide('approve_once')", "Approve"),
        Binding("a", "decide('approve_always')", "Always"),
        Binding("n", "deny", "Deny"),
        Binding("escape", "decide('cancel')", "Cancel turn"),
    ]

    class Decided(Message):
        """The user answered the card."""

        def __init__(self, call_id: str, decision: Decision) -> None:
            super().__init__()
            self.call_id = call_id
            self.decision = decision

    def __init__(self, request: ApprovalRequest, *, interactive: bool = True, segments: Sequence[str] = ()) -> None:
        super().__init__()
        self.request = request
        self.segments = tuple(segments)
        self.interactive = interactive
        self.decided: str | None = None
        self.shown_at: float | None = None
        """When the card appeared (the app's clock); decision keys are ignored for `GRACE_S` after."""

    def compose(self) -> ComposeResult:
        yield Static(request_body(self.request, self.segments), id="approval-body")
        hint = (HINT if offers_always(self.request) else HINT_WITHOUT_ALWAYS) if self.interactive else None
        yield Static(Text(hint or "recorded decision follows", style="dim"), id="approval-hint")
        yield Input(placeholder="Reason for denying (optional) — Enter to deny", id="deny-reason", classes="-hidden")

    class Shown(Message):
        """An interactive card appeared: the app decides whether it takes the focus."""

        def __init__(self, card: ApprovalCard) -> None:
            super().__init__()
            self.card = card

    def on_mount(self) -> None:
        self.query_one("#deny-reason").display = False
        if self.interactive:
            self.shown_at = app_clock(self)
            self.post_message(self.Shown(self))

    @property
    def pending(self) -> bool:
        """An interactive card not answered yet."""
        return self.interactive and self.decided is None

    def in_grace(self) -> bool:
        """Whether the card appeared too recently for a decision key to be meant for it."""
        return self.shown_at is not None and app_clock(self) - self.shown_at < GRACE_S

    def show_reach_hint(self, reach: bool) -> None:
        """Say (or stop saying) that the card waits without the focus, and the key that reaches it."""
        if not self.pending or reach == self.has_class("-unfocused"):
            return
        hint = HINT if offers_always(self.request) else HINT_WITHOUT_ALWAYS
        text = Text(hint, style="dim")
        if reach:
            text = Text.assemble((REACH_HINT, "bold"), "\n", text)
        self.query_one("#approval-hint", Static).update(text)
        self.set_class(reach, "-unfocused")

    def on_focus(self) -> None:
        self.show_reach_hint(False)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """`a` (approve always) is neither shown nor run for a call that has no rule key."""
        if action == "decide" and parameters == ("approve_always",):
            return offers_always(self.request)
        return True

    def action_decide(self, kind: str) -> None:
        if not self.interactive or self.decided:
            return
        if kind != "cancel" and self.in_grace():
            return
        if kind == "approve_always" and not offers_always(self.request):
            return
        self._finish(Decision.model_validate({"kind": kind}))

    def action_deny(self) -> None:
        if not self.interactive or self.decided or self.in_grace():
            return
        reason = self.query_one("#deny-reason", Input)
        reason.display = True
        reason.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._finish(Decision(kind="deny", reason=event.value.strip() or None))

    def _finish(self, decision: Decision) -> None:
        self.post_message(self.Decided(self.request.call_id, decision))
        self.show_decision(decision.kind, decision.rule, decision.reason)

    def show_decision(self, kind: str, rule: str | None = None, reason: str | None = None) -> None:
        """Replace the hint with the decision (live or replayed)."""
        self.decided = kind
        label = {
            "approve_once": "approved once",
            "approve_always": "approved for this session",
            "deny": "denied",
            "cancel": "turn cancelled",
        }.get(kind, kind)
        scope = rule_scope(self.request)
        if kind == "approve_always" and scope:
            label = (
                f"always approved in this session: {safe_terminal_text(scope)} "
                f"(rule allow {safe_terminal_text(self.request.rule_key or '')}; /permissions lists, revokes or saves it)"
            )
        detail = f" ({rule})" if rule and rule != "user" else ""
        detail += f": {reason}" if reason else ""
        self.query_one("#approval-hint", Static).update(Text(f"→ {label}{detail}", style="bold"))
        self.query_one("#deny-reason").display = False
        self.query_one("#approval-body", Static).update(request_body(self.request, self.segments, answered=True))
        self.can_focus = False  # answered: a record, no longer a place for keys (navigation skips it)
