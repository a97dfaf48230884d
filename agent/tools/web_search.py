"""`web_search`: search the web through the endpoint's hosted search (`agent.web_search`).

Offered only when the config says `web_search = true`. Every call reaches the network, so it is
asked about under every approval policy (refused under `read-only`) unless a rule allows it:
`allow = ["web_search"]`, or "approve always" for the session.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from agent.approvals import ApprovalRequest, ToolKind
from agent.tools.base import (
    CallDescription,
    Tool,
    ToolArgs,
    ToolContext,
    ToolError,
    ToolResult,
    one_line,
    text_argument,
)
from agent.web_search import SEARCH_TIMEOUT_S, WebSearchFailed, checked_query, web_search


class WebSearchArgs(ToolArgs):
    query: str = Field(
        description="What to find on the web, as a focused search query (a library's current version, an "
        "error message, an API's documentation)."
    )


class WebSearch(Tool[WebSearchArgs]):
    """Ask the endpoint to search the web; the answer comes back with its sources."""

    name: ClassVar[str] = "web_search"
    description: ClassVar[str] = (
        "Search the web for current information (documentation, releases, error messages) that the "
        "workspace does not hold. The user approves each search. Returns an answer with its sources "
        "(URLs); cite them when you use them."
    )
    Args = WebSearchArgs
    kind: ClassVar[ToolKind] = "network"
    timeout_s: ClassVar[float] = SEARCH_TIMEOUT_S
    """Seconds the endpoint has to answer one search."""

    def approval_request(self, call_id: str, args: WebSearchArgs, ctx: ToolContext) -> ApprovalRequest:
        """Every search asks (the query leaves the machine); "approve always" allows every search."""
        return ApprovalRequest(
            call_id=call_id,
            tool=self.name,
            kind=self.kind,
            summary=f"search the web: {one_line(args.query)}",
            rule_key=self.name,
            rule_scope="every web search (the endpoint searches the web for the model's queries)",
        )

    @classmethod
    def describe(cls, arguments: dict[str, Any]) -> CallDescription:
        """The query."""
        return CallDescription(one_line(text_argument(arguments, "query") or ""))

    async def run(self, args: WebSearchArgs, ctx: ToolContext) -> ToolResult:
        if ctx.side is None:
            raise ToolError("Web search is not available in this session: it has no connection for side requests.")
        try:
            result = await web_search(ctx.side, checked_query(args.query), timeout=self.timeout_s)
        except WebSearchFailed as exc:
            raise ToolError(str(exc)) from None
        return ToolResult(output=result.output(), display=result.display())
