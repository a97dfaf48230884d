"""Text from outside made safe to show on a terminal: the one home of that rule.

Model text and reasoning, tool arguments and output, file names, diffs, error messages, saved
sessions and exported Markdown may hold terminal control sequences (OSC 0/2 window titles,
OSC 8 links, OSC 52 clipboard writes, CSI screen clears, DCS, a bare ESC or BEL). Nothing from
outside reaches the screen with them:

- `TERMINAL_SEQUENCES`: every ECMA-48 sequence (CSI, OSC, DCS, SOS, PM, APC, other ESC
  sequences, a lone ESC), C1 introducers included.
- `safe_terminal_text`: those sequences removed, every other C0/C1 control shown as a visible
  symbol (U+2400 block, `␡` for DEL, `\\x85`-style text for C1); `\\n` and `\\t` kept, a `\\r\\n`
  line end becomes `\\n`.
- `safe_line`: the same text on one line, whitespace runs made one space, optionally cut.
- `terminal_safe_json`: JSON text with its C1 characters escaped (`\\u009b`): JSON escapes C0
  controls itself, but C1 ones stay raw in UTF-8 output, and some terminals obey them.
- `SafeTextStream`: the same for text that arrives in pieces (streamed deltas): a sequence split
  across pieces is held back until it is complete, so no half of it shows as text. One still
  open after `MAX_HELD_BACK` characters (a 10 KB OSC 52 clipboard write) is dropped as it
  streams, and `REMOVED_SEQUENCE` is shown where it was once it ends.
"""

from __future__ import annotations

import re

__all__ = [
    "TERMINAL_SEQUENCES",
    "SafeTextStream",
    "has_controls",
    "safe_line",
    "safe_terminal_text",
    "terminal_safe_json",
]

TERMINAL_SEQUENCES = re.compile(
    r"""
      (?:\x1b\[|\x9b) [0-?]* [ -/]* [@-~]                      # CSI (colours, cursor, 2J, DSR queries)
    | (?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])                   # OSC (0/2, 8, 52), DCS, SOS, PM, APC
      [^\x07\x1b\x9c\n]* (?:\x07|\x1b\\|\x9c)?                 #   … up to BEL or ST (or the line end)
    | \x1b [ -/]* [0-~]                                        # other escape sequences (ESC 7, ESC ( B)
    | \x1b                                                     # a lone ESC
    """,
    re.VERBOSE,
)
"""Terminal control sequences, each matched whole (an unterminated string ends at the line end)."""

