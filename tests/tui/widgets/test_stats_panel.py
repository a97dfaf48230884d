"""The stats panel: after every response, warm-up and resend bytes, its legend, and the width."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import DataTable

from tests.tui.conftest import SIZE, call, scenario, wait_idle
from tests.tui.test_app import EDIT, HELLO, send
from tui.app import WIDE_ENOUGH_FOR_STATS
from tui.widgets.approval import ApprovalCard
from tui.widgets.stats_panel import COLUMNS, LEGEND, LIVE_ROW, StatsPanel


def table_rows(panel: StatsPanel) -> list[list[str]]:
    table = panel.query_one("#turns", DataTable)
    return [[str(cell) for cell in table.get_row_at(index)] for index in range(table.row_count)]


def connection(panel: StatsPanel) -> str:
    rendered = panel.query_one("#connection").render()
    return rendered.plain if isinstance(rendered, Text) else str(rendered)


async def wait_for_card(app, pilot) -> ApprovalCard:
    for _ in range(200):
        if app.pending_approval() is not None:
            break
        await pilot.pause(0.05)
    card = app.pending_approval()
    assert card is not None
    return card


async def test_the_running_turn_shows_each_response_before_the_turn_ends(make_app):
    app = make_app(EDIT)  # read_file, then an edit that waits for approval, then the answer
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(StatsPanel)
        await send(pilot, "change it")
        await wait_for_card(app, pilot)
        assert panel.turns == [] and len(panel.live) == 2, "two responses so far, the turn runs"
        rows = table_rows(panel)
        assert len(rows) == 1 and rows[0][0] == "1…"
        assert panel.query_one("#turns", DataTable).get_row(LIVE_ROW)[COLUMNS.index("sent")] != "0B"
        assert "1 running" in connection(panel) and "responses 2 this turn" in connection(panel)
        await pilot.press("y")
        await wait_idle(app, pilot)
        assert len(panel.turns) == 1 and panel.live == []
        rows = table_rows(panel)
        assert len(rows) == 1 and rows[0][0] == "1", "the finished row replaced the running one"
        assert "turns 1   responses 0" in connection(panel)


async def test_the_warm_up_request_is_counted(make_app):
    app = make_app(HELLO, warmup=True)
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(StatsPanel)
        for _ in range(200):
            if app.session is not None and app.session.warmup_stats is not None:
                break
            await pilot.pause(0.05)
        warmup = app.session.warmup_stats
        assert warmup is not None and warmup.bytes_sent > 0
        await send(pilot, "hi")
        await wait_idle(app, pilot)
        stats = app.session.stats()
        assert stats.warmup_bytes_sent == warmup.bytes_sent and stats.resent_bytes == 0
        shown = connection(panel)
        assert "warm-up " in shown and "warm-up 0B" not in shown
        total = stats.bytes_sent + stats.warmup_bytes_sent
        assert f"sent {total}B" in shown or f"sent {total / 1024:.1f}K" in shown


async def test_http_resends_of_the_whole_conversation_are_counted(make_app):
    app = make_app(EDIT, transport="http", approval="auto-edit")
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(StatsPanel)
        await send(pilot, "change it")
        await wait_idle(app, pilot)
        turn = app.session.turns[-1]
        assert [r.resent for r in turn.responses] == [False, True, True], [r.reason for r in turn.responses]
        assert turn.resent_bytes == sum(r.bytes_sent for r in turn.responses[1:]) > 0
        assert app.session.stats().resent_bytes == turn.resent_bytes
        assert table_rows(panel)[0][COLUMNS.index("resent")] != "–"
        assert "resent 0B" not in connection(panel)


async def test_every_column_is_explained(make_app):
    app = make_app(HELLO)
    async with app.run_test(size=SIZE):
        panel = app.query_one(StatsPanel)
        assert set(LEGEND) == set(COLUMNS)
        legend = panel.query_one("#legend").render()
        text = legend.plain if isinstance(legend, Text) else str(legend)
        for column, meaning in LEGEND.items():
            assert column in text and meaning in text
        assert "time to first token" in text and "cached share" in text and "bytes sent" in text
        tooltip = panel.query_one("#turns", DataTable).tooltip
        assert isinstance(tooltip, Text) and "time to first token" in tooltip.plain


async def test_the_panel_follows_the_window_width_until_ctrl_b_decides(make_app):
    app = make_app(HELLO)
    async with app.run_test(size=(WIDE_ENOUGH_FOR_STATS - 1, 40)) as pilot:
        panel = app.query_one(StatsPanel)
        assert panel.has_class("-hidden"), "hidden below 100 columns"
        await pilot.resize_terminal(WIDE_ENOUGH_FOR_STATS, 40)
        await pilot.pause()
        assert not panel.has_class("-hidden") and panel.display
        wide = panel.size.width
        await pilot.resize_terminal(180, 40)
        await pilot.pause()
        assert panel.size.width > wide, "the panel's width follows the window"
        await pilot.resize_terminal(80, 40)
        await pilot.pause()
        assert panel.has_class("-hidden")
        await pilot.press("ctrl+b")
        assert not panel.has_class("-hidden"), "Ctrl+B shows it in a narrow window"
        await pilot.resize_terminal(90, 40)
        await pilot.pause()
        assert not panel.has_class("-hidden"), "once toggled, resizing leaves it as the user chose"
        await pilot.press("ctrl+b")
        await pilot.resize_terminal(160, 40)
        await pilot.pause()
        assert panel.has_class("-hidden")


async def test_a_turn_of_two_responses_ends_as_one_row(make_app):
    app = make_app(scenario({"output": [call("read_file", "r", path="a.py", offset=None, limit=None)]}, HELLO.turns[0]))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "read it")
        await wait_idle(app, pilot)
        panel = app.query_one(StatsPanel)
        assert [len(turn.responses) for turn in panel.turns] == [2]
        assert len(table_rows(panel)) == 1 and panel.live == []


async def test_figures_given_before_the_panel_is_filled_are_shown_once_it_is():
    """The app fills the panel after its first frame; nothing given earlier is lost."""
    from textual.app import App, ComposeResult

    from agent.stats import TurnStats
    from tests.tui.test_router import STATS

    class PanelApp(App[None]):
        def compose(self) -> ComposeResult:
            yield StatsPanel()

    app = PanelApp()
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(StatsPanel)
        assert not panel.children, "empty until filled"
        panel.add_turn(TurnStats(turn=1, responses=[STATS], total_s=1.0))
        panel.add_response(STATS)
        await panel.fill()
        await pilot.pause()
        assert [row[0] for row in table_rows(panel)] == ["1", "2…"]
        panel.clear()
        assert table_rows(panel) == []


def test_ignored_server_events_are_shown_only_when_there_were_some():
    from agent.session import SessionStats
    from tests.tui.test_router import STATS
    from tui.widgets.stats_panel import connection_text

    assert "ignored" not in connection_text(SessionStats(transport="websocket")).plain
    shown = connection_text(
        SessionStats(transport="websocket", ignored_events=2), [STATS.model_copy(update={"ignored_events": 1})]
    )
    assert "ignored server events 3" in shown.plain


async def test_session_figures_arriving_while_the_panel_is_torn_down_are_dropped():
    """The warm-up's figures can land while the app shuts down and the panel's widgets are being
    removed: nothing is drawn, nothing raises."""
    from textual.app import App, ComposeResult

    from agent.session import SessionStats

    panel = StatsPanel()

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield panel

    async with One().run_test(size=(100, 40)) as pilot:
        await panel.fill()
        await pilot.pause()
        await panel.query_one("#connection").remove()
        assert panel.children, "some of its widgets are still there"
        panel.show_session(SessionStats(transport="websocket"))
