"""codeassist's Textual themes and the shared stylesheet.

Widgets style themselves with theme variables only (`$primary`, `$text-muted`, …), so every
theme here — and any Textual theme a user picks — restyles the whole app.
"""

from __future__ import annotations

from pathlib import Path

from textual.theme import Theme

STYLESHEET = Path(__file__).with_name("base.tcss")
"""Global rules shared by every screen."""

CODEASSIST_DARK = Theme(
    name="codeassist-dark",
    primary="#5fafff",
    secondary="#af87ff",
    accent="#ffaf5f",
    warning="#ffd75f",
    error="#ff5f5f",
    success="#87d787",
    foreground="#e4e4e4",
    background="#121417",
    surface="#1b1e23",
    panel="#24282f",
    dark=True,
    variables={"footer-key-foreground": "#5fafff"},
)

CODEASSIST_LIGHT = Theme(
    name="codeassist-light",
    primary="#005fd7",
    secondary="#8700af",
    accent="#d75f00",
    warning="#af8700",
    error="#d70000",
    success="#008700",
    foreground="#1c1c1c",
    background="#fafafa",
    surface="#ffffff",
    panel="#eeeeee",
    dark=False,
)

THEMES = (CODEASSIST_DARK, CODEASSIST_LIGHT)
"""The themes registered by the app (Textual's built-in ones stay available too)."""
