"""The side panel: per-turn latency and cache table, sparklines, and the connection."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Sparkline, Static

if TYPE_CHECKING:  # annotations only: the session (and the transports) load after the first frame
    from agent.session import SessionStats, TurnStats

COLUMNS = ("#", "TTFT", "total", "tok/s", "in", "cached", "hit", "sent", "incr", "wait")


def _ms(seconds: float | None) -> str:
    return "–" if seconds is None else (f"{seconds * 1000:.0f}ms" if seconds < 10 else f"{seconds:.0f}s")


def _tokens(count: int) -> str:
    return f"{count / 1000:.1f}k" if count >= 1000 else str(count)


def _bytes(count: int) -> str:
    if count >= 1024 * 1024:
        return f"{count / 1024 / 1024:.1f}M"
    return f"{count / 1024:.1f}K" if count >= 1024 else f"{count}B"


def turn_row(stats: TurnStats) -> tuple[str, ...]:
    """One table row: the figures of a turn."""
    rate = stats.tokens_per_s
    return (
        str(stats.turn),
        _ms(stats.first_token_s),
        f"{stats.total_s:.1f}s",
        f"{rate:.0f}" if rate else "–",
        _tokens(stats.input_tokens),
        _tokens(stats.cached_tokens),
        f"{stats.cache_ratio:.0%}",
        _bytes(stats.bytes_sent),
        stats.incremental,
        f"{stats.approval_wait_s:.1f}s" if stats.approval_wait_s else "–",
    )


def connection_text(session: SessionStats) -> Text:
    """Transport, socket age against the limit, reconnects and their causes, totals."""
    text = Text()
    text.append("Connection\n", style="bold")
    text.append(f"transport  {session.transport}")
    if session.fallback_reason:
        text.append(f"\n  fallback: {session.fallback_reason}", style="italic")
    if session.transport == "websocket":
        minutes = session.socket_age_s / 60
        rotation = session.max_age_s / 60
        text.append(
            f"\nsocket age {minutes:.1f} / 60 min (rotates at {rotation:.0f})   connections {session.connections}"
        )
    text.append(f"\nreconnects {len(session.reconnects)}")
    for reconnect in session.reconnects[-4:]:
        text.append(f"\n  {reconnect.at:.0f}s  {reconnect.cause} (attempt {reconnect.attempt})", style="dim")
    text.append("\n\nSession\n", style="bold")
    ratio = session.cached_tokens / session.input_tokens if session.input_tokens else 0.0
    text.append(
        f"turns {session.turns}   sent {_bytes(session.bytes_sent)}   received {_bytes(session.bytes_received)}\n"
        f"input {_tokens(session.input_tokens)}   cached {_tokens(session.cached_tokens)} ({ratio:.0%})   "
        f"output {_tokens(session.output_tokens)}"
    )
    return text


class StatsPanel(VerticalScroll):
    """Shows every finished turn and the state of the connection."""

    def __init__(self) -> None:
        super().__init__(id="stats")
        self.turns: list[TurnStats] = []

    def compose(self) -> ComposeResult:
        yield Static(Text("Turns", style="bold"))
        table: DataTable[str] = DataTable(id="turns", zebra_stripes=True, cursor_type="row", show_cursor=False)
        table.add_columns(*COLUMNS)
        yield table
        yield Static(Text("Latency per turn (s)", style="dim"))
        yield Sparkline([], id="latency")
        yield Static(Text("Cache ratio per turn", style="dim"))
        yield Sparkline([], id="cache")
        yield Static(id="connection")

    def add_turn(self, stats: TurnStats) -> None:
        self.turns.append(stats)
        self.query_one("#turns", DataTable).add_row(*turn_row(stats))
        self.query_one("#latency", Sparkline).data = [turn.total_s for turn in self.turns]
        self.query_one("#cache", Sparkline).data = [turn.cache_ratio for turn in self.turns]

    def show_session(self, session: SessionStats) -> None:
        for connection in self.query("#connection").results(Static):
            connection.update(connection_text(session))

    def clear(self) -> None:
        self.turns.clear()
        self.query_one("#turns", DataTable).clear()
        self.query_one("#latency", Sparkline).data = []
        self.query_one("#cache", Sparkline).data = []
