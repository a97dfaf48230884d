"""A finished turn kept as one cheap widget: what the transcript holds for turns long over.

Every widget in the transcript is visited by each layout pass, and a streaming answer triggers
one per frame; a long session's hundreds of messages, cards and notices would make every frame
slower than the last. Once a turn has ended and a few newer ones exist, the router replaces its
widgets with one `FrozenTurn`: it keeps their data (`FrozenPart`s), draws them as lines only
when it is on screen (`render_line`), and forgets those lines when many other frozen turns were
drawn since (their height per width is kept, so layout never re-renders them).

A frozen turn can take the focus, holds its answer's text (`text`, for a copy key), and
`thaw()` mounts live widgets back in its place (a click does it too).
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, ClassVar

from rich.console import RenderableType
from rich.segment import Segment
from rich.style import Style as RichStyle
from rich.text import Text
from textual.app import App
from textual.content import Content
from textual.geometry import Size
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from agent.terminal_text import safe_terminal_text
from tui.widgets.approval import ApprovalCard
from tui.widgets.markdown_stream import render_markdown, render_visual
from tui.widgets.tool_card import ToolCard
from tui.widgets.transcript import AssistantMessage, NoticeLine, ReasoningBlock, UserMessage

if TYPE_CHECKING:
    from agent.session import ApprovalRequest

CARD_BORDERS = {
    "running": "$warning",
    "waiting": "$accent",
    "ok": "$success",
    "error": "$error",
    "invalid": "$error",
}
"""A tool card's left border colour by status (the others are `$panel-lighten-2`)."""

_STATIC_ATTRIBUTES = frozenset(vars(Static()))


