"""The transcript: user prompts, streamed answers, reasoning, tool cards, plan, notices.

Answers stream into a `Markdown` through a buffer flushed about 15 times a second, so a fast
token stream costs a handful of re-renders per second instead of one per token.

Everything shown here came from outside (model, tools, files, saved sessions): it is passed
through `agent.terminal_text` before it is rendered, so no control sequence reaches the terminal
(a sequence split across streamed deltas is held back until it is complete).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual.containers import VerticalScroll
from textual.timer import Timer
from textual.widgets import Collapsible, Markdown, Static

from agent.events import ToolStatus
from agent.plan import PLAN_GLYPHS, PLAN_STATUSES, PlanStatus, plan_lines
from agent.terminal_text import SafeTextStream, safe_terminal_text

if TYPE_CHECKING:  # annotations only: the session is imported after the first frame
    from agent.session import CallDescription

FLUSH_INTERVAL_S = 1 / 15
MAX_OUTPUT_SHOWN = 20_000

STATUS_LABELS = {
    "waiting": "waiting for approval",
    "running": "running",
    "ok": "done",
    "error": "failed",
    "invalid": "invalid arguments",
    "denied": "denied",
    "aborted": "aborted",
}


class UserMessage(Static):
    """A prompt the user sent (or queued)."""

    def __init__(self, text: str, *, queued: bool = False) -> None:
        super().__init__(Text(safe_terminal_text(text)), classes="-queued" if queued else "")
        self.text = text

    def mark_sent(self) -> None:
        self.remove_class("-queued")


class AssistantMessage(Markdown):
    """Assistant text, streamed as Markdown with highlighted code blocks."""

    def __init__(self) -> None:
        super().__init__("")
        self.text = ""
        self._pending: list[str] = []
        self._stream = SafeTextStream()
        self._timer: Timer | None = None

    def on_mount(self) -> None:
        self._timer = self.set_interval(FLUSH_INTERVAL_S, self._flush)

    def append_text(self, text: str) -> None:
        """Queue a delta; it is rendered on the next flush."""
        self.text += text
        safe = self._stream.feed(text)
        if safe:
            self._pending.append(safe)

    async def _flush(self) -> None:
        if self._pending:
            chunk = "".join(self._pending)
            self._pending.clear()
            await self.append(chunk)

    async def replace_text(self, text: str) -> None:
        """Show exactly `text` instead of what streamed so far (one full re-render)."""
        self._pending.clear()
        self._stream = SafeTextStream()
        self.text = text
        await self.update(safe_terminal_text(text))

    async def finish(self, *, interrupted: bool = False) -> None:
        """Render what is left and stop the flush timer."""
        if self._timer is not None:
            self._timer.stop()
        rest = self._stream.flush()
        if rest:
            self._pending.append(rest)
        await self._flush()
        if interrupted:
            self.add_class("-interrupted")
            self.border_subtitle = "interrupted"


class ReasoningBlock(Collapsible):
    """The model's reasoning summary: dimmed and collapsible."""

    def __init__(self) -> None:
        self.body = Static("", classes="muted")
        super().__init__(self.body, title="Reasoning", collapsed=False)
        self.text = ""

    def append_text(self, text: str) -> None:
        self.text += text
        self.body.update(Text(safe_terminal_text(self.text)))

    def finish(self) -> None:
        self.collapsed = True


class ToolCard(Static):
    """One tool call: name, key argument, status, duration, and its output (collapsible)."""

    def __init__(self, call_id: str, name: str) -> None:
        super().__init__(classes="-running")
        self.call_id = call_id
        self.tool_name = name
        self.arguments = ""
        self.description: CallDescription | None = None
        self.status = "running"
        self.duration_s: float | None = None
        self.output = ""
        self.display_data: dict[str, Any] | None = None
        self.expanded = False
        self._render_card()

    def set_arguments(self, arguments: str, description: CallDescription) -> None:
        """The call's complete arguments, and how the tool describes them."""
        self.arguments = arguments
        self.description = description
        self._render_card()

    def set_status(self, status: str) -> None:
        self.remove_class(f"-{self.status}")
        self.status = status
        self.add_class(f"-{status}")
        self._render_card()

    def finish(self, status: ToolStatus, output: str, duration_s: float, display: dict[str, Any] | None) -> None:
        self.output = output
        self.duration_s = duration_s
        self.display_data = display
        self.set_status(status)

    @property
    def has_result(self) -> bool:
        """Whether the call has been answered (ran, failed, denied, …)."""
        return self.duration_s is not None

    def on_click(self) -> None:
        self.expanded = not self.expanded
        self._render_card()

    def _render_card(self) -> None:
        title = Text.assemble(
            (f"{safe_terminal_text(self.tool_name)} ", "bold"),
            (safe_terminal_text(self.description.summary) if self.description else "", ""),
            ("  ·  ", "dim"),
            (STATUS_LABELS.get(self.status, self.status), "italic"),
        )
        exit_code = (self.display_data or {}).get("exit_code")
        if exit_code is not None:
            title.append(f"  ·  exit {exit_code}", style="bold" if exit_code else "dim")
        if self.duration_s is not None:
            title.append(f"  ·  {self.duration_s:.1f}s", style="dim")
        parts: list[RenderableType] = [title]
        diff = (self.display_data or {}).get("diff")
        if isinstance(diff, str) and diff:
            parts.append(Syntax(safe_terminal_text(diff), "diff", word_wrap=True, background_color="default"))
        plan = (self.display_data or {}).get("plan")
        if isinstance(plan, list):
            parts.append(plan_text(plan))
        elif self.output and (self.expanded or self.status in ("error", "invalid", "denied")):
            shown = self.output if len(self.output) <= MAX_OUTPUT_SHOWN else self.output[:MAX_OUTPUT_SHOWN] + "\n…"
            parts.append(Text(safe_terminal_text(shown), style="dim"))
        elif self.output:
            lines = self.output.count("\n") + 1
            parts.append(Text(f"{lines} lines of output — click to expand", style="dim italic"))
        self.update(Group(*parts))


_PENDING, _IN_PROGRESS, _DONE = PLAN_STATUSES
PLAN_STYLES: dict[PlanStatus, str] = {_PENDING: "", _IN_PROGRESS: "bold", _DONE: "dim strike"}
"""How each plan step is styled by its status (an unknown status is styled as pending)."""


def plan_text(steps: list[dict[str, Any]]) -> Text:
    """A plan as a checklist."""
    text = Text()
    for index, step in enumerate(steps):
        if index:
            text.append("\n")
        style = PLAN_STYLES.get(step.get("status", _PENDING), PLAN_STYLES[_PENDING])
        text.append(safe_terminal_text(plan_lines([step], PLAN_GLYPHS)[0]), style=style)
    return text


class NoticeLine(Static):
    """A one-line notice in the transcript (reconnects, transport changes, errors)."""

    def __init__(self, message: str, *, error: bool = False) -> None:
        super().__init__(Text(safe_terminal_text(message)), classes="-error" if error else "")
        self.message = message


class Transcript(VerticalScroll):
    """The scrolling conversation; sticks to the bottom while streaming unless scrolled up."""

    def on_mount(self) -> None:
        self.anchor()
