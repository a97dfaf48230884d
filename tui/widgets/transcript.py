"""The transcript: user prompts, streamed answers, reasoning, tool cards, plan, notices.

Answers and reasoning stream into `StreamingMarkdown` widgets (one Line-API widget each): a
finished block is rendered once, the open tail block at most 30 times a second however fast
the tokens come. Turns that ended long ago are frozen into data held by one `FrozenHistory`
widget (`tui.widgets.frozen_turn`), so the transcript's layout cost stays flat as it grows.

Everything shown here came from outside (model, tools, files, saved sessions): it is passed
through `agent.terminal_text` before it is rendered, so no control sequence reaches the terminal
(a sequence split across streamed deltas is held back until it is complete).
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style as RichStyle
from rich.text import Text
from textual.containers import VerticalScroll
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widgets import Static

from agent.terminal_text import safe_terminal_text
from tui.widgets.markdown_stream import FRAME_INTERVAL_S, StreamingMarkdown

__all__ = [
    "FRAME_INTERVAL_S",
    "AssistantMessage",
    "NoticeLine",
    "ReasoningBlock",
    "Transcript",
    "UserMessage",
]

DIM = RichStyle(dim=True)
DIM_BOLD = RichStyle(dim=True, bold=True)


class UserMessage(Static, can_focus=True):
    """A prompt the user sent (or queued)."""

    def __init__(self, text: str, *, queued: bool = False) -> None:
        super().__init__(Text(safe_terminal_text(text)), classes="-queued" if queued else "")
        self.text = text

    def mark_sent(self) -> None:
        self.remove_class("-queued")


class AssistantMessage(StreamingMarkdown, can_focus=True):
    """Assistant text, streamed as Markdown: finished blocks are drawn once, the open one at
    most `FRAME_INTERVAL_S` apart (see `tui.widgets.markdown_stream`)."""

    async def replace_text(self, text: str) -> None:
        """Show exactly `text` instead of what streamed so far (one full re-render)."""
        self.set_text(text)

    async def finish(self, *, interrupted: bool = False) -> None:
        """Draw what is left (the last delta included) and stop the frame timer."""
        self.close()
        if interrupted:
            self.add_class("-interrupted")
            self.border_subtitle = "interrupted"


class ReasoningBlock(StreamingMarkdown):
    """The model's reasoning summary: dimmed, through the same streaming path as answers, and
    collapsed to its title line once the answer starts (a click toggles it)."""

    TITLE = "Reasoning"

    def __init__(self) -> None:
        super().__init__(classes="muted")
        self._collapsed = False

    @property
    def collapsed(self) -> bool:
        """Whether only the title line is shown."""
        return self._collapsed

    @collapsed.setter
    def collapsed(self, collapsed: bool) -> None:
        if collapsed != self._collapsed:
            self._collapsed = collapsed
            self.refresh(layout=True)

    def finish(self) -> None:
        self.close()
        self.collapsed = True

    def on_click(self) -> None:
        self.collapsed = not self.collapsed

    def _title(self) -> Strip:
        marker = "▸" if self._collapsed else "▾"
        return Strip([Segment(f"{marker} {self.TITLE}", self.rich_style + DIM_BOLD)])

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        body = super().get_content_height(container, viewport, width)
        return 1 if self._collapsed else 1 + body

    def render_line(self, y: int) -> Strip:
        if y == 0:
            return self._title().extend_cell_length(self.size.width, self.rich_style).crop(0, self.size.width)
        return super().render_line(y - 1)

    def render_lines(self, crop: Region) -> list[Strip]:
        return [line.apply_style(DIM) for line in super().render_lines(crop)]


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
