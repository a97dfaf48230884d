"""The completion list above the prompt: slash commands with their help, or workspace files.

It never takes the focus: the prompt keeps it and drives the list (Up/Down move, Tab/Enter
accept, Esc closes), so typing goes on while the list filters. A click on a choice accepts it too.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from rich.text import Text
from textual.message import Message
from textual.widget import Widget
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from agent.terminal_text import safe_terminal_text

CompletionKind = Literal["command", "file"]
MAX_CHOICES = 50
"""Choices shown at most (the best ranked); typing more narrows them."""
COMMAND_COLUMN = 28
"""Width of the usage column before a command's help."""


@dataclass(frozen=True)
class Choice:
    """One entry: what accepting it inserts, and how the list shows it."""

    value: str
    label: Text


def command_choices(commands: Iterable[tuple[str, str, str]]) -> list[Choice]:
    """`(name, usage, help)` of each command as choices that insert `/name`."""
    return [
        Choice(f"/{name}", Text.assemble((usage.ljust(COMMAND_COLUMN), "bold"), " ", (help_text, "italic")))
        for name, usage, help_text in commands
    ]


def file_choices(paths: Iterable[str]) -> list[Choice]:
    """Workspace paths as choices that insert `@path` (names come from the disk: made safe to show)."""
    return [Choice(f"@{path}", Text(safe_terminal_text(path))) for path in paths]


class CompletionList(OptionList, can_focus=False):
    """Choices for what is typed before the prompt's cursor; hidden until the prompt opens it."""

    class Chosen(Message):
        """A choice was clicked (posted to the prompt that opened the list)."""

        def __init__(self, choice: Choice) -> None:
            super().__init__()
            self.choice = choice

    def __init__(self) -> None:
        super().__init__(id="completion")
        self.kind: CompletionKind | None = None
        """What the open list offers (None while it is closed)."""
        self.query_text = ""
        """What it was filtered by (without the `/` or `@`)."""
        self.choices: list[Choice] = []
        self.owner: Widget | None = None
        """The widget that opened the list and receives `Chosen`."""

    @property
    def is_open(self) -> bool:
        return self.kind is not None

    def show(self, kind: CompletionKind, query: str, choices: Sequence[Choice], *, owner: Widget) -> None:
        """Open (or refilter) the list; the first choice is highlighted, never taken unasked."""
        values = [choice.value for choice in choices[:MAX_CHOICES]]
        same = self.kind == kind and bool(values) and values == [choice.value for choice in self.choices]
        self.kind, self.query_text, self.owner = kind, query, owner
        self.add_class("-open")
        if same:
            return  # keep the highlight where the user moved it
        self.choices = list(choices[:MAX_CHOICES])
        if self.choices:
            self.set_options(Option(choice.label) for choice in self.choices)
            self.highlighted = 0
        else:
            what = "command" if kind == "command" else "file"
            sigil = "/" if kind == "command" else "@"
            self.set_options([Option(Text(f"no {what} matches {sigil}{safe_terminal_text(query)}"), disabled=True)])

    def close(self) -> None:
        if self.kind is None:
            return
        self.kind, self.choices = None, []
        self.remove_class("-open")
        self.clear_options()

    def move(self, delta: int) -> None:
        """Move the highlight up (-1) or down (1)."""
        if delta < 0:
            self.action_cursor_up()
        else:
            self.action_cursor_down()

    @property
    def current(self) -> Choice | None:
        """The highlighted choice, if any."""
        index = self.highlighted
        if index is None or not 0 <= index < len(self.choices):
            return None
        return self.choices[index]

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        choice = self.current
        if choice is not None and self.owner is not None:
            self.owner.post_message(self.Chosen(choice))
