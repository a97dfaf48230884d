"""Streaming Markdown drawn as cached lines: finished blocks are rendered once, only the open tail
is re-rendered.

markdown-it-py finds the top-level blocks (paragraphs, fences, lists, block quotes, headings,
tables) of the text that arrived so far. Every block but the last is complete: it is rendered
once, at the current width, into `Strip`s that are kept (and rendered again only when the width
or the theme changes). The last block is the open tail; it is re-rendered at most
`FRAME_INTERVAL_S` apart, however many deltas arrive meanwhile, and only the tail is parsed
again, so a frame costs the same at the end of a long answer as at its start.

`StreamingMarkdown` is one Line-API widget (`render_line`): however long the answer, it adds a
single widget to the layout, and a frame only asks for the lines that are visible.

Text reaches it through `SafeTextStream` (a control sequence split across deltas is held back
until complete, then removed), so no control character is ever rendered.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from rich.console import RenderableType
from rich.segment import Segment
from textual.content import Content
from textual.geometry import Size
from textual.strip import Strip
from textual.timer import Timer
from textual.visual import Visual, visualize
from textual.widget import Widget

from agent.terminal_text import SafeTextStream, safe_terminal_text

FRAME_INTERVAL_S = 1 / 30
"""The tail is re-rendered at most this often; deltas arriving meanwhile are drawn together."""

CODE_INDENT = 2
"""Columns a code fence is indented by."""

if TYPE_CHECKING:
    from markdown_it import MarkdownIt


@cache
def _parser() -> MarkdownIt:
    """The block parser, built with the first answer: markdown-it, Rich's Markdown and Pygments
    are imported then, not with the app (its first frame draws no Markdown)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").enable(["table", "strikethrough"])


@dataclass(frozen=True)
class Block:
    """One top-level Markdown block: its source (trailing blank lines included) and its kind
    (`paragraph`, `fence`, `table`, `bullet_list`, …); a fence also has its info string and code."""

    source: str
    kind: str
    info: str = ""
    code: str = ""


def split_blocks(text: str) -> list[Block]:
    """The top-level blocks of `text`, in order; their sources add up to `text` (leading blank
    lines go with the first block). Text holding only blank lines has no block."""
    tokens = _parser().parse(text)
    starts = [token for token in tokens if token.level == 0 and token.nesting >= 0 and token.map is not None]
    if not starts:
        return []
    lines = text.splitlines(keepends=True)
    blocks = []
    for index, token in enumerate(starts):
        assert token.map is not None
        begin = 0 if index == 0 else token.map[0]
        following = starts[index + 1].map if index + 1 < len(starts) else None
        end = following[0] if following is not None else len(lines)
        kind = token.type.removesuffix("_open")
        source = "".join(lines[begin:end])
        if kind == "fence":
            blocks.append(Block(source, kind, info=token.info.strip(), code=token.content))
        else:
            blocks.append(Block(source, kind))
    return blocks


def render_visual(widget: Widget, renderable: RenderableType | Content, width: int) -> list[Strip]:
    """`renderable` (Rich renderable or Textual `Content`, theme variables allowed) as lines of
    `width` cells, styled as `widget` is."""
    if width <= 0:
        return []
    visual = visualize(widget, renderable, markup=False)
    return Visual.to_strips(widget, visual, width, None, widget.visual_style, apply_selection=False)


def render_block(widget: Widget, block: Block, width: int, *, closed: bool = True) -> list[Strip]:
    """One block as lines. A closed fence is highlighted with Pygments in the theme's colours; an
    open one is plain (it is re-rendered every frame until it closes)."""
    if block.kind == "fence":
        from textual.highlight import highlight  # Pygments: with the first answer, not at start-up

        code = block.code.rstrip("\n")
        language = block.info.split()[0] if block.info else None
        content = highlight(code, language=language) if closed else Content(code)
        indent = Strip([Segment(" " * CODE_INDENT)], CODE_INDENT)
        lines = render_visual(widget, content, max(1, width - CODE_INDENT))
        return [Strip.join([indent, line]) for line in _trimmed(lines)] or [indent]
    from rich.markdown import Markdown as RichMarkdown

    markdown = RichMarkdown(
        block.source,
        code_theme="monokai" if widget.app.current_theme.dark else "default",
        hyperlinks=False,  # a link is shown as text: no OSC 8 sequence reaches the terminal
    )
    return _trimmed(render_visual(widget, markdown, width))


