"""The prompt: multi-line input with history, history search, and completion lists for `/commands`
and `@file` mentions (the prompt keeps the focus and drives the list, see `tui.widgets.completion`)."""

from __future__ import annotations

import heapq
import re
import time
from collections.abc import Callable

from textual import events, work
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

from tui.history import PromptHistory
from tui.slash import matching_commands
from tui.widgets.completion import (
    MAX_CHOICES,
    Choice,
    CompletionKind,
    CompletionList,
    command_choices,
    file_choices,
)

ANSWER_KEYS = ("y", "a", "n")
"""Keys that answer a pending approval when typed into an empty prompt (see `check_consume_key`)."""
EDITING_KEYS = frozenset({"enter", "shift+enter", "ctrl+j", "backspace", "delete"})
"""Keys that are typing though they print nothing (with printable keys and any edit of the text);
scrolling, moving and the app's keys are not (see `PromptInput.last_typed`)."""
MENTION = re.compile(r"(?<!\S)@([\w./-]*)$")
"""An `@file` mention being typed, before the cursor (not an e-mail address: it follows a space)."""
SLASH = re.compile(r"/([\w-]*)")
"""A command name being typed: the whole first line before the cursor."""


def fuzzy_rank(query: str, candidates: list[str], limit: int | None = None) -> list[str]:
    """Candidates containing the query's characters in order, best (shortest, earliest) first;
    only the `limit` best when given (cheaper than sorting them all)."""
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
    ranked = sorted(scored) if limit is None else heapq.nsmallest(limit, scored)
    return [candidate for *_, candidate in ranked]


