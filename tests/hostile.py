"""Text full of terminal control sequences, for the escape-proof tests of every output path."""

from __future__ import annotations

import re

HOSTILE = (
    "A\x1b]0;PWNED title\x07B \x1b]2;PWNED\x1b\\C \x1b]8;;https://evil.invalid\x1b\\link\x1b]8;;\x1b\\ "
    "\x1b]52;c;cm0gLXJmIH4=\x07D \x1b[2J\x1b[HE \x1bPq#0;2 sixel\x1b\\F \x1b G\x07 H\x9b31m I\x90dcs\x9c J"
)
"""OSC 0/2 titles, an OSC 8 link, an OSC 52 clipboard write, CSI 2J/H, DCS, a bare ESC and BEL, C1
CSI and DCS. Made safe it reads `AB C link D E F ␇ H I J` (the scripted model streams it word by
word, so several sequences arrive split across deltas)."""

HOSTILE_NAME = "evil\x1b]0;NAME\x07\x1b[2J.txt"
"""A file name with a window-title write and a screen clear."""

CONTROLS = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")
"""Any control character but `\\n` (a tab is expanded before the screen, so it counts here too)."""