def _trimmed(lines: list[Strip]) -> list[Strip]:
    """`lines` without blank lines at either end (blocks are separated by exactly one)."""
    start, end = 0, len(lines)
    while start < end and not lines[start].text.strip():
        start += 1
    while end > start and not lines[end - 1].text.strip():
        end -= 1
    return lines[start:end]


def render_markdown(widget: Widget, text: str, width: int) -> list[Strip]:
    """Finished, already sanitised Markdown as lines, one blank line between blocks (the blocks
    between two fences are rendered together: one Rich render instead of one per block)."""
    runs: list[Block] = []
    for block in split_blocks(text):
        if runs and block.kind != "fence" and runs[-1].kind != "fence":
            runs[-1] = Block(runs[-1].source + block.source, "blocks")
        else:
            runs.append(block)
    lines: list[Strip] = []
    for run in runs:
        if lines:
            lines.append(Strip.blank(0))
        lines.extend(render_block(widget, run, width))
    return lines


def shown_tail(block: Block | None, tail: str, *, finished: bool) -> str:
    """The part of the open tail a frame shows: a table only its complete rows, and a paragraph
    that may turn out to be a table's header row nothing yet."""
    if finished or block is None:
        return tail
    if block.kind == "table":
        return tail[: tail.rfind("\n") + 1]
    if block.kind == "paragraph" and tail.lstrip().startswith("|"):
        return ""
    return tail


