"""Web search through the endpoint's hosted `web_search` tool, on a side request.

A hosted tool runs on the server, inside a response: nobody could approve it after the model
asked for it. So the model gets a function tool, `web_search(query)` (`agent.tools.web_search`),
approved like any network use; once approved, codeassist sends one side request
(`agent.side_request`: `POST …/responses`, not stored, the session's model) offering only
`{"type": "web_search"}`, and the model's answer there, with its sources, is the call's output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent.conversation import RequestSettings
from agent.side_request import SideAnswer, SideChannel, SideRequestFailed, side_body
from agent.web_sources import Findings, source_line
from agent.wire.items import user_message

HOSTED_TOOL: dict[str, Any] = {"type": "web_search"}
"""The hosted tool the side request offers (and nothing else)."""

SEARCH_TIMEOUT_S = 90.0
MAX_ANSWER_CHARS = 8000
"""Characters of the search's answer passed on to the model; the sources follow it."""
MAX_QUERY_CHARS = 1000

SEARCH_INSTRUCTIONS = (
    "You answer one web search for a coding assistant. Search the web for the query, read what you "
    "need, then answer with the facts found: versions, names, commands, quotes from documentation. "
    "Be concise, say when sources disagree or nothing was found, and cite every source you used."
)

UNSUPPORTED_CODES = frozenset({"unsupported_tool", "invalid_tool", "tool_not_supported", "unknown_tool"})


class WebSearchFailed(Exception):
    """A search that gave no answer; the message says why, for the model."""


@dataclass(frozen=True)
class SearchResult:
    """One search's answer and what it rests on."""

    query: str
    answer: str
    findings: Findings

    def output(self) -> str:
        """The call's output: the answer (bounded), then the sources and what was searched."""
        answer = self.answer.strip()
        if len(answer) > MAX_ANSWER_CHARS:
            answer = answer[:MAX_ANSWER_CHARS].rstrip() + f"\n[… answer cut at {MAX_ANSWER_CHARS} characters]"
        findings = self.findings
        parts = [answer or "(The search gave no answer text.)"]
        if findings.sources:
            lines = [f"{index}. {source_line(source)}" for index, source in enumerate(findings.sources, 1)]
            if findings.more_sources:
                lines.append(f"… and {findings.more_sources} more")
            parts.append("Sources:\n" + "\n".join(lines))
        if findings.searches:
            parts.append("Searched for: " + "; ".join(f'"{query}"' for query in findings.searches))
        if findings.opened:
            parts.append("Pages opened: " + ", ".join(findings.opened))
        if not findings.calls and not findings.sources:
            parts.append(
                "(The endpoint ran no web search for this query and cited nothing: the answer is the "
                "model's own knowledge, not fresh from the web.)"
            )
        return "\n\n".join(parts)

    def display(self) -> dict[str, Any]:
        """What the tool card shows: the query, the sources, the searches the endpoint ran."""
        return {
            "query": self.query,
            "sources": [{"url": source.url, "title": source.title} for source in self.findings.sources],
            "more_sources": self.findings.more_sources,
            "searches": list(self.findings.searches),
        }


def search_body(settings: RequestSettings, query: str) -> dict[str, Any]:
    """The side request of one search: the query as the user message, only the hosted tool."""
    return side_body(settings, instructions=SEARCH_INSTRUCTIONS, input=[user_message(query)], tools=[HOSTED_TOOL])


def read_answer(query: str, answer: SideAnswer) -> SearchResult:
    """The answer text and the sources of a completed search response."""
    items = [item.model_dump(mode="json") for item in answer.output]
    return SearchResult(query=query, answer=answer.text, findings=Findings().read(items))


async def web_search(channel: SideChannel, query: str, *, timeout: float = SEARCH_TIMEOUT_S) -> SearchResult:
    """Search the web for `query` through the endpoint's hosted tool.

    Raises:
        WebSearchFailed: the endpoint has no hosted web search, refused or failed the request, or
            gave no answer in time (the message says which, and what the model can do instead).
    """
    try:
        answer = await channel.send(lambda settings: search_body(settings, query), timeout=timeout)
    except SideRequestFailed as exc:
        raise WebSearchFailed(_failure(exc)) from None
    return read_answer(query, answer)


def _failure(exc: SideRequestFailed) -> str:
    reason = str(exc).rstrip(". ")
    if exc.code in UNSUPPORTED_CODES or (
        exc.status in (400, 404, 422) and any(word in reason.lower() for word in ("web_search", "tool"))
    ):
        return (
            f"Web search is not available: the endpoint does not offer the hosted web_search tool ({reason}). "
            "Answer from what you know, or ask the user to look it up."
        )
    return f"Web search failed: {reason}. Nothing was found; try again later or go on without it."


def checked_query(query: str) -> str:
    """The query as it is sent: stripped, at most `MAX_QUERY_CHARS`.

    Raises:
        WebSearchFailed: an empty query.
    """
    query = query.strip()
    if not query:
        raise WebSearchFailed("The query is empty: say what to search the web for.")
    return query[:MAX_QUERY_CHARS]


__all__ = [
    "HOSTED_TOOL",
    "SearchResult",
    "WebSearchFailed",
    "checked_query",
    "read_answer",
    "search_body",
    "web_search",
]
