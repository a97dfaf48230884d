"""What a web search found, read from Responses output items given as plain JSON.

Two kinds of items carry it (reference §4): a `web_search_call` item, whose `action` says what
the endpoint did (`search` with its `query`/`queries` and maybe `sources`, `open_page` with a
`url`, `find`/`find_in_page` with a `url` and a `pattern`), and an assistant message whose
`output_text` parts hold `url_citation` annotations (`url`, `title`). Items come from outside:
every field is read defensively, and nothing here raises on a malformed one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agent.terminal_text import safe_line

WEB_SEARCH_CALL = "web_search_call"
"""The item type of a hosted web search the endpoint ran."""

MAX_SOURCES = 20
"""Sources kept for one search (the output, the card); more are counted, not listed."""
MAX_URL_CHARS = 500
MAX_TITLE_CHARS = 200
MAX_QUERY_CHARS = 300
NOTICE_SOURCES = 5
"""Sources named in the notice of a search the endpoint ran by itself."""


@dataclass(frozen=True)
class Source:
    """One web page the answer cites or the search found."""

    url: str
    title: str = ""


@dataclass
class Findings:
    """Everything one or more output items say about a web search."""

    searches: list[str] = field(default_factory=list)
    """The queries the endpoint searched for, in order, each once."""
    opened: list[str] = field(default_factory=list)
    """The pages it opened or searched in (`open_page`, `find`)."""
    sources: list[Source] = field(default_factory=list)
    """Cited pages first, then the pages the search listed; each URL once, at most `MAX_SOURCES`."""
    more_sources: int = 0
    """Sources left out past `MAX_SOURCES`."""
    calls: int = 0
    """`web_search_call` items seen."""

    def add_source(self, url: object, title: object = "") -> None:
        """Keep a source (once per URL, up to `MAX_SOURCES`); anything but a non-empty string URL is ignored."""
        if not isinstance(url, str) or not url.strip():
            return
        clean = safe_line(url, MAX_URL_CHARS)
        if any(source.url == clean for source in self.sources):
            return
        if len(self.sources) >= MAX_SOURCES:
            self.more_sources += 1
            return
        self.sources.append(Source(clean, safe_line(title, MAX_TITLE_CHARS) if isinstance(title, str) else ""))

    def read(self, items: Iterable[Mapping[str, Any]]) -> Findings:
        """Take in the searches of `web_search_call` items, then the citations of messages."""
        listed: list[Any] = []
        for item in items:
            if item.get("type") == WEB_SEARCH_CALL:
                self.calls += 1
                listed += self._read_action(item.get("action"))
        for item in items:
            if item.get("type") == "message":
                for citation in citations(item):
                    self.add_source(citation.get("url"), citation.get("title", ""))
        for source in listed:
            if isinstance(source, Mapping):
                self.add_source(source.get("url"), source.get("title", ""))
        return self

    def _read_action(self, action: object) -> list[Any]:
        """Note what the action did; the sources a search listed."""
        if not isinstance(action, Mapping):
            return []
        kind = action.get("type")
        if kind == "search":
            queries = action.get("queries")
            for query in [action.get("query"), *(queries if isinstance(queries, list) else [])]:
                said = safe_line(query, MAX_QUERY_CHARS) if isinstance(query, str) else ""
                if said and said not in self.searches:
                    self.searches.append(said)
            sources = action.get("sources")
            return sources if isinstance(sources, list) else []
        url = action.get("url")
        if kind in ("open_page", "find", "find_in_page") and isinstance(url, str) and url.strip():
            page = safe_line(url, MAX_URL_CHARS)
            if page not in self.opened:
                self.opened.append(page)
        return []


def citations(message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The `url_citation` annotations of a message item's `output_text` parts."""
    found: list[Mapping[str, Any]] = []
    content = message.get("content")
    for part in content if isinstance(content, list) else []:
        annotations = part.get("annotations") if isinstance(part, Mapping) else None
        for annotation in annotations if isinstance(annotations, list) else []:
            if isinstance(annotation, Mapping) and annotation.get("type") == "url_citation":
                found.append(annotation)
    return found


def source_line(source: Source) -> str:
    """`Title — https://…`, or the URL alone."""
    return f"{source.title} — {source.url}" if source.title else source.url


def hosted_search_notice(item: Mapping[str, Any]) -> str:
    """What the transcript says of a `web_search_call` the endpoint ran inside a main response."""
    findings = Findings().read([item])
    if findings.searches:
        said = "⌕ the endpoint searched the web: " + "; ".join(f'"{query}"' for query in findings.searches)
    elif findings.opened:
        said = "⌕ the endpoint read " + ", ".join(findings.opened)
    else:
        said = "⌕ the endpoint searched the web"
    status = item.get("status")
    if isinstance(status, str) and status not in ("completed", ""):
        said += f" ({safe_line(status, 40)})"
    if findings.sources:
        said += " — " + ", ".join(source.url for source in findings.sources[:NOTICE_SOURCES])
        more = max(len(findings.sources) - NOTICE_SOURCES, 0) + findings.more_sources
        if more:
            said += f" and {more} more"
    return said
