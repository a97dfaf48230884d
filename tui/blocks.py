"""Keyboard navigation of the transcript's blocks (answers, tool cards, prompts, notices).

A block is any focusable direct child of the transcript. What the keys do with it is duck-typed,
so that any block kind takes part without knowing about navigation:

- `text` (a string): what the copy key copies;
- `toggle()` (optional, may be async): what Enter does, e.g. a tool card expands its output
  (with an `expanded` attribute that is True, the footer says Enter collapses it);
- `thaw()` (optional, may be async): for a block standing for several others (a finished turn
  drawn as one widget), Enter puts the live widgets back; the first of them then takes the focus
  (the first of the widgets `thaw()` returns, or else the first block in the thawed one's place);
- a cursor (optional: `step_cursor(step) -> bool`, `enter_cursor(from_below=…)`,
  `cursor_region()`): a block holding several items (the frozen history, one item per turn) is
  stepped through item by item before the keys move to the next block; `text` and `thaw()` then
  act on the item under the cursor.
"""

from __future__ import annotations

import inspect
from typing import Literal

from textual.geometry import Region
from textual.widget import Widget

from tui.widgets.transcript import Transcript

BLOCK_ACTIONS = ("step_block", "toggle_block", "copy_block", "leave_block")
"""The app's actions for keys that work only while a block has the focus."""


def blocks(transcript: Widget) -> list[Widget]:
    """The transcript's blocks, top to bottom."""
    return [child for child in transcript.children if child.focusable]


def focused_block(focused: Widget | None) -> Widget | None:
    """The focused widget if it is one of the transcript's blocks (asked on every Up/Down: cheap)."""
    if focused is not None and isinstance(focused.parent, Transcript) and focused.focusable:
        return focused
    return None


def neighbour(transcript: Widget, current: Widget | None, step: int) -> Widget | None:
    """The block `step` places from `current` (from none: the newest), clamped at the top; None
    past the newest (the prompt comes next)."""
    found = blocks(transcript)
    if not found:
        return None
    if current is None or current not in found:
        return _entered(found[-1], step) if step < 0 else None
    step_cursor = getattr(current, "step_cursor", None)
    if callable(step_cursor) and step_cursor(step):
        return current
    index = found.index(current) + step
    if index < 0:
        return current if callable(step_cursor) else found[0]
    return _entered(found[index], step) if index < len(found) else None


def _entered(block: Widget, step: int) -> Widget:
    """`block`, its cursor (if it has one) on the item next to where the keys come from."""
    enter_cursor = getattr(block, "enter_cursor", None)
    if callable(enter_cursor):
        enter_cursor(from_below=step < 0)
    return block


def step_focus(transcript: Widget, focused: Widget | None, step: int) -> Literal["block", "prompt", "none"]:
    """Focus the block `step` places from the focused one (from elsewhere: the newest); "prompt"
    when that goes past the newest block, "none" when there is nothing to go to."""
    current = focused_block(focused)
    target = neighbour(transcript, current, step)
    if target is not None:
        show_block(transcript, target)
        return "block"
    return "prompt" if current is not None else "none"


def block_action_enabled(action: str, focused: Widget | None, parameters: tuple[object, ...] = ()) -> bool:
    """Whether a block key's action applies: a block has the focus, and for Enter it can be
    toggled (`toggle_block('collapse')` on an expanded block, `toggle_block` on any other), for
    the copy key it has text."""
    block = focused_block(focused)
    if block is None:
        return False
    if action == "toggle_block":
        return can_toggle(block) and is_expanded(block) == (parameters == ("collapse",))
    if action == "copy_block":
        return bool(block_text(block))
    return True


def show_block(transcript: Widget, block: Widget) -> None:
    """Focus `block` and scroll it into view (its top first when it is taller than the view)."""
    block.focus(scroll_visible=False)
    cursor_region = getattr(block, "cursor_region", None)
    if callable(cursor_region):
        region: Region = cursor_region()
        taller = region.height >= transcript.scrollable_content_region.height
        region = region.translate(block.virtual_region.offset)
        transcript.scroll_to_region(region, animate=False, top=taller, immediate=True)
        return
    taller = block.outer_size.height >= transcript.scrollable_content_region.height
    transcript.scroll_to_widget(block, animate=False, top=taller, immediate=True)


def block_text(block: Widget | None) -> str:
    """What the copy key copies from `block` (empty when it has no text)."""
    text = getattr(block, "text", None)
    return text if isinstance(text, str) else ""


def is_expanded(block: Widget) -> bool:
    """Whether `block` shows its whole content (an `expanded` tool card): Enter collapses it."""
    return getattr(block, "expanded", False) is True


def can_toggle(block: Widget) -> bool:
    """Whether Enter does something on `block`."""
    return callable(getattr(block, "toggle", None)) or callable(getattr(block, "thaw", None))


async def toggle_block(transcript: Widget, block: Widget) -> bool:
    """Enter on `block`: `toggle()` it, or `thaw()` it and focus the first block put back.
    False when it has neither."""
    toggle = getattr(block, "toggle", None)
    if callable(toggle):
        result = toggle()
        if inspect.isawaitable(result):
            await result
        return True
    thaw = getattr(block, "thaw", None)
    if not callable(thaw):
        return False
    position = list(transcript.children).index(block)
    result = thaw()
    if inspect.isawaitable(result):
        result = await result
    thawed = [widget for widget in result if widget.focusable] if isinstance(result, list) else []
    if thawed:
        show_block(transcript, thawed[0])
    elif block.parent is not transcript:  # replaced by what it stood for
        following = [child for child in list(transcript.children)[position:] if child.focusable]
        if following:
            show_block(transcript, following[0])
    return True
