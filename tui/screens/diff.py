"""`DiffScreen`: what a turn (or the whole session) changed — per-file stats over the patch.

The file list keeps the focus: Up/Down move through the files and the patch below scrolls to the
highlighted one; PageUp/PageDown scroll the patch; Esc closes. The diff is read by `load` in a
worker after the screen shows (git runs then), so the screen opens at once.

File names and the patch come from outside (the model wrote those files): everything drawn here
goes through `agent.terminal_text` first. A very long patch is cut (`MAX_LINES_PER_FILE`,
`MAX_LINES`), saying so.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rich.syntax import Syntax
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from agent.terminal_text import safe_terminal_text
from tui.widgets.changes import changed_summary

if TYPE_CHECKING:
    from agent.events import FileChangeSummary
    from agent.session import SessionDiff

MAX_LINES_PER_FILE = 3000
"""A file's patch is cut after this many lines."""

MAX_LINES = 20_000
"""The whole patch shown is cut after this many lines."""

STATUS_MARKS = {"added": "A", "modified": "M", "deleted": "D", "renamed": "R", "mode": "M", "type": "T"}
"""The one-letter mark of each kind of change, as `git status --short` writes them."""

DiffLoader = Callable[[], Awaitable["SessionDiff"]]


def split_patch(patch: str) -> list[str]:
    """The unified diff `patch` cut into one piece per file (each starts with `diff --git`)."""
    pieces: list[list[str]] = []
    for line in patch.splitlines():
        if line.startswith("diff --git ") or not pieces:
            pieces.append([])
        pieces[-1].append(line)
    return ["\n".join(piece) for piece in pieces if any(piece)]


def piece_of(change: FileChangeSummary, pieces: Sequence[str], index: int) -> int | None:
    """Which piece of the patch is `change`'s: the one whose header names its path (`b/path`),
    else the one at the same `index` (git quotes unusual names), else none."""
    for number, piece in enumerate(pieces):
        header = piece.split("\n", 1)[0]
        if header.endswith(f" b/{change.path}"):
            return number
    return index if index < len(pieces) else None


def display_name(change: FileChangeSummary) -> str:
    """The file's path (a rename: `old → new`), safe to draw."""
    name = safe_terminal_text(change.path)
    return f"{safe_terminal_text(change.old_path)} → {name}" if change.old_path else name


def file_label(change: FileChangeSummary, width: int) -> Content:
    """`M  pkg/core.py      +10 −2` (a rename: `old → new`; a binary file: `binary`)."""
    mark = STATUS_MARKS.get(change.status, "?")
    name = display_name(change)
    counts: list[str | tuple[str, str]] = (
        [("binary", "$text-muted")]
        if change.binary
        else [(f"+{change.added}", "$success"), " ", (f"−{change.removed}", "$error")]
    )
    extra = "  (mode)" if change.status == "mode" else ""
    return Content.assemble((f"{mark}  ", "bold"), name.ljust(width) + "  ", *counts, (extra, "$text-muted"))


