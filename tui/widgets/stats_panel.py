"""The side panel: per-turn latency, cache and cost table, sparklines, the connection and the
session's cost with what the cached-input discount saved.

It is updated after every response (the running turn has a row of its own, marked `…`, until the
turn ends), says what each column means (`LEGEND`, also the columns' tooltip), and follows the
window's width (the app hides it in narrow windows).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

if TYPE_CHECKING:  # annotations only: the session (and the transports) load after the first frame
    from textual.widgets import DataTable, Sparkline

    from agent.session import Cost, ResponseStats, SessionStats, TurnStats

COLUMNS = ("#", "TTFT", "total", "tok/s", "in", "cached", "hit", "sent", "resent", "incr", "wait", "cost")

LEGEND: dict[str, str] = {
    "#": "turn number (… while the turn runs)",
    "TTFT": "time to first token of the turn's first response",
    "total": "turn time, tools and approvals included",
    "tok/s": "output tokens per second while streaming",
    "in": "input tokens, all responses of the turn",
    "cached": "input tokens the server had cached",
    "hit": "cached share of the input",
    "sent": "bytes sent (resends and retries included)",
    "resent": "bytes that resent the whole conversation (new socket, HTTP fallback…)",
    "incr": "requests that sent only new items (all / none / k of n)",
    "wait": "time spent waiting for your approval",
    "cost": "dollars, cached input at its discount (?: prices unknown)",
}
"""What each column of the turns table means (shown under the table and as its tooltip)."""

LIVE_ROW = "live"
"""The row key of the running turn."""


def _ms(seconds: float | None) -> str:
    return "–" if seconds is None else (f"{seconds * 1000:.0f}ms" if seconds < 10 else f"{seconds:.0f}s")


def _tokens(count: int) -> str:
    return f"{count / 1000:.1f}k" if count >= 1000 else str(count)


def _bytes(count: int) -> str:
    if count >= 1024 * 1024:
        return f"{count / 1024 / 1024:.1f}M"
    return f"{count / 1024:.1f}K" if count >= 1024 else f"{count}B"


def _dollars(amount: float | None) -> str:
    if amount is None:
        return "?"
    return f"${amount:,.2f}" if amount >= 1 else f"${amount:.4f}"


def turn_row(stats: TurnStats, cost: Cost | None = None) -> tuple[str, ...]:
    """One table row: the figures of a turn (and its cost, when priced)."""
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
        _bytes(stats.resent_bytes) if stats.resent_bytes else "–",
        stats.incremental,
        f"{stats.approval_wait_s:.1f}s" if stats.approval_wait_s else "–",
        _dollars(cost.charged) if cost is not None else "–",
    )


def legend_text() -> Text:
    """The columns explained, one per line."""
    return Text("\n".join(f"{column:>6}  {meaning}" for column, meaning in LEGEND.items()), style="dim")


def cost_text(cost: Cost) -> str:
    """`cost $0.1234   the cache saved $0.0567`, or why there is no cost."""
    if cost.charged is None:
        return "cost unknown (no prices for the model in the catalogue)"
    return f"cost {_dollars(cost.charged)}   the cache saved {_dollars(cost.saved)}"


def connection_text(session: SessionStats, live: Sequence[ResponseStats] = (), cost: Cost | None = None) -> Text:
    """Transport, socket age against the limit, reconnects and their causes, totals (the
    finished turns', the warm-up's and those of the running turn's `live` responses), and the
    session's `cost`."""
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
    if session.transport_switches:
        text.append(f"\ntransport switches {len(session.transport_switches)}")
    for switch in session.transport_switches[-4:]:
        moved = f"{switch.from_transport} → {switch.to_transport}{' for good' if switch.permanent else ''}"
        text.append(f"\n  {switch.at:.0f}s  {moved} ({switch.cause})", style="dim")
    ignored = session.ignored_events + sum(r.ignored_events for r in live)
    if ignored:  # repeats and leftovers the server sent; none of them ran anything
        text.append(f"\nignored server events {ignored}")
    if session.compactions or session.compaction.startswith("client"):
        text.append(f"\ncompaction {session.compaction}   compacted {session.compactions}×")
    text.append("\n\nSession\n", style="bold")
    input_tokens = session.input_tokens + sum(r.input_tokens for r in live)
    cached = session.cached_tokens + sum(r.cached_tokens for r in live)
    ratio = cached / input_tokens if input_tokens else 0.0
    sent = session.bytes_sent + session.warmup_bytes_sent + sum(r.bytes_sent for r in live)
    received = session.bytes_received + session.warmup_bytes_received + sum(r.bytes_received for r in live)
    resent = session.resent_bytes + sum(r.bytes_sent for r in live if r.resent)
    text.append(
        f"turns {session.turns}{' + 1 running' if live else ''}   responses {len(live)} this turn\n"
        f"sent {_bytes(sent)} (warm-up {_bytes(session.warmup_bytes_sent)}, resent {_bytes(resent)})   "
        f"received {_bytes(received)}\n"
        f"input {_tokens(input_tokens)}   cached {_tokens(cached)} ({ratio:.0%})   "
        f"output {_tokens(session.output_tokens + sum(r.output_tokens for r in live))}"
    )
    if cost is not None:
        text.append(f"\n{cost_text(cost)}")
    return text


class StatsPanel(VerticalScroll):
    """Shows every turn (the running one after each of its responses) and the connection."""

    def __init__(self) -> None:
        super().__init__(id="stats")
        self.turns: list[TurnStats] = []
        self.live: list[ResponseStats] = []
        """The responses of the running turn so far."""
        self._session: SessionStats | None = None
        self._turn_costs: list[Cost] = []
        """The cost of each of `turns` (priced once, when it is added)."""

    async def fill(self) -> None:
        """Mount the table, its legend, the sparklines and the connection. The app calls this
        right after its first frame: styling a table and sparklines is start-up time the first
        frame does not need (the panel is empty, or hidden, until then)."""
        if self.children:
            return
        from textual.widgets import DataTable, Sparkline

        table: DataTable[str] = DataTable(id="turns", zebra_stripes=True, cursor_type="row", show_cursor=False)
        table.add_columns(*COLUMNS)
        table.tooltip = legend_text()
        content: list[Widget] = [
            Static(Text("Turns", style="bold")),
            table,
            Static(legend_text(), id="legend"),
            Static(Text("Latency per turn (s)", style="dim")),
            Sparkline([], id="latency"),
            Static(Text("Cache ratio per turn", style="dim")),
            Sparkline([], id="cache"),
            Static(id="connection"),
        ]
        await self.mount_all(content)
        self._show()

    def _table(self) -> DataTable[str]:
        from textual.widgets import DataTable

        table: DataTable[str] = self.query_one("#turns", DataTable)
        return table

    def _sparkline(self, name: str) -> Sparkline:
        from textual.widgets import Sparkline

        return self.query_one(f"#{name}", Sparkline)

    def add_response(self, stats: ResponseStats, session: SessionStats | None = None) -> None:
        """A response of the running turn finished: its row and the totals show it at once."""
        self.live.append(stats)
        if session is not None:
            self._session = session
        self._show()

    def add_turn(self, stats: TurnStats) -> None:
        """A turn ended: its row replaces the running one."""
        self.live.clear()
        self.turns.append(stats)
        self._show()

    def show_session(self, session: SessionStats | None) -> None:
        """The connection and the totals (None: keep the last ones shown, e.g. in a replay)."""
        if session is not None:
            self._session = session
        self._show(turns=False)

    def clear(self) -> None:
        self.turns.clear()
        self._turn_costs.clear()
        self.live.clear()
        self._session = None
        self._show()

    def _show(self, *, turns: bool = True) -> None:
        """Bring the widgets up to date with `turns`, `live` and the session (once filled);
        `turns=False`: only the connection and totals."""
        if not self.children:
            return  # `fill` shows everything gathered so far
        if turns:
            self._show_turns()
        if self._session is not None:
            cost = self._price(self.live)
            for index in range(len(self.turns)):
                cost = cost + self._turn_cost(index)
            for shown in self.query("#connection").results(Static):  # none while the app shuts down
                shown.update(connection_text(self._session, self.live, cost))

    def _show_turns(self) -> None:
        table = self._table()
        if LIVE_ROW in table.rows:
            table.remove_row(LIVE_ROW)
        if table.row_count > len(self.turns):  # cleared
            table.clear()
        for index in range(table.row_count, len(self.turns)):
            table.add_row(*turn_row(self.turns[index], self._turn_cost(index)))
        if self.live:
            table.add_row(*self._live_row(), key=LIVE_ROW)
        self._sparkline("latency").data = [turn.total_s for turn in self.turns]
        self._sparkline("cache").data = [turn.cache_ratio for turn in self.turns]

    def _live_row(self) -> tuple[str, ...]:
        from agent.session import TurnStats

        running = TurnStats(
            turn=len(self.turns) + 1, responses=list(self.live), total_s=sum(r.total_s or 0.0 for r in self.live)
        )
        return (f"{running.turn}…", *turn_row(running, self._price(self.live))[1:])

    def _turn_cost(self, index: int) -> Cost:
        """The cost of `turns[index]`, priced the first time it is asked for."""
        while len(self._turn_costs) <= index:
            self._turn_costs.append(self._price(self.turns[len(self._turn_costs)].responses))
        return self._turn_costs[index]

    def _price(self, responses: Sequence[ResponseStats]) -> Cost:
        """What `responses` cost: with the live session's prices, else (a replay) with the
        catalogue's prices of the model each response names."""
        from agent.session import Session

        session: Session | None = getattr(self.app, "session", None)
        return session.cost_of(responses) if session is not None else Session.price(responses)