class StreamingMarkdown(Widget):
    """Markdown that arrives in pieces (`append_text`), drawn as cached lines.

    `painted_chars` is the number of sanitised characters the lines hold (what a frame can
    show); once `close()` ran it is the length of `source`.
    """

    DEFAULT_CSS = """
    StreamingMarkdown {
        height: auto;
    }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.text = ""
        """The raw text, as it arrived."""
        self.source = ""
        """The sanitised text taken in so far (what is or will be drawn)."""
        self.painted_chars = 0
        self.finished = False
        self.block_renders = 0
        """How many times a complete block was rendered (once each, unless the width changed)."""
        self.tail_renders = 0
        self._stream = SafeTextStream()
        self._pending: list[str] = []
        self._done: list[Block] = []
        self._done_chars = 0
        self._tail = ""
        self._tail_block: Block | None = None
        self._width = 0
        self._done_lines: list[Strip] = []
        self._done_rendered = 0
        self._tail_lines: list[Strip] = []
        self._tail_dirty = False
        self._timer: Timer | None = None
        self._theme = ""

    # ---- input -------------------------------------------------------------------------------

    def append_text(self, text: str) -> None:
        """Take a delta; it is drawn by the next frame (at most `FRAME_INTERVAL_S` away)."""
        self.text += text
        safe = self._stream.feed(text)
        if safe:
            self._pending.append(safe)
            if self._timer is None and self.is_mounted:
                self._timer = self.set_timer(FRAME_INTERVAL_S, self.draw_pending)

    def set_text(self, text: str) -> None:
        """Hold exactly `text` (finished), instead of what arrived so far."""
        self._stop_timer()
        self.text = text
        self._stream = SafeTextStream()
        self._pending = [safe_terminal_text(text)]
        self.source = self._tail = ""
        self._done, self._done_chars, self._tail_block = [], 0, None
        self._done_lines, self._done_rendered, self._tail_lines = [], 0, []
        self.finished = False
        self.close()

    def close(self) -> None:
        """Everything that arrived is final: draw it all now (synchronously, so nothing can cancel
        it half-way) and stop the frame timer."""
        self._stop_timer()
        rest = self._stream.flush()
        if rest:
            self._pending.append(rest)
        self.finished = True
        self.draw_pending()

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None

    # ---- frames ------------------------------------------------------------------------------

    def draw_pending(self) -> None:
        """Take in the pending text, close the blocks that are complete, redraw the tail (the frame
        timer calls this; calling it sooner is harmless)."""
        self._timer = None
        if self._pending:
            chunk = "".join(self._pending)
            self._pending.clear()
            self.source += chunk
            self._tail += chunk
            self._split_tail()
        elif self.finished and self._tail:
            self._split_tail()
        self.painted_chars = self._done_chars + len(shown_tail(self._tail_block, self._tail, finished=self.finished))
        if not self.is_mounted:
            return
        before = self.line_count
        if self._width:
            self._bring_lines_up_to(self._width)
        if self.line_count != before or not self._width:
            self.refresh(layout=True)
        else:
            self.refresh()

    def _split_tail(self) -> None:
        self._tail_dirty = True
        if self.finished:
            blocks, self._tail, self._tail_block = split_blocks(self._tail), "", None
            self._close_blocks(blocks)
            return
        # A block is complete once the next one started on a complete line: a partial line may
        # still turn out to continue it ("#foo" continues a paragraph, "# foo" does not).
        complete = self._tail[: self._tail.rfind("\n") + 1]
        blocks = split_blocks(complete)
        if len(blocks) > 1:
            self._close_blocks(blocks[:-1])
            self._tail = self._tail[sum(len(block.source) for block in blocks[:-1]) :]
        tail_blocks = split_blocks(self._tail)
        self._tail_block = tail_blocks[-1] if tail_blocks else None

    def _close_blocks(self, blocks: list[Block]) -> None:
        self._done.extend(blocks)
        self._done_chars += sum(len(block.source) for block in blocks)

    # ---- lines -------------------------------------------------------------------------------

    def _bring_lines_up_to(self, width: int) -> None:
        """Bring the cached lines up to date for `width`: new complete blocks are rendered once,
        the tail again if it changed; everything again only if the width changed."""
        if width != self._width:
            self._width = width
            self._done_lines, self._done_rendered = [], 0
            self._tail_dirty = True
        for block in self._done[self._done_rendered :]:
            if self._done_lines:
                self._done_lines.append(Strip.blank(0))
            self._done_lines.extend(render_block(self, block, width))
            self.block_renders += 1
        self._done_rendered = len(self._done)
        if self._tail_dirty:
            self._tail_dirty = False
            self._tail_lines = self._render_tail(width)

    def _render_tail(self, width: int) -> list[Strip]:
        shown = shown_tail(self._tail_block, self._tail, finished=self.finished)
        if not shown.strip():
            return []
        self.tail_renders += 1
        block = self._tail_block
        if block is not None and block.kind == "fence":
            lines = render_block(self, block, width, closed=False)
        else:
            lines = render_block(self, Block(shown, block.kind if block else "paragraph"), width)
        return [Strip.blank(0), *lines] if self._done_lines else lines

    @property
    def line_count(self) -> int:
        return len(self._done_lines) + len(self._tail_lines)

    def rendered_lines(self) -> list[Strip]:
        """The lines drawn at the current width (for tests and frozen copies)."""
        return [*self._done_lines, *self._tail_lines]

    def notify_style_update(self) -> None:
        super().notify_style_update()
        theme = self.app.theme if self.is_attached else ""
        if theme != self._theme:  # the theme's colours are baked into the cached lines
            self._theme, self._width = theme, 0

    def on_mount(self) -> None:
        if self._pending and self._timer is None:
            self._timer = self.set_timer(FRAME_INTERVAL_S, self.draw_pending)

    def on_unmount(self) -> None:
        self._stop_timer()

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        self._bring_lines_up_to(width)
        return self.line_count

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if width != self._width:
            self._bring_lines_up_to(width)
        done = self._done_lines
        if y < len(done):
            line = done[y]
        elif y - len(done) < len(self._tail_lines):
            line = self._tail_lines[y - len(done)]
        else:
            return Strip.blank(width, self.rich_style)
        return line.extend_cell_length(width, self.rich_style).crop(0, width)
