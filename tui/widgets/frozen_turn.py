"""Finished turns kept as data and drawn by one widget: what the transcript holds for turns long over.

Every widget in the transcript is visited by each layout pass, and a streaming answer triggers
one per frame; a long session's hundreds of messages, cards and notices (or even one widget per
turn) would make every frame slower than the last. Once a turn has ended and a few newer ones
exist, the router replaces its widgets with a `FrozenTurn` (their data, as `FrozenPart`s) added
to a `FrozenHistory`: one Line-API widget for all consecutive frozen turns, which draws a turn's
lines only when they are on screen and forgets them when many other turns were drawn since
(each turn's height per width is kept, so a layout never draws an old turn again and costs the
same whatever the number of turns).

The history is one block for the block keys with a cursor inside: it moves turn by turn, the
copy key copies the cursor turn's answer (`text`), and `thaw()` (Enter, or a click on a turn)
mounts that turn's live widgets back in its place.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from rich.console import RenderableType
from rich.segment import Segment
from rich.style import Style as RichStyle
from rich.text import Text
from textual.content import Content
from textual.events import Click
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from agent.events import TurnChanges
from agent.terminal_text import safe_terminal_text
from tui.widgets.approval import ApprovalCard
from tui.widgets.changes import TurnChangesLine
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
    """`user`, `answer`, `reasoning`, `notice`, `changes` (a turn's changed files), `card` or `approval`."""
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
        elif self.kind in ("notice", "changes"):
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
        if self.kind in ("user", "answer", "notice", "changes"):
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
            case "changes":
                return TurnChangesLine(self.state["event"], commands=self.state.get("commands") is not False)  # type: ignore[arg-type]
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
    if isinstance(widget, TurnChangesLine):
        return FrozenPart("changes", widget.message, state={"event": widget.event, "commands": widget.commands})
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


class FrozenTurn:
    """One finished turn as data: its parts, its answer text, its drawn lines and their height per
    width (the lines are dropped again when many other turns were drawn since)."""

    def __init__(self, parts: list[FrozenPart]) -> None:
        self.parts = parts
        self.text = "\n\n".join(part.text for part in parts if part.kind == "answer")
        """The turn's answer text (what a copy key copies)."""
        self.heights: dict[int, int] = {}
        """The turn's height by width, once it was drawn at that width."""
        self._lines: list[Strip] | None = None
        self._lines_width = 0

    def lines(self, host: Widget, width: int) -> list[Strip]:
        """The turn drawn `width` cells wide (kept until `forget` or another width)."""
        if self._lines is None or self._lines_width != width:
            self._lines = [line for part in self.parts for line in part.lines(host, width)]
            self._lines_width = width
            self.heights[width] = len(self._lines)
        return self._lines

    def forget(self) -> None:
        """Drop the drawn lines (the heights are kept)."""
        self._lines = None

    def height(self, width: int) -> int:
        """The turn's height at `width`: exact once drawn there, estimated before."""
        known = self.heights.get(width)
        return known if known is not None else self.estimated_height(width)

    def estimated_height(self, width: int) -> int:
        """About how many lines the turn takes at `width`, without drawing it."""
        return sum(part.estimated_height(width) for part in self.parts)


class FrozenHistory(Widget, can_focus=True):
    """Consecutive frozen turns drawn as one Line-API widget: however many it holds, a layout of
    the transcript sees a single widget, and a frame draws only the lines on screen.

    It is one block for the block keys (`tui.blocks`) with a cursor inside: while it has the
    focus, one turn is highlighted, `step_cursor` moves turn by turn, `text` is that turn's
    answer, and `thaw()` (Enter, or a click on a turn) mounts that turn's live widgets in its
    place, splitting the history around them.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"frozen-history--cursor"}

    DEFAULT_CSS = """
    FrozenHistory {
        height: auto;
    }
    FrozenHistory > .frozen-history--cursor {
        background: $boost;
    }
    """

    CACHED_TURNS = 32
    """How many turns keep their drawn lines (the others draw again when shown)."""

    MEASURED_PER_TICK = 8
    """How many turns laid out at an estimated height are drawn per timer tick."""

    MEASURE_PAUSE_S = 0.02
    """The pause between two such batches (keys are handled between)."""

    def __init__(self, turns: Iterable[FrozenTurn] = ()) -> None:
        super().__init__()
        self.turns: list[FrozenTurn] = list(turns)
        self.cursor = len(self.turns) - 1
        """The index of the turn the block keys act on (highlighted while focused)."""
        self._drawn: OrderedDict[int, FrozenTurn] = OrderedDict()
        self._starts: list[int] = []
        self._starts_width = -1
        self._measuring = False
        self._theme = ""

    # ---- turns -------------------------------------------------------------------------------

    def append(self, turn: FrozenTurn) -> None:
        """Add `turn` after the others (a cursor on the newest turn moves to it)."""
        if self.cursor == len(self.turns) - 1:
            self.cursor += 1
        self.turns.append(turn)
        self._changed()

    @property
    def text(self) -> str:
        """The cursor turn's answer (what the copy key copies)."""
        return self.turns[self.cursor].text if self.turns else ""

    @property
    def diff_turn(self) -> int | None:
        """The cursor turn's number when it changed files (`d` opens its diff), else None."""
        parts = self.turns[self.cursor].parts if self.turns else []
        for part in parts:
            event = part.state.get("event") if part.kind == "changes" else None
            if isinstance(event, TurnChanges) and event.files:
                return event.turn
        return None

    def turn_at(self, y: int) -> int:
        """The index of the turn drawn at line `y`."""
        starts = self._offsets(self.size.width)
        return max(0, min(bisect_right(starts, y) - 1, len(self.turns) - 1))

    def cursor_region(self) -> Region:
        """Where the cursor turn is, in this widget's coordinates."""
        width = self.size.width
        starts = self._offsets(width)
        if not self.turns:
            return Region(0, 0, width, 0)
        top = starts[self.cursor]
        return Region(0, top, width, self.turns[self.cursor].height(width))

    def enter_cursor(self, *, from_below: bool) -> None:
        """Put the cursor on the newest turn (coming up from below) or the oldest."""
        self.cursor = len(self.turns) - 1 if from_below else 0
        self.refresh()

    def step_cursor(self, step: int) -> bool:
        """Move the cursor `step` turns; False (and no move) past either end."""
        target = self.cursor + step
        if not 0 <= target < len(self.turns):
            return False
        self.cursor = target
        self.refresh()
        return True

    async def thaw(self, index: int | None = None) -> list[Widget]:
        """Mount the live widgets of the turn at `index` (the cursor's by default) in its place;
        the turns after it go on in a new history below them. Returns the live widgets."""
        parent = self.parent
        if not isinstance(parent, Widget) or not self.turns:
            return []
        index = self.cursor if index is None else index
        turn = self.turns[index]
        widgets = [part.thaw() for part in turn.parts]
        later = self.turns[index + 1 :]
        if later:
            await parent.mount(FrozenHistory(later), after=self)
        await parent.mount_all(widgets, after=self)
        for part, widget in zip(turn.parts, widgets, strict=True):
            part.after_thaw(widget)
        del self.turns[index:]
        if self.turns:
            self.cursor = len(self.turns) - 1
            self._changed()
        else:
            await self.remove()
        return widgets

    async def on_click(self, event: Click) -> None:
        offset = event.get_content_offset(self)
        if offset is not None:
            await self.thaw(self.turn_at(offset.y))

    # ---- layout and lines --------------------------------------------------------------------

    def _changed(self) -> None:
        self._starts_width = -1
        self.refresh(layout=True)

    def _offsets(self, width: int) -> list[int]:
        """The first line of each turn at `width`, then the total height."""
        if self._starts_width != width:
            starts, top = [], 0
            for turn in self.turns:
                starts.append(top)
                top += turn.height(width)
            starts.append(top)
            self._starts, self._starts_width = starts, width
            if any(width not in turn.heights for turn in self.turns) and not self._measuring and self.is_mounted:
                self._measuring = True
                self.set_timer(self.MEASURE_PAUSE_S, self._measure_some)
        return self._starts

    def _measure_some(self) -> None:
        """Draw a few turns laid out at an estimated height, newest first, and correct the layout
        (a resumed session's hundreds of turns are not all drawn by one layout)."""
        self._measuring = False
        width = self.size.width
        if not self.is_attached or not width:
            return
        unmeasured = [turn for turn in reversed(self.turns) if width not in turn.heights]
        changed = False
        for turn in unmeasured[: self.MEASURED_PER_TICK]:
            estimate = turn.estimated_height(width)
            turn.lines(self, width)
            if id(turn) not in self._drawn:  # measured, not shown: its lines are not kept
                turn.forget()
            changed |= turn.heights[width] != estimate
        if changed:
            self._changed()
        if len(unmeasured) > self.MEASURED_PER_TICK:
            self._measuring = True
            self.set_timer(self.MEASURE_PAUSE_S, self._measure_some)

    def _lines_of(self, turn: FrozenTurn, width: int) -> list[Strip]:
        known = width in turn.heights
        lines = turn.lines(self, width)
        drawn = self._drawn
        drawn[id(turn)] = turn
        drawn.move_to_end(id(turn))
        while len(drawn) > self.CACHED_TURNS:
            drawn.popitem(last=False)[1].forget()
        if not known and self._starts_width == width:
            self._starts_width = -1  # its estimated height is replaced by the real one
            self.call_later(self.refresh, layout=True)
        return lines

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return self._offsets(width)[-1]

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        starts = self._offsets(width)
        index = self.turn_at(y)
        lines = self._lines_of(self.turns[index], width) if self.turns else []
        row = y - starts[index] if self.turns else 0
        line = lines[row] if 0 <= row < len(lines) else Strip.blank(width)
        line = line.extend_cell_length(width, self.rich_style).crop(0, width)
        if self.has_focus and index == self.cursor:
            background = self.get_component_rich_style("frozen-history--cursor", partial=False).bgcolor
            line = Strip(Segment.apply_style(line, post_style=RichStyle(bgcolor=background)), width)
        return line

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def notify_style_update(self) -> None:
        super().notify_style_update()
        theme = self.app.theme if self.is_attached else ""
        if theme != self._theme:  # the theme's colours are baked into drawn lines; heights stay
            self._theme = theme
            for turn in self.turns:
                turn.forget()
            self._drawn.clear()
