"""The sources of a web search, as its tool card lists them (from the call's `display`).

Titles and URLs come from web pages: they pass through `agent.terminal_text` before they are
rendered, and only the first `SHOWN_SOURCES` are listed (the output holds them all).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.text import Text

from agent.terminal_text import safe_line

SHOWN_SOURCES = 8


def sources_text(display: Mapping[str, Any] | None) -> Text | None:
    """`display["sources"]` (each `{"url", "title"}`) as one `title — url` line each, then how
    many more there are; None when the display holds no sources."""
    display = display or {}
    sources = display.get("sources")
    if not isinstance(sources, list):
        return None
    lines = []
    for source in sources:
        url = source.get("url") if isinstance(source, Mapping) else None
        if not isinstance(url, str) or not url:
            continue
        title = source.get("title")
        line = f"{title} — {url}" if isinstance(title, str) and title else url
        lines.append(safe_line(line))
    if not lines:
        return None
    extra = display.get("more_sources")
    more = max(len(lines) - SHOWN_SOURCES, 0) + (extra if isinstance(extra, int) and extra > 0 else 0)
    text = Text()
    for index, line in enumerate(lines[:SHOWN_SOURCES]):
        text.append(("\n" if index else "") + f"↗ {line}", style="dim")
    if more > 0:
        text.append(f"\n… and {more} more source{'' if more == 1 else 's'}", style="dim italic")
    return text
