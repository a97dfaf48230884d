"""`CommitScreen`: commit the session's changes with a message the user approves (`/commit`).

The screen opens at once and drafts the message in a worker (the model is asked on a side
request; offline, the message is drafted from the turns' plan and tool log), showing progress
meanwhile. The draft lands in an editable text area above the files it commits and the files
left out because they had changed before the session started. Ctrl+S commits, Esc cancels; a
failed commit is said in the screen, which stays open.

File names and the drafted message come from outside: they go through `agent.terminal_text`
before they are drawn.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import LoadingIndicator, Static, TextArea

from agent.terminal_text import safe_terminal_text
from tui.widgets.changes import count_files

if TYPE_CHECKING:
    from agent.events import Committed
    from agent.session import CommitDraft

Drafter = Callable[[], Awaitable["CommitDraft"]]
Committer = Callable[[str, list[str]], Awaitable["Committed"]]

LISTED_FILES = 12
"""At most this many files are named in each list, then how many more."""

DRAFTED_BY = {
    "model": "drafted by the model from this session's turns — edit it as you like",
    "offline": "drafted from this session's plan and tool log (the model could not be asked) — edit it as you like",
    "user": "your message, with the trailer that names codeassist — edit it as you like",
}


def file_list(paths: list[str]) -> str:
    """One path a line, at most `LISTED_FILES`, then `… and N more`."""
    lines = [f"  {safe_terminal_text(path)}" for path in paths[:LISTED_FILES]]
    if len(paths) > LISTED_FILES:
        lines.append(f"  … and {len(paths) - LISTED_FILES} more")
    return "\n".join(lines)


class CommitScreen(ModalScreen["Committed | None"]):
    """The drafted commit message (editable), the files, Ctrl+S to commit, Esc to cancel.

    Args:
        draft: drafts the message and lists the files (`Session.draft_commit`).
        commit: makes the commit (`Session.commit`).
        branch: the branch it goes on (None: a detached HEAD).
        message: the user's own message (`/commit MESSAGE`), shown while the files are listed;
            the draft then holds it (with the trailer), and no model is asked.
    """

    CSS_PATH = Path(__file__).with_name("commit.tcss")
    BINDINGS = [
        Binding("ctrl+s", "commit", "Commit"),
        Binding("escape", "close", "Cancel"),
    ]

    def __init__(self, draft: Drafter, commit: Committer, *, branch: str | None, message: str = "") -> None:
        super().__init__()
        self.drafter = draft
        self.committer = commit
        self.branch = branch
        self.message = message
        self.draft: CommitDraft | None = None
        self.busy = True
        """Drafting or committing: Ctrl+S waits."""
        self.committing = False
        """The commit is being made: Esc waits for it (the app must hear of the commit)."""

    def compose(self) -> ComposeResult:
        where = f"on {safe_terminal_text(self.branch)}" if self.branch else "on the detached HEAD"
        with Vertical(id="commit"):
            yield Static(Text(f"Commit this session's changes {where}"), id="commit-title")
            yield Static(Text("Message"), id="commit-message-label", classes="commit-label")
            area = TextArea(self.message, id="commit-message", soft_wrap=True, show_line_numbers=False)
            area.disabled = True  # until the draft is shown
            yield area
            with Horizontal(id="commit-progress"):
                yield LoadingIndicator(id="commit-spinner")
                yield Static(Text(self._drafting()), id="commit-status")
            for name in ("commit-files", "commit-left-out"):
                listed = Static("", id=name)
                listed.display = False  # until the draft lists them
                yield listed
            yield Static(Text("Ctrl+S commit · Esc cancel"), id="commit-keys")

    def _drafting(self) -> str:
        if self.message:
            return "listing the files this session changed…"
        return "drafting a message from this session's turns…"

    def on_mount(self) -> None:
        self._draft()

    @work(exclusive=True, group="commit", exit_on_error=False)
    async def _draft(self) -> None:
        try:
            draft = await self.drafter()
        except Exception as exc:  # nothing to commit, git failed: said in the screen
            if not self.is_attached:  # closed meanwhile
                return
            self._say(str(exc) if isinstance(exc, ValueError) else f"No commit can be drafted: {exc}", error=True)
            return
        if self.is_attached:
            self.show_draft(draft)

    def show_draft(self, draft: CommitDraft) -> None:
        """Show `draft`: its message, its files and the left-out files."""
        self.draft = draft
        area = self.query_one(TextArea)
        area.load_text(safe_terminal_text(draft.message))
        files = self.query_one("#commit-files", Static)
        files.update(Text(f"Files ({len(draft.files)})\n{file_list(draft.files)}"))
        files.display = bool(draft.files)
        left_out = self.query_one("#commit-left-out", Static)
        left_out.update(
            Text(
                f"Left out: {count_files(len(draft.left_out))} already changed before this session started "
                f"(/commit --include-dirty includes {'it' if len(draft.left_out) == 1 else 'them'})\n"
                f"{file_list(draft.left_out)}"
            )
        )
        left_out.display = bool(draft.left_out)
        if not draft.files:
            self._say("Nothing to commit: this session has not changed any file.", error=True)
            return
        self._say(DRAFTED_BY.get(draft.drafted_by, "edit the message as you like"))
        self.busy = False
        area.disabled = False
        area.move_cursor((0, len(area.document.get_line(0))))  # the subject; the trailer stays last
        area.focus()

    def _say(self, text: str, *, error: bool = False) -> None:
        """The status line under the message (the spinner stops)."""
        self.query_one("#commit-spinner").display = False
        status = self.query_one("#commit-status", Static)
        status.update(Text(safe_terminal_text(text)))
        status.set_class(error, "-error")

    def action_commit(self) -> None:
        """Ctrl+S: commit the files with the message as it is now."""
        if self.busy or self.draft is None:
            return
        message = self.query_one(TextArea).text.strip()
        if not message:
            self._say("The message is empty: write one, then Ctrl+S.", error=True)
            return
        self.busy = self.committing = True
        self.query_one(TextArea).disabled = True
        self.query_one("#commit-spinner").display = True
        status = self.query_one("#commit-status", Static)
        status.update(Text("committing…"))
        status.remove_class("-error")
        self._commit(message, list(self.draft.files))

    @work(exclusive=True, group="commit", exit_on_error=False)
    async def _commit(self, message: str, files: list[str]) -> None:
        try:
            committed = await self.committer(message, files)
        except Exception as exc:  # git refused: said, and the screen stays for another try
            self._say(f"The commit failed: {exc}", error=True)
            self.busy = self.committing = False
            area = self.query_one(TextArea)
            area.disabled = False
            area.focus()
            return
        self.dismiss(committed)

    def action_close(self) -> None:
        """Esc: close without committing (not while the commit is being made)."""
        if not self.committing:
            self.dismiss(None)
