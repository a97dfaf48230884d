"""Cost and the context meter in the app: `/cost`, the stats panel's cost, the header's meter."""

from __future__ import annotations

import pytest
from rich.text import Text
from textual.widgets import DataTable

import agent.session
from agent.catalogue import catalogue
from agent.cost import dollars
from tests.tui.conftest import SIZE, call, scenario, wait_idle
from tests.tui.test_app import send
from tui.widgets.header import RepoHeader
from tui.widgets.stats_panel import COLUMNS, StatsPanel
from tui.widgets.transcript import NoticeLine

TOOL_THEN_ANSWER = scenario(
    {"output": [call("read_file", "r", path="a.py", offset=None, limit=None)]},
    {"output": [{"type": "message", "text": "It prints hello."}]},
    {"output": [{"type": "message", "text": "Second answer."}]},
)


def notices(app) -> list[str]:
    return [str(line.render()) for line in app.query(NoticeLine)]


def connection(panel: StatsPanel) -> str:
    rendered = panel.query_one("#connection").render()
    return rendered.plain if isinstance(rendered, Text) else str(rendered)


def with_window(monkeypatch, model: str, window: int) -> None:
    """The catalogue as a user's config would change it: `model` with a context window of `window`."""
    changed = catalogue().with_overrides({model: {"context_window": window}})
    monkeypatch.setattr(agent.session, "user_catalogue", lambda models: changed)


async def test_slash_cost_prints_each_turn_the_discount_and_the_prices_with_their_source(make_app):
    app = make_app(TOOL_THEN_ANSWER, model="gpt-5.2")
    info = catalogue().lookup("gpt-5.2")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "what does a.py do?")
        await wait_idle(app, pilot)
        await send(pilot, "/cost")
        await wait_idle(app, pilot)
        report = notices(app)[-1]
        expected = app.session.cost_of(app.session.turns[0].responses)
    assert expected.charged and expected.cached_tokens, "the chained second response read the cache"
    assert f"turn   1  {dollars(expected.charged):>12}" in report
    assert f"cached {expected.cached_tokens:,}" in report and "saved $" in report
    assert "uncached input" in report and "cached input" in report and "output" in report
    assert f"cached input ${info.cached_input_per_mtok:g}" in report
    assert f"checked {catalogue().provenance.checked}" in report and "prices from" in report
    assert "context " in report and "of the window" in report


async def test_slash_cost_says_cost_unknown_for_a_model_without_prices(make_app):
    app = make_app(TOOL_THEN_ANSWER)  # `scripted-test` is not in the catalogue
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "what does a.py do?")
        await wait_idle(app, pilot)
        await send(pilot, "/cost")
        await wait_idle(app, pilot)
        report = notices(app)[-1]
    assert "session  cost unknown" in report and "no prices known for scripted-test" in report
    assert "$0.0000" not in report


async def test_the_stats_panel_shows_each_turns_cost_and_what_the_cache_saved(make_app):
    app = make_app(TOOL_THEN_ANSWER, model="gpt-5.2")
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(StatsPanel)
        await send(pilot, "what does a.py do?")
        await wait_idle(app, pilot)
        await send(pilot, "and then?")
        await wait_idle(app, pilot)
        table = panel.query_one("#turns", DataTable)
        shown = [str(table.get_row_at(index)[COLUMNS.index("cost")]) for index in range(table.row_count)]
        expected = [f"${app.session.cost_of(turn.responses).charged:.4f}" for turn in app.session.turns]
        session = app.session.session_cost()
        text = connection(panel)
    assert shown == expected and len(shown) == 2
    assert f"cost ${session.charged:.4f}" in text and f"the cache saved ${session.saved:.4f}" in text
    assert session.saved and session.saved > 0


async def test_the_stats_panel_marks_an_unpriced_turn_unknown_not_free(make_app):
    app = make_app(TOOL_THEN_ANSWER)
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(StatsPanel)
        await send(pilot, "what does a.py do?")
        await wait_idle(app, pilot)
        table = panel.query_one("#turns", DataTable)
        cell = str(table.get_row_at(0)[COLUMNS.index("cost")])
        text = connection(panel)
    assert cell == "?" and "cost unknown" in text and "$0" not in text


@pytest.mark.parametrize(("window", "near"), [(10_000_000, False), (2000, True)])
async def test_the_header_meter_shows_the_context_and_turns_amber_near_the_compaction_threshold(
    make_app, monkeypatch, window, near
):
    with_window(monkeypatch, "scripted-test", window)
    app = make_app(TOOL_THEN_ANSWER)
    async with app.run_test(size=SIZE) as pilot:
        header = app.query_one(RepoHeader)
        assert header.context is not None and header.context.used == 0 and not header.has_class("-context-near")
        await send(pilot, "what does a.py do?")
        await wait_idle(app, pilot)
        latest = app.session.turns[-1].responses[-1]
        shown = str(header.content)
        usage = header.context
        amber = header.has_class("-context-near")
        style = header.get_component_rich_style("repo-header--context-near")
        warning = app.theme_variables["warning"]
    assert usage.used == latest.input_tokens + latest.output_tokens > 0 and usage.window == window
    assert usage.label() in shown and f"({usage.used / window:.0%})" in shown
    assert amber is near
    assert style.color is not None and style.color.triplet.hex.lower() == warning.lower(), "the theme's $warning"


async def test_the_meter_moves_after_each_response_while_the_turn_runs(make_app):
    from tests.tui.test_app import EDIT
    from tests.tui.widgets.test_stats_panel import wait_for_card

    app = make_app(EDIT)  # read_file, then an edit that waits for approval
    async with app.run_test(size=SIZE) as pilot:
        header = app.query_one(RepoHeader)
        await send(pilot, "change it")
        await wait_for_card(app, pilot)
        latest = app.session.agent.latest_response
        running = header.context
        await pilot.press("y")
        await wait_idle(app, pilot)
    assert latest is not None and running is not None
    assert running.used == latest.input_tokens + latest.output_tokens > 0, "shown before the turn ended"
