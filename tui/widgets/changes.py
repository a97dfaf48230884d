"""The transcript's lines for the git safety net: a turn's checkpoint, what it changed, an undo, a
redo, a commit.

Each is a `NoticeLine` (one quiet line, a block for the keyboard). The turn-changes line also
opens that turn's diff: Enter on it, or `d` (`CodeassistApp.action_show_diff`), or `/diff N`.
File names and messages come from outside (the model chose them): `NoticeLine` passes them
through `agent.terminal_text`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from tui.widgets.transcript import NoticeLine

if TYPE_CHECKING:
    from agent.events import ChangesRedone, ChangesUndone, CheckpointCreated, Committed, TurnChanges

NAMED_FILES = 4
"""A line names at most this many files, then says how many more."""


class ChangeCounts(Protocol):
    """What a file's change says about its size (a `FileChangeSummary`)."""

    @property
    def added(self) -> int: ...
    @property
    def removed(self) -> int: ...
    @property
    def binary(self) -> bool: ...


def count_files(count: int) -> str:
    """`1 file`, `3 files`."""
    return f"{count} file{'' if count == 1 else 's'}"


def changed_summary(files: Sequence[ChangeCounts]) -> str:
    """`2 files changed +12 −3` (`, 1 binary` when some are); `no file changed in the end` for none."""
    if not files:
        return "no file changed in the end"
    added = sum(change.added for change in files)
    removed = sum(change.removed for change in files)
    binary = sum(change.binary for change in files)
    return f"{count_files(len(files))} changed +{added} −{removed}" + (f", {binary} binary" if binary else "")


def named(paths: Sequence[str], limit: int = NAMED_FILES) -> str:
    """`a.py, b.py` — the first `limit` paths, then `and N more`."""
    shown = ", ".join(paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")


def subject(message: str) -> str:
    """A commit message's first line."""
    return message.strip().splitlines()[0] if message.strip() else ""


class CheckpointLine(NoticeLine):
    """A quiet marker: the workspace was saved before the turn's first change."""

    def __init__(self, event: CheckpointCreated) -> None:
        text = "◇ checkpoint saved before this turn's first change"
        if event.skipped:
            text += f" · left out: {named(event.skipped)}"
        super().__init__(text)
        self.add_class("-checkpoint")
        self.turn = event.turn


class TurnChangesLine(NoticeLine):
    """What a turn changed, with the command that shows its diff; Enter (or `d`) shows it.

    `commands` False (a replay, whose prompt takes no command): the line names the key instead."""

    def __init__(self, event: TurnChanges, *, commands: bool = True) -> None:
        text = f"± {changed_summary(event.files)}"
        if event.files:
            text += f" · /diff {event.turn}" if commands else " · d: diff"
        super().__init__(text)
        self.add_class("-changes")
        self.event = event
        self.commands = commands
        self.diff_turn = event.turn if event.files else None
        """The turn whose diff Enter and `d` open (None: the turn left every file as it was)."""

    def toggle(self) -> None:
        """Enter: open this turn's diff."""
        if self.diff_turn is not None:
            from tui.slash_git import open_turn_diff

            open_turn_diff(self.app, self.diff_turn)  # type: ignore[arg-type]


def undone_text(event: ChangesUndone | ChangesRedone, *, redo: bool, commands: bool = True) -> str:
    """`↶ turn 3 undone: 2 files back as before it (a.py, b.py) · /redo re-applies it`, and what was overwritten
    (`commands` False, in a replay: without the command that takes it back)."""
    if redo:
        text = f"↷ turn {event.turn} redone: {count_files(len(event.files))} changed again"
    else:
        text = f"↶ turn {event.turn} undone: {count_files(len(event.files))} back as before it"
    if event.files:
        text += f" ({named(event.files)})"
    if event.overwritten:
        text += f"; your edits to {named(event.overwritten)} were overwritten"
    if commands:
        text += " · /undo takes it back" if redo else " · /redo re-applies it"
    return text


class UndoneLine(NoticeLine):
    """An undo or a redo, and each file it could not restore (as an error line)."""

    def __init__(self, event: ChangesUndone | ChangesRedone, *, redo: bool, commands: bool = True) -> None:
        lines = [undone_text(event, redo=redo, commands=commands), *(f"✗ {problem}" for problem in event.problems)]
        super().__init__("\n".join(lines), error=bool(event.problems))
        self.add_class("-undone")


class CommittedLine(NoticeLine):
    """A commit of the session's changes (by `/commit` or `auto_commit`)."""

    def __init__(self, event: Committed) -> None:
        where = f"on {event.branch}" if event.branch else "on the detached HEAD"
        how = "auto-committed" if event.auto else "committed"
        super().__init__(
            f"✓ {how} {event.commit[:7]} {where}: {subject(event.message)} ({count_files(len(event.files))})"
        )
        self.add_class("-committed")
