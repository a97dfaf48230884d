"""`CodeassistApp`: the Textual app — transcript, approvals by keypress, stats panel, replay.

One worker runs a turn (or a replay) at a time and feeds every event to the `EventRouter`.
The app talks to the agent only through `agent.session.Session`: an approval card's keypress
answers the pending approval by its call id.

Startup: only what the first frame shows is imported with this module (Textual, the themes and
the widgets of the layout). The agent session, git, the router and the approval card are imported
when the session or the replay starts, right after the first frame; settings given as a
`SettingsDraft` are validated then too (see `bench/startup.py` and
`tests/tui/test_app_imports.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import events, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Footer, Static

from agent.config import ConfigError, SettingsDraft, save_setting
from agent.terminal_text import safe_terminal_text
from themes import STYLESHEET, THEMES
from tui.app_actions import ApprovalActions, BlockActions, ReplayActions
from tui.blocks import BLOCK_ACTIONS, block_action_enabled, focused_block
from tui.history import PromptHistory
from tui.slash import SlashCommands
from tui.terminal_signals import TerminalSignals
from tui.widgets.completion import CompletionList
from tui.widgets.header import RepoHeader
from tui.widgets.prompt import PromptInput
from tui.widgets.stats_panel import StatsPanel
from tui.widgets.status_line import StatusLine
from tui.widgets.transcript import NoticeLine, Transcript

if TYPE_CHECKING:  # imported where they are used, after the first frame
    from textual.notifications import SeverityLevel

    from agent.config import Settings
    from agent.events import AgentEvent
    from agent.session import Session, SessionStats
    from tui.router import EventRouter
    from tui.widgets.approval import ApprovalCard

WIDE_ENOUGH_FOR_STATS = 100
"""Below this many columns the stats panel is hidden, unless Ctrl+B showed it."""


class CodeassistApp(ApprovalActions, ReplayActions, BlockActions):
    """The terminal UI of codeassist.

    Args:
        settings: endpoint, model, policy and theme.
        cwd: where codeassist was started.
        replay: a session file to replay instead of talking to a model.
        replay_speed: its playback speed; None plays it instantly.
        resume: a session file to continue.
        banner: a line shown above the transcript (e.g. for the scripted demo).
        initial_prompt: sent as soon as the session is ready.
        session_options: extra keyword arguments for `Session.open` (log root, TLS context…).
    """

    TITLE = "codeassist"
    CSS_PATH = [STYLESHEET]
    COMMANDS = App.COMMANDS | {SlashCommands}
    BINDINGS = [
        Binding("escape", "interrupt", "Interrupt"),
        Binding("ctrl+b", "toggle_stats", "Stats"),
        Binding("ctrl+o", "copy_answer", "Copy answer"),
        Binding("ctrl+n", "new_session", "New"),
        Binding("ctrl+g", "focus_approval", "Answer approval"),
        Binding("y", "answer('approve_once')", "Approve", show=False, priority=True),
        Binding("a", "answer('approve_always')", "Approve always", show=False, priority=True),
        Binding("n", "answer('deny')", "Deny", show=False, priority=True),
        Binding("space", "replay_pause", "Pause", show=False),
        Binding("plus,equals_sign", "replay_speed(2)", "Faster", show=False),
        Binding("minus", "replay_speed(0.5)", "Slower", show=False),
        Binding("ctrl+up,alt+up", "select_block(-1)", "Previous block (from the prompt: the newest)", show=False),
        Binding("ctrl+down,alt+down", "select_block(1)", "Next block (after the newest: the prompt)", show=False),
        Binding("up", "step_block(-1)", "Previous block", show=False, priority=True),
        Binding("down", "step_block(1)", "Next block", show=False, priority=True),
        Binding("k", "step_block(-1)", "Previous block", show=False),
        Binding("j", "step_block(1)", "Next block", show=False),
        Binding("enter", "toggle_block", "Expand"),
        Binding("enter", "toggle_block('collapse')", "Collapse"),
        Binding("c", "copy_block", "Copy"),
        Binding("d", "show_diff", "Diff"),
        Binding("escape", "leave_block", "To prompt"),
    ]

    def __init__(
        self,
        settings: Settings | SettingsDraft,
        cwd: Path,
        *,
        replay: Path | None = None,
        replay_speed: float | None = 1.0,
        resume: Path | None = None,
        banner: str | None = None,
        initial_prompt: str | None = None,
        session_options: dict[str, Any] | None = None,
        history: PromptHistory | None = None,
    ) -> None:
        super().__init__()
        self._settings = settings
        self.cwd = cwd
        self.replay_path = replay
        self.replay_speed = replay_speed
        self.resume_path = resume
        self.banner = banner
        self.initial_prompt = initial_prompt
        self.session_options = session_options or {}
        self.history = history
        self.session: Session | None = None
        self.saved_session_id: str | None = None
        """The last closed session that holds turns on disk (the command line prints how to resume it)."""
        self.replay: Any = None
        self.router: EventRouter | None = None
        self.running = False
        self.queued: list[str] = []
        self.drawing_history = False
        """A resumed session's history is being drawn: prompts wait in the queue meanwhile."""
        self.clock: Callable[[], float] = time.monotonic
        """The monotonic clock of the typing and approval grace periods (tests replace it)."""
        self.signals = TerminalSignals(self._write_to_terminal, self.TITLE)
        """The real terminal's title while an approval waits, and turn-end notifications."""
        self.stats_toggled = False
        """Ctrl+B showed or hid the stats panel: it no longer follows the window's width."""
        for theme in THEMES:
            self.register_theme(theme)
        if settings.theme in self.available_themes:  # before the CSS is first parsed: parsed once
            self.theme = settings.theme

    @property
    def settings(self) -> Settings:
        """The validated settings (a draft given to the app is validated on first use, after the
        first frame)."""
        if isinstance(self._settings, SettingsDraft):
            self._settings = self._settings.validate()
        return self._settings

    @settings.setter
    def settings(self, settings: Settings) -> None:
        self._settings = settings

    # ---- layout ----------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield RepoHeader(id="header")
        if self.banner:
            yield Static(Text(self.banner), id="banner")
        with Horizontal(id="body"):
            with Vertical(id="main"):
                yield Transcript(id="transcript")
                yield StatusLine(id="status-line")  # reads `settings.max_retries` when it shows a reconnect
                yield Static("", id="queue", classes="muted")
                yield CompletionList()
                yield PromptInput(self.history)  # its files for `@` come after the first frame
            yield StatsPanel()
        yield Footer()

    def on_mount(self) -> None:
        self._fit_stats_to_width()
        self.query_one("#queue").display = False
        self.query_one(StatusLine).idle()
        if self.replay_path is not None:
            self.query_one(PromptInput).disabled = True
            self.query_one(Transcript).focus()
        else:
            self.query_one(PromptInput).focus()
        self.call_later(self._start_after_first_frame)
        self.set_interval(1.0, self._refresh_connection)

    async def _start_after_first_frame(self) -> None:
        """Let the screen draw the layout, then open the session (which lists the files for `@`)
        or the replay.

        What this imports (the agent, git, httpx, websockets…) is not needed to draw the layout,
        so it is loaded here rather than with the module. The app handles no other message
        meanwhile (this is one of them), so whatever comes next — a key, or a test's first pilot
        step — finds the session or the replay started, as when it was started in `on_mount`."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.screen.wait_for_refresh(), timeout=1.0)
        await self.query_one(StatsPanel).fill()
        if self.replay_path is not None:
            self.start_replay(self.replay_path, instant=self.replay_speed is None, speed=self.replay_speed or 1.0)
        else:
            self.start_session(self.resume_path)

    # ---- sessions ----------------------------------------------------------------------------

    def start_session(self, resume: Path | None = None) -> None:
        """Open a live session (or continue `resume`) and warm the connection up."""
        from agent.session import Session

        options = dict(self.session_options)
        if resume is not None:
            options["resume"] = resume
        self.session = Session.open(self.settings, cwd=self.cwd, **options)
        prompt = self.query_one(PromptInput)
        prompt.files = self.session.workspace_files()
        prompt.list_files = self.session.workspace_files
        prompt.disabled = False
        self.router = self._new_router(interactive=True)
        self._show_header()
        for notice in self.session.start_notices():
            self.say(notice, error="no sandbox" in notice or "session log" in notice)
        if resume is not None:
            self.drawing_history = True  # no live turn shares the router until the history is drawn
            self.call_after_refresh(self._show_resumed)
        self.warm_up()

    def _new_router(self, *, interactive: bool, commands: bool = True) -> EventRouter:
        from tui.router import EventRouter

        return EventRouter(
            self.query_one(Transcript),
            self.query_one(StatsPanel),
            session_stats=self.session_stats,
            interactive=interactive,
            commands=commands,
            on_turn_ended=lambda stats: self._show_header(),
            observer=self._observe_live,
        )

    def _observe_live(self, event: AgentEvent) -> None:
        """Every live event: the status line follows it; a finished response moves the context meter."""
        self.query_one(StatusLine).observe(event)
        if event.type == "response_finished" and self.session is not None:
            self.query_one(RepoHeader).show_context(self.session.context_usage())

    RESUMED_TURNS_DRAWN = 20
    """How many of a resumed session's latest turns are drawn (drawing is what a long one costs)."""

    async def _show_resumed(self) -> None:
        """Draw the resumed session's earlier turns as they were shown (nothing is re-run), then
        send the prompts that came meanwhile."""
        try:
            await self._draw_resumed()
        finally:
            self.drawing_history = False
            self._send_queued()

    async def _draw_resumed(self) -> None:
        from agent.events import TurnEnded, TurnStarted

        session, router = self.session, self.router
        if session is None or router is None:
            return
        history = session.history()
        starts = [index for index, event in enumerate(history) if isinstance(event, TurnStarted)]
        if len(starts) > self.RESUMED_TURNS_DRAWN:  # a long session: its latest turns, all its stats
            cut = starts[-self.RESUMED_TURNS_DRAWN]
            panel = self.query_one(StatsPanel)
            for event in history[:cut]:
                if isinstance(event, TurnEnded):
                    panel.add_turn(event.stats)
            earlier = len(starts) - self.RESUMED_TURNS_DRAWN
            await router.mount(
                NoticeLine(f"{earlier} earlier turns are not drawn (`codeassist replay {session.id}` plays them all)")
            )
            history = history[cut:]
        with self.batch_update():  # one layout for the whole history, not one per widget
            await router.route_history(history)
        await router.mount(NoticeLine(f"resumed session {session.id}; the next request resends the whole conversation"))

    @work(exclusive=True, group="warm-up", exit_on_error=False)
    async def warm_up(self) -> None:
        session = self.session
        if session is None:
            return
        if self.settings.warmup:
            await session.warm_up()
            self._refresh_connection()
        for notice in session.take_mcp_notices():  # a server that failed to start, said at once
            self.say(notice, error=True)
        if self.initial_prompt:
            prompt, self.initial_prompt = self.initial_prompt, None
            self.submit(prompt)

    def session_stats(self) -> SessionStats | None:
        return self.session.stats() if self.session is not None else None

    def _refresh_connection(self) -> None:
        stats = self.session_stats()
        if stats is not None:
            for panel in self.query(StatsPanel):  # none while the app shuts down
                panel.show_session(stats)

    def _show_header(self, mode: str = "") -> None:
        from agent.session import Session

        repo = Session.repository(self.cwd)
        stats = self.session_stats()
        transport = stats.transport if stats is not None else "replay"
        self.query_one(RepoHeader).show(
            repo=repo.root.name if repo else self.cwd.name,
            branch=repo.branch if repo else None,
            dirty=repo.dirty if repo else False,
            model=(self.replay.header.get("model") if self.replay is not None else None) or self.settings.model,
            effort=self.session.effort if self.session is not None else None,
            transport={
                "websocket": "WebSocket",
                "http": "HTTP fallback" if stats is not None and stats.fallback_reason else "HTTP",
            }.get(transport, transport),
            mode=mode,
            in_repository=repo is not None,
            safety=self.session.safety_label() if self.session is not None else "",
            context=self.session.context_usage() if self.session is not None else None,
        )

    async def close_session(self) -> None:
        stopped = self.workers.cancel_group(self, "agent-turn")
        with contextlib.suppress(TimeoutError):  # the turn records its end before the log closes
            await asyncio.wait_for(asyncio.gather(*(worker.wait() for worker in stopped), return_exceptions=True), 5.0)
        self.running = False  # a turn's worker cancelled before it started never says so
        if self.session is not None:
            if self.session.log_path is not None and (self.session.stats().turns or self.session.resumed is not None):
                self.saved_session_id = self.session.id
            await self.session.close()
            self.session = None

    async def on_unmount(self) -> None:
        self.signals.restore_title()
        await self.close_session()

    # ---- prompts and turns ---------------------------------------------------------------

    async def on_prompt_input_submitted(self, message: PromptInput.Submitted) -> None:
        text = message.text.strip()
        self._jump_to_bottom()
        if text.startswith("/") and "/" not in text.split(maxsplit=1)[0][1:]:  # not a pasted path
            await self.run_slash_command(text)
            self.call_after_refresh(self._jump_to_bottom)  # below what the command printed
            return
        self.submit(text)

    def _jump_to_bottom(self) -> None:
        """Scroll the transcript to its end (and keep it there while an answer streams)."""
        for transcript in self.query(Transcript):
            transcript.scroll_end(animate=False, immediate=True)
            transcript.anchor()

    def submit(self, text: str) -> None:
        """Send a prompt now, or queue it while a turn runs (or a resumed history is drawn)."""
        if self.session is None:
            self.notify("No live session (replaying). Use /new to start one.", severity="warning")
            return
        self.queued.append(text)
        self._show_queue()
        self._send_queued()

    def send_queued(self) -> None:
        """Start a turn with the first queued prompt, unless a turn runs or the history is drawn."""
        self._send_queued()

    def _send_queued(self) -> None:
        """Start a turn with the first queued prompt, unless a turn runs or the history is drawn."""
        if self.running or self.drawing_history or not self.queued or self.session is None:
            return
        self.running = True  # from now on: a prompt submitted before the worker starts is queued
        self.refresh_bindings()
        text = self.queued.pop(0)
        self._show_queue()
        self.run_prompt(text)

    def _show_queue(self) -> None:
        queue = self.query_one("#queue", Static)
        queue.display = bool(self.queued)
        queue.update(Text(safe_terminal_text("\n".join(f"queued: {item[:100]}" for item in self.queued))))

    @work(exclusive=True, group="agent-turn", exit_on_error=False)
    async def run_prompt(self, prompt: str) -> None:
        session, router = self.session, self.router
        self.running = True
        try:
            if session is None or router is None:
                return
            next_prompt: str | None = prompt
            while next_prompt is not None:
                prepared = await asyncio.to_thread(session.prepare_prompt, next_prompt)
                # closed at once if the worker is cancelled: the turn is then recorded as cancelled
                async with contextlib.aclosing(session.run_turn(prepared.text, prepared.images)) as events:
                    async for event in events:
                        await router.route(event)
                        self._attend(event)
                        if event.type == "turn_started":  # below the prompt they belong to
                            for notice in prepared.notices:
                                self.say(notice, error=True)
                next_prompt = self.queued.pop(0) if self.queued else None
                self._show_queue()
        finally:
            self.running = False
            self.refresh_bindings()
            self.title = "codeassist"
            self.signals.restore_title()
            for status in self.query(StatusLine):  # none while the app shuts down
                status.idle()

    def _attend(self, event: AgentEvent) -> None:
        """Call the user when an approval waits (the card on screen takes the answer) and when a
        long turn ends, or one ends while the terminal is not focused."""
        from agent.events import ApprovalDecided, ApprovalRequested, Notice, TurnEnded

        self.signals.attend(event, clock=self.clock, focused=self.app_focus, setting=self.settings.notify)
        if isinstance(event, Notice) and "session log" in event.message:  # also in the transcript
            self.notify(event.message, title="Session log", severity="warning")
        elif isinstance(event, ApprovalRequested):
            self.bell()
            self.title = "codeassist — approval needed"
        elif isinstance(event, ApprovalDecided):
            self.title = "codeassist"
            self.refresh_bindings()
        elif isinstance(event, TurnEnded) and event.reason == "cancelled" and not self.queued and self.router:
            from tui.slash_git import offer_undo_after_cancel  # its partial changes can be undone

            self.call_later(offer_undo_after_cancel, self, self.router.turn)

    def _write_to_terminal(self, data: str) -> None:
        """Raw output to the terminal (Textual has no public call for it; `App.bell` does this)."""
        if self._driver is not None:
            self._driver.write(data)

    def on_approval_card_decided(self, message: ApprovalCard.Decided) -> None:
        if self.session is not None:
            self.session.answer_approval(message.call_id, message.decision)
        self.query_one(PromptInput).focus()
        self.refresh_bindings()

    async def action_interrupt(self) -> None:
        """Esc: cancel the running turn (a pending approval is answered with `cancel`)."""
        if self.running and self.session is not None:
            await self.session.cancel()

    # ---- replay ------------------------------------------------------------------------------

    def start_replay(self, path: Path, *, instant: bool = False, speed: float = 1.0) -> None:
        from agent.replay import SessionReplay

        self.replay = SessionReplay(path, instant=instant, speed=speed, whole_runs=instant)
        self.router = self._new_router(interactive=False, commands=False)  # the prompt is disabled
        prompt = self.query_one(PromptInput)
        prompt.disabled = True
        self.query_one(Transcript).focus()
        self._show_header(mode=self._replay_mode())
        self.run_replay()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in BLOCK_ACTIONS:  # offered (and in the footer) only where they do something
            return block_action_enabled(action, self.focused, parameters)
        if action == "show_diff":  # on a turn's changes line
            return getattr(focused_block(self.focused), "diff_turn", None) is not None
        if action == "interrupt":  # offered while a turn runs; Esc on a block goes back to the prompt
            return self.running and focused_block(self.focused) is None
        if action == "select_block":
            return len(self.screen_stack) == 1
        if action in ("replay_pause", "replay_speed"):
            return self.replay is not None
        if action == "focus_approval":  # offered while a pending card waits without the focus
            card = self.pending_approval()
            focused = self.focused
            return card is not None and not (focused is not None and (focused is card or card in focused.ancestors))
        if action == "answer":  # `a` on a card without "approve always" is swallowed, not typed
            return self.answer_keys_reach_the_card()
        return True

    # ---- actions -----------------------------------------------------------------------------

    def action_toggle_stats(self) -> None:
        self.stats_toggled = True
        self.query_one(StatsPanel).toggle_class("-hidden")

    def on_resize(self, event: events.Resize) -> None:
        self._fit_stats_to_width(event.size.width)

    def _fit_stats_to_width(self, width: int | None = None) -> None:
        """Show the stats panel in a wide enough window, hide it in a narrow one — unless Ctrl+B
        decided."""
        if not self.stats_toggled:
            narrow = (self.size.width if width is None else width) < WIDE_ENOUGH_FOR_STATS
            for panel in self.query(StatsPanel):
                panel.set_class(narrow, "-hidden")

    def action_copy_answer(self) -> None:
        text = self.router.last_answer if self.router else ""
        if not text:
            self.notify("No answer to copy yet.", severity="warning")
            return
        self.copy_to_clipboard(text)
        self.notify("Copied the last answer.")

    async def action_new_session(self) -> None:
        await self.close_session()
        self.replay = None
        await self.query_one(Transcript).remove_children()
        self.query_one(StatsPanel).clear()
        self.start_session()
        self.notify("New session.")

    async def run_slash_command(self, text: str) -> None:
        """Run `/name args`; unknown names get a hint."""
        from tui.slash import run_command

        await run_command(self, text)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """A toast. Toasts quote outside text (file names, search text, exception messages), so
        every one — from any widget — is made safe and shown as plain text, never as markup."""
        del markup  # a `[` in a file name or an error message is text, not a style
        safe_title = safe_terminal_text(title)
        super().notify(safe_terminal_text(message), title=safe_title, severity=severity, timeout=timeout, markup=False)

    def action_help_quit(self) -> None:
        """Ctrl+C (it copies a selection; it does not quit): say how to quit, in plain words
        (toasts here show no markup)."""
        self.notify("Ctrl+Q or /quit quits codeassist; Ctrl+C copies the selected text.", title="Quit?")

    def say(self, message: str, *, error: bool = False) -> None:
        """A notice line in the transcript."""
        self.query_one(Transcript).mount(NoticeLine(message, error=error))

    def refresh_header(self) -> None:
        """Show the repository's state again (after an undo, a commit, `git init`)."""
        self._show_header(mode=self._replay_mode())

    def set_policy(self, name: str) -> None:
        if self.session is None:
            raise ConfigError("No live session.")
        self.session.set_policy(name)
        self.settings = self.settings.model_copy(update={"approval": name})
        self._show_header()

    def set_sandbox(self, mode: str) -> str:
        """Run the next shell commands in sandbox `mode`; its description."""
        if self.session is None:
            raise ConfigError("No live session.")
        described = self.session.set_sandbox(mode)
        self.settings = self.settings.model_copy(update={"sandbox": mode})
        self._show_header()
        return described

    def set_model(self, model: str) -> None:
        if self.session is None:
            raise ConfigError("No live session.")
        self.session.set_model(model)
        self.settings = self.settings.model_copy(update={"model": model})
        self._show_header()

    def set_effort(self, level: str) -> None:
        """Send reasoning effort `level` from the next request on (refused for a model without reasoning)."""
        if self.session is None:
            raise ConfigError("No live session.")
        self.session.set_effort(level)
        self.settings = self.settings.model_copy(update={"reasoning_effort": level})
        self._show_header()

    def set_theme(self, name: str) -> Path | None:
        self.theme = name
        try:
            return save_setting("theme", name)
        except ConfigError as exc:
            self.notify(f"Theme set, but not saved: {exc}", severity="warning")
            return None