@dataclass
class FrozenPart:
    """One widget of a finished turn, as data: how it is drawn, and how it comes back to life."""

    kind: str
    """`user`, `answer`, `reasoning`, `notice`, `card` or `approval`."""
    text: str = ""
    """The raw text of a user message, answer, reasoning or notice."""
    flag: bool = False
    """An interrupted answer, an error notice."""
    body: RenderableType | None = None
    """What a card showed (its content when it was frozen)."""
    state: dict[str, object] = field(default_factory=dict)
    """A card's attributes, to rebuild it."""
    request: ApprovalRequest | None = None
    """An approval's request (its segments are in `state`)."""

    def lines(self, host: Widget, width: int) -> list[Strip]:
        """The part drawn `width` cells wide, with the margin line above it."""
        if self.kind == "user":
            body = _border(host, "$secondary", render_visual(host, Content(safe_terminal_text(self.text)), width - 3))
        elif self.kind == "answer":
            lines = render_markdown(host, safe_terminal_text(self.text), width - 3)
            body = _border(host, "$warning", lines) if self.flag else _pad(lines)
        elif self.kind == "reasoning":
            body = render_visual(host, Content.styled(f"▸ {ReasoningBlock.TITLE}", "$text-muted bold"), width)
        elif self.kind == "notice":
            text = safe_terminal_text(self.text)
            body = render_visual(host, Content.styled(text, "$error" if self.flag else "$text-muted"), width)
        else:
            colour = CARD_BORDERS.get(str(self.state.get("status")), "$panel-lighten-2")
            if self.kind == "approval":
                colour = "$accent"
            body = _border(host, colour, render_visual(host, self.body or "", width - 3))
        return [Strip.blank(0), *body]

    def estimated_height(self, width: int) -> int:
        """About how many lines `lines` returns, margin included, without drawing anything."""
        if self.kind in ("user", "answer", "notice"):
            columns = max(1, width - 3)
            return 1 + sum(max(1, -(-len(line) // columns)) for line in self.text.splitlines() or [""])
        if self.kind == "card":
            return 3
        return 2

    def thaw(self) -> Widget:
        """A live widget showing this part again."""
        match self.kind:
            case "user":
                return UserMessage(self.text)
            case "answer":
                answer = AssistantMessage()
                answer.set_text(self.text)
                if self.flag:
                    answer.add_class("-interrupted")
                    answer.border_subtitle = "interrupted"
                return answer
            case "reasoning":
                reasoning = ReasoningBlock()
                reasoning.set_text(self.text)
                reasoning.collapsed = True
                return reasoning
            case "notice":
                return NoticeLine(self.text, error=self.flag)
            case "card":
                card = ToolCard(str(self.state["call_id"]), str(self.state["tool_name"]))
                for name, value in self.state.items():
                    setattr(card, name, value)
                card.set_status(str(self.state["status"]))
                return card
        assert self.request is not None
        segments = self.state.get("segments")
        return ApprovalCard(self.request, interactive=False, segments=segments if isinstance(segments, tuple) else ())

    def after_thaw(self, widget: Widget) -> None:
        """Restore what can only be set once the thawed widget is mounted."""
        if self.kind == "approval" and isinstance(widget, ApprovalCard):
            decision = self.state.get("decision")
            if isinstance(decision, tuple):
                widget.show_decision(*decision)


class OffscreenToolCard(ToolCard):
    """A tool card of history drawn frozen: built and updated, never mounted (thawing builds a
    `ToolCard`), so its status changes skip the stylesheet."""

    def update_node_styles(self, animate: bool = True) -> None:
        if self.is_attached:
            super().update_node_styles(animate)


def freeze(widget: Widget, decisions: Mapping[str, tuple[str, str | None, str | None]]) -> FrozenPart | None:
    """`widget` (of a turn that ended) as a `FrozenPart`, or None when it cannot be frozen (an
    approval still waiting, or a kind of widget this module does not know). `decisions` holds
    each answered approval's decision, rule and reason by call id."""
    if isinstance(widget, UserMessage):
        return FrozenPart("user", widget.text)
    if isinstance(widget, AssistantMessage):
        return FrozenPart("answer", widget.text, flag=widget.has_class("-interrupted"))
    if isinstance(widget, ReasoningBlock):
        return FrozenPart("reasoning", widget.text)
    if isinstance(widget, NoticeLine):
        return FrozenPart("notice", widget.message, flag=widget.has_class("-error"))
    if isinstance(widget, ToolCard):
        state = {name: value for name, value in vars(widget).items() if not name.startswith("_")}
        state = {name: value for name, value in state.items() if name not in _STATIC_ATTRIBUTES}
        return FrozenPart("card", body=widget.content, state=state)  # type: ignore[arg-type]
    if isinstance(widget, ApprovalCard) and widget.decided is not None:
        decision = decisions.get(widget.request.call_id, (widget.decided, None, None))
        kind, rule, reason = decision
        outcome = f"→ {kind.replace('_', ' ')}" + (f" ({rule})" if rule and rule != "user" else "")
        outcome += f": {reason}" if reason else ""
        # The diff or command is the tool card's to show; the frozen approval is one record line.
        body = Text.assemble(
            ("Approve? ", "bold"),
            safe_terminal_text(widget.request.summary),
            "  ",
            (safe_terminal_text(outcome), "bold"),
        )
        recorded: dict[str, object] = {"decision": decision, "segments": widget.segments}
        return FrozenPart("approval", body=body, state=recorded, request=widget.request)
    return None


def _border(host: Widget, colour: str, lines: list[Strip]) -> list[Strip]:
    """`lines` behind a coloured left border and one column of padding on each side."""
    edge = Strip([Segment("▌ ", host.visual_style.rich_style + _colour(host, colour))], 2)
    return [Strip.join([edge, line]) for line in lines] or [edge]


def _colour(host: Widget, variable: str) -> RichStyle:
    """The theme colour `variable` (`$success`) as a foreground style."""
    value = host.app.theme_variables.get(variable.removeprefix("$"))
    return RichStyle(color=value) if value else RichStyle()


def _pad(lines: list[Strip]) -> list[Strip]:
    space = Strip([Segment(" ")], 1)
    return [Strip.join([space, line]) for line in lines]


class FrozenTurn(Widget, can_focus=True):
    """A finished turn drawn as lines from its parts' data (see the module docstring)."""

    DEFAULT_CSS = """
    FrozenTurn {
        height: auto;
    }
    FrozenTurn:focus {
        background: $boost;
    }
    """

    CACHED_TURNS = 32
    """How many frozen turns keep their drawn lines (the others draw again when shown)."""

    _drawn: ClassVar[OrderedDict[int, weakref.ref[FrozenTurn]]] = OrderedDict()

    def __init__(self, parts: list[FrozenPart]) -> None:
        super().__init__()
        self.parts = parts
        self.text = "\n\n".join(part.text for part in parts if part.kind == "answer")
        """The turn's answer text (what a copy key copies)."""
        self._heights: dict[int, int] = {}
        self._lines: list[Strip] | None = None
        self._lines_width = 0

    def _draw(self, width: int) -> list[Strip]:
        if self._lines is None or self._lines_width != width:
            self._lines = [line for part in self.parts for line in part.lines(self, width)]
            self._lines_width = width
            self._heights[width] = len(self._lines)
        drawn = FrozenTurn._drawn
        drawn[id(self)] = weakref.ref(self)
        drawn.move_to_end(id(self))
        while len(drawn) > self.CACHED_TURNS:
            _, reference = drawn.popitem(last=False)
            stale = reference()
            if stale is not None:
                stale._lines = None
        return self._lines

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        height = self._heights.get(width)
        if height is not None:
            return height
        if self._lines is None and self.is_mounted:
            # A layout of hundreds of frozen turns (a resumed session) would draw them all:
            # estimate now; they are drawn a few at a time after the next frames, newest first,
            # and a height that differs from its estimate is corrected.
            _measure_later(self, width)
            return self.estimated_height(width)
        return len(self._draw(width))

    def estimated_height(self, width: int) -> int:
        """About how many lines the turn takes at `width`, without drawing it."""
        return sum(part.estimated_height(width) for part in self.parts)

    def measure(self, width: int) -> None:
        """Draw the turn at `width` if its height there is not known yet (and correct it)."""
        if width not in self._heights and self.is_attached and self.screen.is_active:
            self._draw(width)
            if self._heights[width] != self.estimated_height(width):
                self.refresh(layout=True)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        lines = self._draw(width)
        if len(lines) != self.size.height:  # it was laid out at its estimated height
            self.call_later(self.refresh, layout=True)
        line = lines[y] if y < len(lines) else Strip.blank(width)
        return line.extend_cell_length(width, self.rich_style).crop(0, width)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._lines = None  # colours changed (focus, theme); heights did not

    async def thaw(self) -> list[Widget]:
        """Mount the turn's live widgets in place of this one; returns them."""
        widgets = [part.thaw() for part in self.parts]
        parent = self.parent
        if not isinstance(parent, Widget):
            return []
        await parent.mount_all(widgets, before=self)
        for part, widget in zip(self.parts, widgets, strict=True):
            part.after_thaw(widget)
        await self.remove()
        return widgets

    async def on_click(self) -> None:
        await self.thaw()


MEASURED_PER_FRAME = 8
"""How many estimated frozen turns are drawn between two frames."""

_unmeasured: weakref.WeakKeyDictionary[App[object], list[tuple[weakref.ref[FrozenTurn], int]]] = (
    weakref.WeakKeyDictionary()
)


MEASURE_PAUSE_S = 0.02
"""The pause between two batches of turns drawn to know their height (keys are handled between)."""


def _measure_later(turn: FrozenTurn, width: int) -> None:
    app = turn.app
    queue = _unmeasured.get(app)
    if queue is None:
        queue = _unmeasured[app] = []
        app.set_timer(MEASURE_PAUSE_S, partial(_measure_some, app))
    queue.append((weakref.ref(turn), width))


def _measure_some(app: App[object]) -> None:
    """Draw the newest few estimated turns, and come back after the next frame for more."""
    queue = _unmeasured.get(app, [])
    for _ in range(min(MEASURED_PER_FRAME, len(queue))):
        reference, width = queue.pop()
        turn = reference()
        if turn is not None:
            turn.measure(width)
    if queue:
        app.set_timer(MEASURE_PAUSE_S, partial(_measure_some, app))
    else:
        _unmeasured.pop(app, None)