class DiffScreen(ModalScreen[None]):
    """The files a diff touches (with their added and removed lines) and its highlighted patch.

    Args:
        title: what is shown while the diff is read ("Turn 3", "This session").
        load: reads the diff (`Session.diff`, or a recorded turn's through `agent.replay`).
    """

    CSS_PATH = Path(__file__).with_name("diff.tcss")
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("pagedown", "scroll_patch(1)", "Scroll down"),
        Binding("pageup", "scroll_patch(-1)", "Scroll up"),
    ]
    NAME_COLUMN = 48
    """File names are padded to the longest, up to this many characters, so the counts line up."""

    def __init__(self, title: str, load: DiffLoader) -> None:
        super().__init__()
        self.title_text = title
        self.load = load
        self.diff: SessionDiff | None = None
        self.pieces: list[Static] = []
        """The patch drawn, one piece per file, in the patch's order."""
        self._piece_of_row: list[int | None] = []
        """For each row of the file list, its piece of the patch (None: the patch has none)."""

    def compose(self) -> ComposeResult:
        with Vertical(id="diff"):
            yield Static(Text(safe_terminal_text(self.title_text)), id="diff-title")
            files = OptionList(id="diff-files")
            files.display = False  # shown once the diff is read
            yield files
            with VerticalScroll(id="diff-patch"):
                yield Static(Text("reading the changes…"), id="diff-status")
            yield Static(Text("↑↓ file · PageUp/PageDown scroll · Esc close"), id="diff-keys")

    def on_mount(self) -> None:
        self._load()

    @work(exclusive=True, group="diff-load", exit_on_error=False)
    async def _load(self) -> None:
        try:
            diff = await self.load()
        except Exception as exc:  # no checkpoint, git failed, a recorded commit is gone: said here
            if not self.is_attached:  # closed meanwhile
                return
            said = str(exc) if isinstance(exc, ValueError) else f"The diff could not be read: {exc}"
            status = self.query_one("#diff-status", Static)
            status.update(Text(safe_terminal_text(said)))
            status.add_class("-error")
            return
        if self.is_attached:
            await self.show_diff(diff)

    async def show_diff(self, diff: SessionDiff) -> None:
        """Fill the screen with `diff`: the title and counts, the file list, the patch."""
        self.diff = diff
        self.query_one("#diff-title", Static).update(
            Text(f"{safe_terminal_text(diff.title)} · {changed_summary(diff.files)}")
        )
        status = self.query_one("#diff-status", Static)
        if not diff.files:
            status.update(Text("Nothing changed: every file is as it was."))
            return
        await status.remove()
        texts = split_patch(diff.patch)
        self._piece_of_row = [piece_of(change, texts, index) for index, change in enumerate(diff.files)]
        width = min(max(len(display_name(change)) for change in diff.files), self.NAME_COLUMN)
        files = self.query_one("#diff-files", OptionList)
        files.add_options(Option(file_label(change, width), id=str(index)) for index, change in enumerate(diff.files))
        files.display = True
        files.highlighted = 0
        files.focus()
        self.pieces = [Static(self._highlighted(text), classes="diff-piece") for text in self._cut(texts)]
        await self.query_one("#diff-patch").mount_all(self.pieces)

    @staticmethod
    def _cut(texts: list[str]) -> list[str]:
        """The pieces, each cut after `MAX_LINES_PER_FILE` lines and all after `MAX_LINES`."""
        cut, total = [], 0
        for text in texts:
            lines = text.split("\n")
            room = max(0, min(MAX_LINES_PER_FILE, MAX_LINES - total))
            if len(lines) > room:
                lines = [*lines[:room], f"… {len(lines) - room:,} more lines of this file are not shown"]
            total += len(lines)
            cut.append("\n".join(lines))
        return cut

    @staticmethod
    def _highlighted(text: str) -> Syntax:
        return Syntax(safe_terminal_text(text), "diff", word_wrap=True, background_color="default")

    @on(OptionList.OptionHighlighted, "#diff-files")
    def _follow(self, event: OptionList.OptionHighlighted) -> None:
        """The patch scrolls to the highlighted file's part."""
        index = event.option_index
        piece = self._piece_of_row[index] if index < len(self._piece_of_row) else None
        if piece is not None and piece < len(self.pieces):
            self.query_one("#diff-patch").scroll_to_widget(self.pieces[piece], top=True, animate=False)

    def action_scroll_patch(self, pages: int) -> None:
        """PageUp/PageDown: scroll the patch a page (the file list keeps the focus)."""
        patch = self.query_one("#diff-patch", VerticalScroll)
        patch.scroll_page_down(animate=False) if pages > 0 else patch.scroll_page_up(animate=False)

    def action_close(self) -> None:
        """Esc: close the diff."""
        self.dismiss(None)
