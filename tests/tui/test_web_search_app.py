"""Web search in the app: the approval card names the query, `a` approves every search of the
session, and the search's card holds its answer and sources."""

from __future__ import annotations

from tests.agent.tools.test_web_search import ANSWER, QUERY, search_scenario
from tests.tui.conftest import SIZE, until, wait_idle
from tests.tui.test_app import send
from tui.widgets.approval import ApprovalCard
from tui.widgets.tool_card import ToolCard
from tui.widgets.transcript import AssistantMessage


async def test_a_search_is_approved_for_the_session_and_its_card_holds_the_sources(make_app):
    app = make_app(search_scenario(), web_search=True)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "which httpx is current?")
        await until(pilot, lambda: bool(app.query(ApprovalCard)))
        card = app.query_one(ApprovalCard)
        assert card.request.tool == "web_search" and card.request.summary == f"search the web: {QUERY}"
        card.focus()
        await pilot.press("a")
        await wait_idle(app, pilot)
        assert "web_search" in app.session.agent.approvals.rules
        [search] = [tool for tool in app.query(ToolCard) if tool.tool_name == "web_search"]
        assert search.status == "ok" and search.output.startswith(ANSWER)
        assert "https://pypi.org/project/httpx/" in search.output
        assert search.display_data is not None and len(search.display_data["sources"]) == 2
        shown = "\n".join(getattr(part, "plain", "") for part in search.content.renderables)
        assert "↗" in shown and "https://pypi.org/project/httpx/" in shown, "the card lists the sources"
        assert app.query(AssistantMessage).last().text == "Noted."
