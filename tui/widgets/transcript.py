"""The transcript: user prompts, streamed answers, reasoning, tool cards, plan, notices.

Answers stream into a `Markdown` through a buffer flushed about 15 times a second, so a fast
token stream costs a handful of re-renders per second instead of one per token.

Everything shown here came from outside (model, tools, files, saved sessions): it is passed
through `agent.terminal_text` before it is rendered, so no control sequence reaches the terminal
(a sequence split across streamed deltas is held back until it is complete).
"""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.timer import Timer
from textual.widgets import Collapsible, Markdown, Static

from agent.terminal_text import SafeTextStream, safe_terminal_text

FLUSH_INTERVAL_S = 1 / 15


class UserMessage(Static, can_focus=True):
    """A prompt the user sent (or queued)."""

    def __init__(self, text: str, *, queued: bool = False) -> None:
        super().__init__(Text(safe_terminal_text(text)), classes="-queued" if queued else "")
        self.text = text

    def mark_sent(self) -> None:
        self.remove_class("-queued")


class AssistantMessage(Markdown, can_focus=True):
    """Assistant text, streamed as Markdown with highlighted code blocks."""

    def __init__(self) -> None:
        super().__init__("")
        self.text = ""
        self._pending: list[str] = []
        self._stream = SafeTextStream()
        self._timer: Timer | None = None
        self.painted_chars = 0
        """How many characters of `text` the widget's content holds (what a frame can show)."""

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
            self.painted_chars += len(chunk)

    async def replace_text(self, text: str) -> None:
        """Show exactly `text` instead of what streamed so far (one full re-render)."""
        self._pending.clear()
        self._stream = SafeTextStream()
        self.text = text
        await self.update(safe_terminal_text(text))
        self.painted_chars = len(text)

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


class NoticeLine(Static, can_focus=True):
    """A one-line notice in the transcript (reconnects, transport changes, errors)."""

    def __init__(self, message: str, *, error: bool = False) -> None:
        super().__init__(Text(safe_terminal_text(message)), classes="-error" if error else "")
        self.message = message
        self.text = message


class Transcript(VerticalScroll):
    """The scrolling conversation; sticks to the bottom while streaming unless scrolled up."""

    def on_mount(self) -> None:
        self.anchor()
