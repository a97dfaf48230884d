"""`PickerScreen`: choose one value from a list, from the keyboard (the `/model` and `/effort` pickers,
and the questions of `/undo`, `/redo` and a cancelled turn).

Typing filters the list (the filter keeps the focus), Up/Down move, Enter picks, Esc closes
without a choice. A short list of answers to a question has no filter: a note under the title
says what is asked about, and the list takes the keys. More choices can arrive after the screen shows (e.g. the models an endpoint
lists): `load` runs in a worker, and its failure is shown in the picker, never raised.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from agent.terminal_text import safe_terminal_text


@dataclass(frozen=True)
class PickerRow:
    """One choice: the value picking it returns, and a detail shown after it."""

    value: str
    detail: str = ""


Loader = Callable[[], Awaitable[tuple[list[PickerRow], str | None]]]
"""Fetches the full list: the rows, and a message to show (an error, or None)."""


class PickerScreen(ModalScreen[str | None]):
    """A filterable list of choices; dismissed with the chosen value, or None on Esc.

    Args:
        title: what is being chosen (e.g. "Model").
        rows: the choices shown at once.
        current: the value in use (marked, and highlighted first).
        load: fetches the full list after the screen shows; its rows replace `rows`.
        loading: the status line while `load` runs.
        free_text: Enter on a filter that matches nothing picks the typed text itself.
        note: lines under the title (what the choice is about, e.g. the files it touches).
        filterable: whether typing filters the list (False: no filter, for a few answers).
    """

    CSS_PATH = Path(__file__).with_name("picker.tcss")
    NAME_COLUMN = 24
    """Values are padded to the longest, up to this many characters, so the details line up (a
    question's few answers, without a filter, are padded to the longest whatever its length)."""
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("down", "move(1)", "Next", show=False),
        Binding("up", "move(-1)", "Previous", show=False),
    ]

    def __init__(
        self,
        title: str,
        rows: list[PickerRow],
        *,
        current: str | None = None,
        load: Loader | None = None,
        loading: str = "",
        free_text: bool = False,
        note: str = "",
        filterable: bool = True,
    ) -> None:
        super().__init__()
        self.title_text = title
        self.rows = list(rows)
        self.current = current
        self.load = load
        self.loading_text = loading
        self.free_text = free_text
        self.note = note
        self.filterable = filterable
        self.shown: list[PickerRow] = []
        """The rows the filter matches, in the list's order."""

    def compose(self) -> ComposeResult:
        with Vertical(id="picker"):
            yield Static(Text(safe_terminal_text(self.title_text)), id="picker-title")
            if self.note:
                yield Static(Text(safe_terminal_text(self.note)), id="picker-note")
            if self.filterable:
                yield Input(placeholder="type to filter · ↑↓ move · Enter choose · Esc close", id="picker-filter")
            yield OptionList(id="picker-choices")
            if not self.filterable:
                yield Static(Text("↑↓ move · Enter choose · Esc close"), id="picker-keys")
            yield Static(Text(self.loading_text if self.load is not None else ""), id="picker-status")

    def on_mount(self) -> None:
        self._show_rows()
        self.query_one("#picker-status").display = self.load is not None
        (self.query_one(Input) if self.filterable else self.query_one(OptionList)).focus()
        if self.load is not None:
            self._load()

    @work(exclusive=True, group="picker-load", exit_on_error=False)
    async def _load(self) -> None:
        assert self.load is not None
        rows, message = await self.load()
        self.rows = rows
        self._show_rows()
        status = self.query_one("#picker-status", Static)
        status.update(Text(safe_terminal_text(message or "")))
        status.set_class(message is not None, "-error")

    def _show_rows(self) -> None:
        """Fill the list with the rows the filter matches, the current value highlighted."""
        typed = self.query_one(Input).value.strip().lower() if self.filterable else ""
        self.shown = [row for row in self.rows if typed in row.value.lower() or typed in row.detail.lower()]
        choices = self.query_one(OptionList)
        highlighted = choices.highlighted_option.id if choices.highlighted_option is not None else self.current
        choices.clear_options()
        choices.add_options(Option(self._label(row), id=row.value) for row in self.shown)
        values = [row.value for row in self.shown]
        if values:
            choices.highlighted = values.index(highlighted) if highlighted in values and not typed else 0

    def _label(self, row: PickerRow) -> Text:
        mark = "● " if row.value == self.current else "  "
        width = max((len(shown.value) for shown in self.rows), default=0)
        if self.filterable:
            width = min(width, self.NAME_COLUMN)
        name = safe_terminal_text(row.value).ljust(width)
        return Text.assemble((mark, "bold"), (name, "bold"), "  ", (safe_terminal_text(row.detail), "italic"))

    @on(Input.Changed, "#picker-filter")
    def _filter(self) -> None:
        self._show_rows()

    def action_move(self, step: int) -> None:
        """Up/Down: the previous or next choice (the filter keeps the focus)."""
        choices = self.query_one(OptionList)
        if self.shown:
            choices.highlighted = ((choices.highlighted or 0) + step) % len(self.shown)

    @on(Input.Submitted, "#picker-filter")
    def _submitted(self) -> None:
        choices = self.query_one(OptionList)
        if self.shown and choices.highlighted is not None:
            self.dismiss(self.shown[choices.highlighted].value)
        elif self.free_text and self.query_one(Input).value.strip():
            self.dismiss(self.query_one(Input).value.strip())

    @on(OptionList.OptionSelected, "#picker-choices")
    def _clicked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_close(self) -> None:
        """Esc: close without choosing."""
        self.dismiss(None)
