"""Three groups of the app's key actions, kept apart from `tui.app`: answering approvals from the
keyboard, replay playback (pause, speed) and moving between transcript blocks (`tui.blocks`).
`CodeassistApp` holds their bindings and decides when each is offered (`check_action`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from textual import work
from textual.app import App
from textual.timer import Timer
from textual.widget import Widget

from tui.blocks import block_text, focused_block, step_focus, toggle_block
from tui.widgets.prompt import PromptInput
from tui.widgets.transcript import NoticeLine, Transcript

if TYPE_CHECKING:
    from agent.replay import SessionReplay
    from tui.router import EventRouter
    from tui.widgets.approval import ApprovalCard


class ApprovalActions(App[None]):
    """Where an approval card's keys go: the card takes the focus unless the user is typing, and
    `y/a/n` answer it from anywhere on the main screen unless they are text."""

    TYPING_QUIET_S = 1.0
    """A prompt typed in this recently (or holding text) keeps the focus when an approval appears."""
    REACH_CHECK_S = 0.1
    """How often a waiting card checks whether its "you were typing" hint still holds."""

    if TYPE_CHECKING:  # provided by `CodeassistApp`
        router: EventRouter | None
        clock: Callable[[], float]

    _reach_timer: Timer | None = None

    def on_approval_card_shown(self, message: ApprovalCard.Shown) -> None:
        """A card takes the focus only if the keys were not meant for the prompt: while the prompt
        holds text or was typed in during the last `TYPING_QUIET_S`, it waits unfocused and says
        how to reach it (Ctrl+G, also in the footer) for as long as `y/a/n` would be text."""
        card = message.card
        if self._prompt_busy():
            card.show_reach_hint(True)
        else:
            card.focus()
        if self._reach_timer is None:
            self._reach_timer = self.set_interval(self.REACH_CHECK_S, self._follow_reach_hint)
        self.refresh_bindings()

    def _follow_reach_hint(self) -> None:
        """The pending card says "you were typing" exactly while its keys would be text (the
        typing grace period ends, or the prompt is typed in again); stops with the last card."""
        card = self.pending_approval()
        if card is None:
            if self._reach_timer is not None:
                self._reach_timer.stop()
                self._reach_timer = None
            return
        if self._focus_within(card):
            return  # the card's own focus handling says it
        card.show_reach_hint(self._keys_are_text(self.focused))

    def _prompt_busy(self) -> bool:
        prompt = self.query_one(PromptInput)
        typed = prompt.last_typed
        return bool(prompt.text) or (typed is not None and self.clock() - typed < self.TYPING_QUIET_S)

    def _focus_within(self, card: ApprovalCard) -> bool:
        """Whether the focus is on `card` or inside it."""
        focused = self.focused
        return focused is not None and (focused is card or card in focused.ancestors)

    def _keys_are_text(self, focused: Widget | None) -> bool:
        """Whether a key typed now goes into the focused widget as text: a prompt that holds text
        or was just typed in, or another input."""
        from textual.widgets import Input, TextArea

        if isinstance(focused, PromptInput):
            return self._prompt_busy()
        return isinstance(focused, (Input, TextArea))

    def pending_approval(self) -> ApprovalCard | None:
        """The approval card waiting for an answer, if any."""
        if self.router is None:
            return None
        from tui.widgets.approval import ApprovalCard

        pending = [card for card in self.query(ApprovalCard) if card.pending]
        return pending[-1] if pending else None

    def action_focus_approval(self) -> None:
        """Ctrl+G: focus the pending approval card (it did not take the focus from your typing)."""
        card = self.pending_approval()
        if card is not None:
            card.focus()
            card.scroll_visible(animate=False)

    def answer_keys_reach_the_card(self) -> bool:
        """`y/a/n` answer the pending card from anywhere on the main screen, unless they are text:
        typed into a non-empty (or just typed-in) prompt, or into another input."""
        if len(self.screen_stack) > 1:
            return False
        card = self.pending_approval()
        if card is None or card.in_grace():
            return False
        if self._focus_within(card):
            return False  # the card's own keys
        return not self._keys_are_text(self.focused)

    def action_answer(self, kind: str) -> None:
        """`y`/`a`/`n` on the pending approval card, wherever the focus is (`a` does nothing on a
        card that does not offer "approve always")."""
        card = self.pending_approval()
        if card is None:
            return
        if kind == "deny":
            card.focus()
            card.action_deny()
        else:
            card.action_decide(kind)


class ReplayActions(App[None]):
    """Playing a recorded session: the replay worker, pause and speed."""

    if TYPE_CHECKING:  # provided by `CodeassistApp`
        replay: SessionReplay | None
        router: EventRouter | None

        def _show_header(self, mode: str = "") -> None: ...

    def _replay_mode(self) -> str:
        replay = self.replay
        if replay is None:
            return ""
        return f"replay ×{replay.speed:g}{' paused' if replay.paused else ''}"

    @work(exclusive=True, group="agent-turn", exit_on_error=False)
    async def run_replay(self) -> None:
        replay, router = self.replay, self.router
        if replay is None or router is None:
            return
        if replay.instant:  # the whole history at once: earlier turns drawn frozen, one layout
            history = [event async for event in replay.events()]
            with self.batch_update():
                await router.route_history(history)
        else:
            async for event in replay.events():
                await router.route(event)
        await router.mount(NoticeLine("replay finished — nothing was executed"))

    def action_replay_pause(self) -> None:
        if self.replay is not None:
            self.replay.toggle_pause()
            self._show_header(mode=self._replay_mode())

    def action_replay_speed(self, factor: float) -> None:
        if self.replay is not None:
            self.replay.faster() if factor > 1 else self.replay.slower()
            self._show_header(mode=self._replay_mode())


class BlockActions(App[None]):
    """Moving between, expanding and copying the transcript's blocks (see `tui.blocks`)."""

    def action_select_block(self, step: int) -> None:
        """Ctrl+Up/Ctrl+Down (or Alt+), and Up/Down or k/j on a block: the block above or below
        (from the prompt: the newest; past the newest: back to the prompt)."""
        if step_focus(self.query_one(Transcript), self.focused, step) == "prompt":
            self.action_leave_block()

    action_step_block = action_select_block

    async def action_toggle_block(self, collapse: str = "") -> None:
        """Enter on a block: expand or collapse it (a tool card's output); the footer says which
        (`collapse` names the binding shown on an expanded block)."""
        block = focused_block(self.focused)
        if block is not None:
            await toggle_block(self.query_one(Transcript), block)

    def action_copy_block(self) -> None:
        """c on a block: copy its text (an answer's Markdown, a card's command and output)."""
        text = block_text(focused_block(self.focused))
        self.copy_to_clipboard(text)
        self.notify(f"Copied {len(text):,} characters.")

    def action_show_diff(self) -> None:
        """d on a turn's changes line: that turn's diff (live, or recorded in a replay)."""
        turn = getattr(focused_block(self.focused), "diff_turn", None)
        if isinstance(turn, int):
            from tui.slash_git import open_turn_diff

            open_turn_diff(self, turn)  # type: ignore[arg-type]

    def action_leave_block(self) -> None:
        """Esc on a block: back to the prompt (the transcript itself while replaying)."""
        prompt = self.query_one(PromptInput)
        (self.query_one(Transcript) if prompt.disabled else prompt).focus(scroll_visible=False)
