"""The terminal's own signals: the window title while an approval waits, and a notification when
a turn ends.

Textual's `App.title` only names the app inside it; these sequences are written by the app to
the real terminal through its driver (as `App.bell` and `App.copy_to_clipboard` do). Text in them
comes from outside (a command, a file name), so it is made safe and kept to one short line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Literal, TypeAlias

from agent.terminal_text import safe_terminal_text

if TYPE_CHECKING:  # the events (pydantic) load after the app's first frame
    from agent.events import AgentEvent

Notification: TypeAlias = Literal["osc9", "bell", "off"]

OSC9_PROGRAMS = frozenset({"iTerm.app", "WezTerm", "ghostty", "kitty"})
"""`TERM_PROGRAM` values of terminals that show OSC 9 as a desktop notification. Elsewhere (and
inside tmux or screen, which swallow it) `auto` rings the bell."""
OSC9_TERMS = frozenset({"xterm-kitty", "xterm-ghostty"})
"""`TERM` values that identify such terminals when `TERM_PROGRAM` is not set."""

PUSH_TITLE = "\x1b[22;2t"
"""Save the terminal's window title on its title stack (xterm; ignored where unsupported)."""
POP_TITLE = "\x1b[23;2t"
"""Restore the saved title (where unsupported, the title written just before it stays)."""
BELL = "\x07"
NOTIFY_AFTER_S = 5.0
"""A turn that ends this long after it started notifies; so does any turn that ends while the
terminal is not focused. A turn the user cancelled never does (they are there)."""
MAX_SHOWN = 120
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def notification_method(setting: str, environ: Mapping[str, str]) -> Notification:
    """What `notify = setting` means in the terminal described by `environ`."""
    if setting == "osc9":
        return "osc9"
    if setting == "bell":
        return "bell"
    if setting == "off":
        return "off"
    if environ.get("TMUX") or environ.get("STY"):
        return "bell"
    if environ.get("TERM_PROGRAM") in OSC9_PROGRAMS or environ.get("TERM") in OSC9_TERMS:
        return "osc9"
    return "bell"


def one_line(text: str) -> str:
    """`text` made safe for an OSC string: no control character at all, one line, short."""
    flat = _UNSAFE.sub(" ", safe_terminal_text(text)).strip()
    return flat if len(flat) <= MAX_SHOWN else flat[: MAX_SHOWN - 1] + "…"


def title_sequence(title: str) -> str:
    """OSC 2: set the window title."""
    return f"\x1b]2;{one_line(title)}\x07"


def notification_sequence(method: Notification, message: str) -> str:
    """What to write for a notification: OSC 9 with `message`, the bell, or nothing."""
    if method == "osc9":
        return f"\x1b]9;{one_line(message)}\x07"
    return BELL if method == "bell" else ""


class TerminalSignals:
    """Writes the window title and notifications, and puts the title back.

    Args:
        write: writes raw text to the terminal (the app's driver), or does nothing without one.
        app_title: the title shown once an approval is answered, where the terminal cannot
            restore its own.
    """

    def __init__(self, write: Callable[[str], None], app_title: str) -> None:
        self.write = write
        self.app_title = app_title
        self.title_changed = False
        self.turn_started_at: float | None = None

    def attend(self, event: AgentEvent, *, clock: Callable[[], float], focused: bool, setting: str) -> None:
        """Follow a live turn's `event`: the title while an approval waits, the turn-end call.

        Args:
            event: the event the app just drew.
            clock: the app's monotonic clock (read at a turn's start and end only).
            focused: whether the terminal has the focus (Textual's `App.app_focus`).
            setting: the `notify` setting.
        """
        from agent.events import ApprovalDecided, ApprovalRequested, TurnEnded, TurnStarted

        if isinstance(event, ApprovalRequested):
            self.show_title(f"{self.app_title} — approval needed: {event.request.summary}")
        elif isinstance(event, ApprovalDecided):
            self.restore_title()
        elif isinstance(event, TurnStarted):
            self.turn_started_at = clock()
        elif isinstance(event, TurnEnded) and self.turn_started_at is not None:
            took = clock() - self.turn_started_at
            method = notification_method(setting, os.environ)
            self.turn_ended(event.reason, took_s=took, focused=focused, method=method)

    def show_title(self, title: str) -> None:
        """Set the window title (the terminal's own is saved first, once)."""
        self.write(("" if self.title_changed else PUSH_TITLE) + title_sequence(title))
        self.title_changed = True

    def restore_title(self) -> None:
        """Put the terminal's title back, if it was changed."""
        if self.title_changed:
            self.write(title_sequence(self.app_title) + POP_TITLE)
            self.title_changed = False

    def turn_ended(self, reason: str, *, took_s: float, focused: bool, method: Notification) -> None:
        """Notify that a turn ended (`reason`), if it was long or the terminal is not focused."""
        if reason == "cancelled" or (took_s < NOTIFY_AFTER_S and focused):
            return
        ended = "finished" if reason == "completed" else f"ended ({reason})"
        self.notify(method, f"codeassist: turn {ended}")

    def notify(self, method: Notification, message: str) -> None:
        """Send a notification by `method` (nothing for `off`)."""
        sequence = notification_sequence(method, message)
        if sequence:
            self.write(sequence)
