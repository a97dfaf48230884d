"""The prompt: multi-line input with history, history search and `@` file mentions."""

from __future__ import annotations

import re
import time

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

from tui.history import PromptHistory

ANSWER_KEYS = ("y", "a", "n")
"""Keys that answer a pending approval when typed into an empty prompt (see `check_consume_key`)."""
MENTION = re.compile(r"@([\w./-]*)$")


def fuzzy_rank(query: str, candidates: list[str]) -> list[str]:
    """Candidates containing the query's characters in order, best (shortest, earliest) first."""
    query = query.lower()
    scored = []
    for candidate in candidates:
        lowered = candidate.lower()
        position, gaps = -1, 0
        for char in query:
            found = lowered.find(char, position + 1)
            if found < 0:
                break
            gaps += found - position - 1
            position = found
        else:
            bonus = 0 if query and query in lowered else 1
            scored.append((bonus, gaps, len(candidate), candidate))
    return [candidate for *_, candidate in sorted(scored)]


class PromptInput(TextArea):
    """Enter sends; Shift+Enter or Ctrl+J inserts a newline; Up/Down walk the history at the
    first/last line; Ctrl+R searches it; Tab completes an `@file` mention.

    PageUp/PageDown scroll the transcript; Home/End do too while the prompt is empty (otherwise
    they move the cursor), Ctrl+Home/Ctrl+End always do."""

    TYPED_KEYS = (
        ("enter", "Send"),
        ("shift+enter", "Newline (or Ctrl+J)"),
        ("up", "Previous prompt (Down: next)"),
    )
    """Keys `_on_key` handles itself, for `/help`."""
    BINDINGS = [
        Binding("ctrl+r", "search_history", "History search", show=False),
        Binding("tab", "complete_mention", "Complete @file", show=False),
        Binding("pageup", "scroll_transcript('page_up')", "Scroll the transcript up a page", show=False),
        Binding("pagedown", "scroll_transcript('page_down')", "Scroll the transcript down a page", show=False),
        Binding("home", "home", "Transcript top (empty prompt; else line start)", show=False),
        Binding("end", "end", "Transcript bottom (empty prompt; else line end)", show=False),
        Binding("ctrl+home", "scroll_transcript('home')", "Transcript top", show=False),
        Binding("ctrl+end", "scroll_transcript('end')", "Transcript bottom", show=False),
    ]

    class Submitted(Message):
        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, history: PromptHistory | None = None, files: list[str] | None = None) -> None:
        super().__init__(id="prompt", soft_wrap=True, show_line_numbers=False, tab_behavior="focus")
        self.prompt_history = history or PromptHistory()
        self.files = files or []
        self._search: tuple[str, int | None] | None = None
        self.last_typed: float | None = None
        """When a key last reached the prompt (the app's clock): an approval then waits unfocused."""

    def check_consume_key(self, key: str, character: str | None = None) -> bool:
        """`y`/`a`/`n` are left to the app's bindings (they answer a pending approval) when the app
        says they reach the card: only while the prompt is empty and was not just typed in."""
        if character in ANSWER_KEYS and not self.text:
            reach = getattr(self.app, "answer_keys_reach_the_card", None)
            if callable(reach) and reach():
                return False
        return super().check_consume_key(key, character)

    def _clock(self) -> float:
        return float(getattr(self.app, "clock", time.monotonic)())

    async def _on_key(self, event: events.Key) -> None:
        self.last_typed = self._clock()
        if event.key == "enter":
            event.prevent_default()
            event.stop()
            text = self.text
            if text.strip():
                self.prompt_history.add(text)
                self.load_text("")
                self.post_message(self.Submitted(text))
            return
        if event.key in ("shift+enter", "ctrl+j"):
            event.prevent_default()
            event.stop()
            self.insert("\n")
            return
        if event.key == "up" and self.cursor_location[0] == 0:
            entry = self.prompt_history.previous()
            if entry is not None:
                event.prevent_default()
                event.stop()
                self._show(entry)
                return
        if event.key == "down" and self.cursor_location[0] == self.document.line_count - 1:
            entry = self.prompt_history.next()
            if entry is not None:
                event.prevent_default()
                event.stop()
                self._show(entry)
                return
        self._search = None
        await super()._on_key(event)

    def action_scroll_transcript(self, where: str) -> None:
        """Scroll the transcript without leaving the prompt: `page_up`, `page_down`, `home`, `end`."""
        transcript = self.app.query_one("#transcript")
        match where:
            case "page_up":
                transcript.scroll_page_up(animate=False)
            case "page_down":
                transcript.scroll_page_down(animate=False)
            case "home":
                transcript.scroll_home(animate=False)
            case _:
                transcript.scroll_end(animate=False)

    def action_home(self) -> None:
        """Home: the transcript's top while the prompt is empty, else the start of the line."""
        if self.text:
            self.action_cursor_line_start()
        else:
            self.action_scroll_transcript("home")

    def action_end(self) -> None:
        """End: the transcript's bottom while the prompt is empty, else the end of the line."""
        if self.text:
            self.action_cursor_line_end()
        else:
            self.action_scroll_transcript("end")

    def _show(self, text: str) -> None:
        self.load_text(text)
        self.move_cursor(self.document.end)

    def action_search_history(self) -> None:
        """Find the newest older entry containing what is typed (again: the next older one)."""
        needle, before = self._search if self._search else (self.text, None)
        found = self.prompt_history.search(needle, before)
        if found is None:
            self.notify(f"No earlier prompt contains {needle!r}", severity="warning")
            return
        index, entry = found
        self._search = (needle, index)
        self._show(entry)

    def action_complete_mention(self) -> None:
        """Replace `@partial` before the cursor with the best matching workspace file."""
        row, column = self.cursor_location
        line = self.document.get_line(row)[:column]
        match = MENTION.search(line)
        if match is None:
            self.screen.focus_next()
            return
        ranked = fuzzy_rank(match.group(1), self.files)
        if not ranked:
            self.notify(f"No file matches @{match.group(1)}", severity="warning")
            return
        self.replace(f"@{ranked[0]} ", (row, match.start()), (row, column))