_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""Every C0/C1 control and DEL except `\\t` and `\\n`."""

_PARTIAL_TAIL = re.compile(
    r"""
      (?:\x1b\[|\x9b) [0-?]* [ -/]* \Z                         # CSI without its final byte
    | (?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f]) [^\x07\x1b\x9c\n]* \x1b? \Z   # open string (or ESC of ST)
    | \x1b [ -/]* \Z                                           # ESC, maybe with intermediates
    """,
    re.VERBOSE,
)
"""A sequence that the next piece of a stream may complete."""

MAX_HELD_BACK = 4096
"""A stream holds back at most this many characters of an unfinished sequence."""

REMOVED_SEQUENCE = "⟨escape sequence removed⟩"
"""What a stream shows in place of a sequence too long to hold back (never its payload)."""

_STRING_END = re.compile(r"\x07|\x9c|\x1b\\|(?=\x1b[^\\])|(?=\n)")
"""Where an OSC/DCS/SOS/PM/APC string ends: BEL or ST (consumed), another ESC, or the line end."""
_CSI_END = re.compile(r"[@-~]|(?=[^0-? -/])")
"""Where a CSI ends: its final byte (consumed), or any character that cannot continue it."""
_ESCAPE_END = re.compile(r"[0-~]|(?=[^ -/])")
"""Where another escape sequence ends: its final byte (consumed), or any other character."""


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)
    if code == 0x7F:
        return "\u2421"
    return f"\\x{code:02x}"


_C1 = re.compile(r"[\x80-\x9f]")


def terminal_safe_json(json_text: str) -> str:
    """JSON text with every C1 control written as a `\\u00XX` escape (the same JSON value).

    Outside strings JSON is ASCII, so the characters replaced are always inside strings.
    """
    if _C1.search(json_text) is None:
        return json_text
    return _C1.sub(lambda match: f"\\u{ord(match.group()):04x}", json_text)


def has_controls(text: str) -> bool:
    """Whether `text` holds any C0/C1 control other than `\\n` and `\\t` (hence any sequence)."""
    return _CONTROLS.search(text) is not None


def safe_terminal_text(text: str) -> str:
    """`text` with nothing that could control a terminal.

    Escape sequences are removed whole; every other C0/C1 control (BEL, backspace, a lone `\\r`,
    DEL, C1 characters) is shown as a visible symbol; `\\n` and `\\t` stay, and `\\r\\n` becomes
    `\\n`. Text without controls is returned as it is (one regex search).

    Args:
        text: text from outside (model, files, tools, servers, saved sessions).

    Returns:
        Text that is safe to print or render and holds no control character but `\\n` and `\\t`.
    """
    if _CONTROLS.search(text) is None:
        return text
    text = TERMINAL_SEQUENCES.sub("", text)
    text = text.replace("\r\n", "\n")
    return _CONTROLS.sub(_visible, text)


def safe_line(text: str, limit: int | None = None) -> str:
    """`safe_terminal_text(text)` on one line (every run of whitespace one space), cut to `limit`
    characters with an ellipsis when a limit is given."""
    flat = " ".join(safe_terminal_text(text).split())
    return flat if limit is None or len(flat) <= limit else flat[: limit - 1] + "…"


def _sequence_end(introducer: str) -> re.Pattern[str]:
    """What ends the sequence that `introducer` (its first one or two characters) starts."""
    if introducer[:1] == "\x9b" or introducer == "\x1b[":
        return _CSI_END
    if introducer[:1] == "\x1b" and introducer[1:] not in ("]", "P", "X", "^", "_"):
        return _ESCAPE_END
    return _STRING_END


class SafeTextStream:
    """`safe_terminal_text` for text that arrives in pieces.

    `feed` returns the safe text of everything complete so far; a trailing piece that may be the
    start of a sequence (an ESC, a CSI without its final byte, an OSC/DCS string without its
    terminator, a `\\r` that may start `\\r\\n`) is held back for the next piece, up to
    `MAX_HELD_BACK` characters. `flush` returns what is held back, made safe.
    """

    def __init__(self) -> None:
        self._held = ""
        self._dropping: re.Pattern[str] | None = None
        """The end of the overlong sequence being dropped (None: not inside one)."""

    def feed(self, text: str) -> str:
        """The safe text of `text` (after what was held back), minus an unfinished tail."""
        if self._held:
            text = self._held + text
            self._held = ""
        shown = ""
        if self._dropping is not None:
            end = self._dropping.search(text)
            if end is None:
                self._held = "\x1b" if text.endswith("\x1b") else ""  # maybe the ESC of its ST
                return ""
            self._dropping = None
            shown, text = REMOVED_SEQUENCE, text[end.end() :]
        if not shown and _CONTROLS.search(text) is None:
            return text
        tail = _PARTIAL_TAIL.search(text)
        if tail is not None and len(text) - tail.start() <= MAX_HELD_BACK:
            self._held = text[tail.start() :]
            text = text[: tail.start()]
        elif tail is not None:
            self._dropping = _sequence_end(text[tail.start() : tail.start() + 2])
            text = text[: tail.start()]
        elif text.endswith("\r"):
            self._held = "\r"
            text = text[:-1]
        return shown + safe_terminal_text(text)

    def flush(self) -> str:
        """What is held back, made safe (the stream ended)."""
        held, self._held = self._held, ""
        if self._dropping is not None:
            self._dropping = None
            return REMOVED_SEQUENCE
        return safe_terminal_text(held)