class PromptInput(TextArea):
    """Enter sends; Shift+Enter or Ctrl+J inserts a newline; Up/Down walk the history at the
    first/last line; Ctrl+R searches it. Typing `/` at the start lists the commands, `@` the
    workspace files; while a list is open Up/Down move in it, Tab/Enter accept, Esc closes it. Tab
    also opens the list (or completes the only match); it moves the focus only from an empty prompt.

    PageUp/PageDown scroll the transcript; Home/End do too while the prompt is empty (otherwise
    they move the cursor), Ctrl+Home/Ctrl+End always do."""

    TYPED_KEYS = (
        ("enter", "Send"),
        ("shift+enter", "Newline (or Ctrl+J)"),
        ("up", "Previous prompt (Down: next)"),
    )
    """Keys `_on_key` handles itself, for `/help`."""
    COMPLETION_KEYS = (
        ("/", "at the start: the commands"),
        ("@", "the workspace files"),
        ("up", "Move in the list (Down too)"),
        ("tab", "Accept (Enter too)"),
        ("escape", "Close the list"),
    )
    """Keys of the completion lists (handled in `_on_key`), for `/help`."""
    BINDINGS = [
        Binding("ctrl+r", "search_history", "History search", show=False),
        Binding("tab", "complete", "Complete /command or @file (empty prompt: next widget)", show=False),
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
        self.list_files: Callable[[], list[str]] | None = None
        """Lists the workspace files again (off the UI thread) each time the `@` list opens."""
        self._loaded = False
        self._search: tuple[str, int | None] | None = None
        self.last_typed: float | None = None
        """When the prompt was last typed in (the app's clock): a printable or editing key, or an
        edit of its text; an approval appearing soon after waits unfocused. Scrolling the
        transcript, moving in the history and the app's keys (Ctrl+B…) are not typing."""

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
        if event.is_printable or event.key in EDITING_KEYS:
            self.last_typed = self._clock()
        if self._completion_key(event.key):
            event.prevent_default()
            event.stop()
            return
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

    # ---- completion lists ------------------------------------------------------------------

    def load_text(self, text: str) -> None:
        """Replace the text (history, a sent prompt): this never opens a completion list."""
        self._loaded = True
        super().load_text(text)

    def _completion_list(self) -> CompletionList | None:
        found = self.screen.query(CompletionList)
        return found.first() if found else None

    def _completion_key(self, key: str) -> bool:
        """Up/Down/Tab/Enter/Esc while the list is open; True when the key was used."""
        completion = self._completion_list()
        if completion is None or not completion.is_open:
            return False
        if key in ("tab", "enter"):  # keys typed fast arrive before the list follows the text
            self._refresh_completion(open_list=False)
        match key:
            case "up" | "down":
                completion.move(-1 if key == "up" else 1)
                return True
            case "tab":
                choice = completion.current
                if choice is not None:
                    self._accept(choice)
                return True
            case "enter":
                choice = completion.current
                if choice is not None and not self._typed_in_full(choice):
                    self._accept(choice)
                    return True
                completion.close()  # nothing (else) to accept: Enter sends what is typed
                return False
            case "escape":
                completion.close()
                return True
        return False

    def _completion_context(self) -> tuple[CompletionKind, str, int] | None:
        """What is being completed before the cursor: the kind, the query and where it starts."""
        row, column = self.cursor_location
        line = self.document.get_line(row)[:column]
        if row == 0 and (command := SLASH.fullmatch(line)):
            return "command", command.group(1), 0
        if mention := MENTION.search(line):
            return "file", mention.group(1), mention.start()
        return None

    def _choices(self, kind: CompletionKind, query: str) -> list[Choice]:
        if kind == "command":
            return command_choices((entry.name, entry.usage, entry.help) for entry in matching_commands(query))
        return file_choices(fuzzy_rank(query, self.files, MAX_CHOICES))

    def _typed_in_full(self, choice: Choice) -> bool:
        context = self._completion_context()
        if context is None:
            return False
        return choice.value[1:] == context[1]

    def _refresh_completion(self, *, open_list: bool, files_changed: bool = False) -> None:
        """Refilter the list for what is before the cursor (open it if `open_list`), or close it."""
        completion = self._completion_list()
        if completion is None:
            return
        context = self._completion_context()
        if context is None or not (open_list or completion.is_open):
            completion.close()
            return
        kind, query, _ = context
        if (kind, query) == (completion.kind, completion.query_text) and not files_changed:
            return  # a cursor move or an edit elsewhere: the list is still right
        if kind == "file" and completion.kind != "file":
            self._list_files_again()
        completion.show(kind, query, self._choices(kind, query), owner=self)

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        if self._loaded:
            self._loaded = False
            completion = self._completion_list()
            if completion is not None:
                completion.close()
            return
        self.last_typed = self._clock()  # an edit (a paste, a deleted word, an accepted completion)
        self._refresh_completion(open_list=True)

    def on_text_area_selection_changed(self, event: TextArea.SelectionChanged) -> None:
        self._refresh_completion(open_list=False)

    def on_blur(self) -> None:
        completion = self._completion_list()
        if completion is not None:
            completion.close()

    def on_completion_list_chosen(self, message: CompletionList.Chosen) -> None:
        self.focus()
        self._accept(message.choice)

    def _accept(self, choice: Choice) -> None:
        """Put the choice (and a space) in place of what was typed for it."""
        context = self._completion_context()
        completion = self._completion_list()
        if completion is not None:
            completion.close()
        if context is None:
            return
        _, _, start = context
        row, column = self.cursor_location
        self.replace(f"{choice.value} ", (row, start), (row, column))

    @work(thread=True, exclusive=True, group="workspace-files", exit_on_error=False)
    def _list_files_again(self) -> None:
        source = self.list_files
        if source is not None:
            files = source()
            self.app.call_from_thread(self._files_listed, files)

    def _files_listed(self, files: list[str]) -> None:
        self.files = files
        completion = self._completion_list()
        if completion is not None and completion.kind == "file":
            self._refresh_completion(open_list=False, files_changed=True)

    def action_complete(self) -> None:
        """Tab (no list open): complete the only match, or open the list of matches; with nothing
        to complete, move the focus on only from an empty prompt."""
        context = self._completion_context()
        if context is None:
            if not self.text:
                self.screen.focus_next()
            return
        kind, query, _ = context
        choices = self._choices(kind, query)
        if len(choices) == 1:
            self._accept(choices[0])
            return
        self._refresh_completion(open_list=True)
