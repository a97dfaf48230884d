"""The event router on its own: events in, transcript widgets out (no agent, no server)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from textual.app import App, ComposeResult

from agent.events import (
    AgentEvent,
    MessageCompleted,
    OutputDiscarded,
    ReasoningDelta,
    Reconnecting,
    ResponseFinished,
    ResponseStarted,
    TextDelta,
    ToolCallReady,
    ToolCallStarted,
    ToolFinished,
    TurnEnded,
    TurnStarted,
)
from agent.stats import ResponseStats, TurnStats
from tui.router import EventRouter
from tui.widgets.stats_panel import StatsPanel
from tui.widgets.tool_card import ToolCard
from tui.widgets.transcript import AssistantMessage, NoticeLine, ReasoningBlock, Transcript, UserMessage

STATS = ResponseStats(
    response_id="resp_1",
    status="completed",
    transport="websocket",
    connection="reused",
    incremental=False,
    reason="first request",
    items_sent=1,
    bytes_sent=1,
    bytes_received=1,
    events=1,
    connect_s=None,
    created_s=None,
    first_token_s=None,
    total_s=None,
    stream_s=None,
)


class RouterApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Transcript()
        yield StatsPanel()

    def on_mount(self) -> None:
        self.router = EventRouter(self.query_one(Transcript), self.query_one(StatsPanel), session_stats=lambda: None)


def started(step: int = 1) -> ResponseStarted:
    return ResponseStarted(step=step, transport="websocket", incremental=False, reason="first request", items_sent=1)


def answered(text: str, step: int = 1) -> list[AgentEvent]:
    """A response that streams `text` in two deltas and completes."""
    half = len(text) // 2
    return [
        started(step),
        TextDelta(text=text[:half]),
        TextDelta(text=text[half:]),
        MessageCompleted(text=text),
        ResponseFinished(stats=STATS),
    ]


@asynccontextmanager
async def routed(events: list[AgentEvent]) -> AsyncIterator[RouterApp]:
    """A running app whose router has drawn `events`."""
    app = RouterApp()
    async with app.run_test() as pilot:
        for event in events:
            await app.router.route(event)
        await pilot.pause()
        yield app


def transcript_kinds(app: RouterApp) -> list[str]:
    return [type(widget).__name__ for widget in app.query_one(Transcript).children]


async def test_a_discarded_attempt_leaves_only_the_retried_answer_and_a_notice():
    first_turn = [TurnStarted(turn=1, prompt="one"), *answered("Earlier answer.")]
    call = ToolCallStarted(call_id="c1", name="list_files")
    abandoned = [
        TurnStarted(turn=2, prompt="two"),
        started(),
        ReasoningDelta(text="Thinking about "),
        TextDelta(text="The whole ans"),
        call,
        OutputDiscarded(cause="closed_1011"),
        Reconnecting(attempt=1, delay_s=0.3, cause="closed_1011"),
    ]
    retried = [
        started(),
        ReasoningDelta(text="Thinking about it."),
        TextDelta(text="The whole answer."),
        call,
        ToolCallReady(call_id="c1", name="list_files", arguments="{}"),
        MessageCompleted(text="The whole answer."),
        ResponseFinished(stats=STATS),
    ]
    async with routed([*first_turn, *abandoned, *retried]) as app:
        assert [m.text for m in app.query(AssistantMessage)] == ["Earlier answer.", "The whole answer."]
        assert [m.source for m in app.query(AssistantMessage)] == ["Earlier answer.", "The whole answer."]
        assert [r.text for r in app.query(ReasoningBlock)] == ["Thinking about it."]
        [card] = app.query(ToolCard)
        assert app.router.cards == {"c1": card} and card.arguments == "{}"
        notices = [n.message for n in app.query(NoticeLine)]
        assert notices[0] == "↺ connection lost — answer restarted"
        assert notices[1].startswith("↻ reconnecting (closed_1011)")
        assert transcript_kinds(app) == [
            "UserMessage",
            "AssistantMessage",
            "UserMessage",
            "NoticeLine",
            "NoticeLine",
            "ReasoningBlock",
            "AssistantMessage",
            "ToolCard",
        ]
        assert not any(m.has_class("-interrupted") for m in app.query(AssistantMessage))
        assert app.router.last_answer == "The whole answer."


async def test_a_discard_keeps_the_tool_cards_that_already_have_a_result():
    events = [
        TurnStarted(turn=1, prompt="go"),
        started(),
        ToolCallStarted(call_id="c1", name="list_files"),
        ToolFinished(call_id="c1", name="list_files", status="ok", output="a.py", duration_s=0.1),
        ToolCallStarted(call_id="c2", name="read_file"),
        OutputDiscarded(cause="transport changed"),
    ]
    async with routed(events) as app:
        assert [(c.call_id, c.status) for c in app.query(ToolCard)] == [("c1", "ok")]
        assert list(app.router.cards) == ["c1"]
        assert [n.message for n in app.query(NoticeLine)] == ["↺ transport changed — answer restarted"]


async def test_a_discard_before_anything_streamed_in_this_response_touches_nothing_earlier():
    async with routed([*answered("Kept."), started(2), OutputDiscarded(cause="server_error")]) as app:
        assert [m.text for m in app.query(AssistantMessage)] == ["Kept."]
        assert app.router.last_answer == "Kept."
        assert [n.message for n in app.query(NoticeLine)] == ["↺ attempt failed (server_error) — answer restarted"]


async def test_message_completed_makes_the_answer_hold_exactly_the_final_text():
    events = [
        started(),
        TextDelta(text="Hello wor"),
        MessageCompleted(text="Hello world."),
        ResponseFinished(stats=STATS),
        started(2),
        MessageCompleted(text="Only in the final item."),
        ResponseFinished(stats=STATS),
    ]
    async with routed(events) as app:
        assert [m.text for m in app.query(AssistantMessage)] == ["Hello world.", "Only in the final item."]
        assert [m.source for m in app.query(AssistantMessage)] == ["Hello world.", "Only in the final item."]
        assert app.router.last_answer == "Only in the final item."


async def test_message_completed_spanning_blocks_split_by_a_tool_call_changes_nothing():
    events = [
        started(),
        TextDelta(text="Looking. "),
        ToolCallStarted(call_id="c1", name="list_files"),
        TextDelta(text="Then more."),
        MessageCompleted(text="Looking. Then more."),
        ResponseFinished(stats=STATS),
    ]
    async with routed(events) as app:
        assert [m.text for m in app.query(AssistantMessage)] == ["Looking. ", "Then more."]
        assert transcript_kinds(app) == ["AssistantMessage", "ToolCard", "AssistantMessage"]
        assert app.router.last_answer == "Looking. Then more."


async def test_the_user_message_of_a_turn_is_never_discarded():
    async with routed([TurnStarted(turn=1, prompt="hi"), started(), OutputDiscarded(cause="closed_1000")]) as app:
        assert [m.text for m in app.query(UserMessage)] == ["hi"]


async def test_drawing_history_reports_the_end_of_its_last_turn_once():
    ended: list[TurnStats] = []
    turns = [
        event
        for number in (1, 2, 3)
        for event in (
            TurnStarted(turn=number, prompt=f"prompt {number}"),
            *answered(f"answer {number}"),
            TurnEnded(reason="completed", stats=TurnStats(turn=number, responses=[STATS])),
        )
    ]
    app = RouterApp()
    async with app.run_test() as pilot:
        app.router.on_turn_ended = ended.append
        await app.router.route_history(turns)
        await pilot.pause()
        assert [stats.turn for stats in ended] == [3]
        assert len(app.query_one(StatsPanel).turns) == 3
        await app.router.route(TurnStarted(turn=4, prompt="live"))
        await app.router.route(TurnEnded(reason="completed", stats=TurnStats(turn=4, responses=[STATS])))
        assert [stats.turn for stats in ended] == [3, 4]


async def test_the_card_shows_the_final_arguments_when_the_streamed_copy_differs():
    streamed = '{"command": "echo streamed"}'
    final = '{"command": "echo final"}'
    events = [
        TurnStarted(turn=1, prompt="run"),
        started(),
        ToolCallStarted(call_id="c1", name="shell"),
        ToolCallReady(call_id="c1", name="shell", arguments=streamed),
        ResponseFinished(stats=STATS),
        ToolCallReady(call_id="c1", name="shell", arguments=final, final=True),
    ]
    async with routed(events) as app:
        [card] = app.query(ToolCard)
        assert card.arguments == final and card.description is not None
        assert "echo final" in card.description.summary


async def test_cards_are_queued_until_their_call_runs_and_a_group_shows_running_together():
    calls = [ToolCallStarted(call_id=f"c{n}", name="read_file") for n in (1, 2, 3)]
    streamed = [ToolCallReady(call_id=f"c{n}", name="read_file", arguments='{"path": "a.py"}') for n in (1, 2, 3)]
    run = [
        ToolCallReady(call_id=f"c{n}", name="read_file", arguments='{"path": "a.py"}', final=True) for n in (1, 2, 3)
    ]
    async with routed([TurnStarted(turn=1, prompt="read"), started(), *calls, *streamed]) as app:
        assert [card.status for card in app.query(ToolCard)] == ["queued"] * 3
        for event in [ResponseFinished(stats=STATS), *run]:
            await app.router.route(event)
        assert [card.status for card in app.query(ToolCard)] == ["running"] * 3
        await app.router.route(ToolFinished(call_id="c2", name="read_file", status="ok", output="x", duration_s=0.1))
        assert [card.status for card in app.query(ToolCard)] == ["running", "ok", "running"]
