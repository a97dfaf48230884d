"""Frozen turns: ended turns beyond the latest few become one widget each, keep what they showed,
take the focus, hold their answer for a copy key, and thaw back into live widgets."""

from __future__ import annotations

from agent.events import (
    AgentEvent,
    ApprovalDecided,
    ApprovalRequested,
    Notice,
    ReasoningDelta,
    ToolCallReady,
    ToolCallStarted,
    ToolFinished,
    TurnEnded,
    TurnStarted,
)
from agent.session import ApprovalRequest
from agent.stats import TurnStats
from tests.hostile import CONTROLS, HOSTILE
from tests.tui.conftest import wait_idle
from tests.tui.test_app import HELLO
from tests.tui.test_router import STATS, RouterApp, answered, started, transcript_kinds
from tui.router import LIVE_TURNS
from tui.widgets.approval import ApprovalCard
from tui.widgets.frozen_turn import FrozenTurn
from tui.widgets.tool_card import ToolCard
from tui.widgets.transcript import AssistantMessage, ReasoningBlock, Transcript, UserMessage


def turn(number: int, *, approval: bool = True, decided: bool = True) -> list[AgentEvent]:
    """A turn with reasoning, an approved tool call with its card, a notice and an answer."""
    call_id = f"call{number}"
    request = ApprovalRequest(call_id=call_id, tool="shell", kind="command", summary=f"run: test {number}")
    events: list[AgentEvent] = [
        TurnStarted(turn=number, prompt=f"prompt {number}"),
        started(),
        ReasoningDelta(text=f"Thinking about {number}."),
        ToolCallStarted(call_id=call_id, name="shell"),
        ToolCallReady(call_id=call_id, name="shell", arguments=f'{{"command": "test {number}"}}'),
    ]
    if approval:
        events.append(ApprovalRequested(request=request))
        if decided:
            events.append(ApprovalDecided(call_id=call_id, decision="approve_once", rule=None, reason=None, waited_s=0))
    events += [
        ToolFinished(call_id=call_id, name="shell", status="ok", output=f"output {number}\n", duration_s=0.5),
        Notice(message=f"notice {number}"),
        *answered(f"Answer **{number}**."),
        TurnEnded(reason="completed", stats=TurnStats(turn=number, responses=[STATS])),
    ]
    return events


def drawn(frozen: FrozenTurn) -> str:
    lines = frozen.render_lines(frozen.region.reset_offset)
    assert not any(CONTROLS.search(segment.text) for line in lines for segment in line)
    return "\n".join(line.text.rstrip() for line in lines)


async def test_ended_turns_beyond_the_latest_few_are_frozen_into_one_widget_each():
    app = RouterApp()
    async with app.run_test(size=(100, 200)) as pilot:
        for number in range(1, 6):
            for event in turn(number):
                await app.router.route(event)
        await pilot.pause()
        frozen = list(app.query(FrozenTurn))
        assert len(frozen) == 5 - LIVE_TURNS
        assert transcript_kinds(app)[: len(frozen)] == ["FrozenTurn"] * len(frozen)
        assert [m.text for m in app.query(UserMessage)] == [f"prompt {n}" for n in range(6 - LIVE_TURNS, 6)]
        assert set(app.router.cards) == {f"call{n}" for n in range(6 - LIVE_TURNS, 6)}, "frozen cards are let go"
        first = frozen[0]
        assert first.text == "Answer **1**."
        shown = drawn(first)
        for words in ("prompt 1", "Reasoning", "shell", "test 1", "done", "approve once", "notice 1", "Answer 1."):
            assert words in shown, words
        assert first.can_focus
        first.focus()
        await pilot.pause()
        assert app.focused is first


async def test_a_frozen_turn_thaws_into_its_live_widgets_in_place():
    app = RouterApp()
    async with app.run_test(size=(100, 200)) as pilot:
        for number in range(1, 5):
            for event in turn(number):
                await app.router.route(event)
        await pilot.pause()
        [frozen] = app.query(FrozenTurn)
        widgets = await frozen.thaw()
        await pilot.pause()
        assert [type(widget).__name__ for widget in widgets] == [
            "UserMessage",
            "ReasoningBlock",
            "ToolCard",
            "ApprovalCard",
            "NoticeLine",
            "AssistantMessage",
        ]
        assert list(app.query_one(Transcript).children)[:6] == widgets, "in place of the frozen turn"
        assert not app.query(FrozenTurn)
        card = app.query(ToolCard).first()
        assert (card.call_id, card.status, card.output, card.arguments) == (
            "call1",
            "ok",
            "output 1\n",
            '{"command": "test 1"}',
        )
        approval = app.query(ApprovalCard).first()
        assert approval.decided == "approve_once" and not approval.pending
        answer = app.query(AssistantMessage).first()
        assert answer.text == "Answer **1**." and answer.painted_chars == len(answer.source)
        assert app.query(ReasoningBlock).first().collapsed


async def test_a_click_thaws_a_frozen_turn():
    app = RouterApp()
    async with app.run_test(size=(100, 200)) as pilot:
        for number in range(1, 5):
            for event in turn(number, approval=False):
                await app.router.route(event)
        await pilot.pause()
        await pilot.click(FrozenTurn)
        await pilot.pause()
        assert not app.query(FrozenTurn)
        assert [m.text for m in app.query(UserMessage)] == [f"prompt {n}" for n in range(1, 5)]


async def test_a_turn_with_an_approval_still_waiting_is_never_frozen():
    app = RouterApp()
    async with app.run_test(size=(100, 200)) as pilot:
        for number in range(1, 6):
            for event in turn(number, decided=number != 1):
                await app.router.route(event)
        await pilot.pause()
        assert len(app.query(FrozenTurn)) == 1, "turn 2 froze, turn 1 waits"
        assert transcript_kinds(app)[0] == "UserMessage"
        assert any(card.pending for card in app.query(ApprovalCard))


async def test_history_is_drawn_frozen_but_for_the_latest_turns():
    app = RouterApp()
    async with app.run_test(size=(100, 200)) as pilot:
        history = [event for number in range(1, 8) for event in turn(number)]
        await app.router.route_history(history)
        await pilot.pause()
        frozen = list(app.query(FrozenTurn))
        assert [f.text for f in frozen] == [f"Answer **{n}**." for n in range(1, 8 - LIVE_TURNS)]
        assert [m.text for m in app.query(UserMessage)] == [f"prompt {n}" for n in range(8 - LIVE_TURNS, 8)]
        assert transcript_kinds(app)[: len(frozen)] == ["FrozenTurn"] * len(frozen)
        assert len(app.query_one(Transcript).children) == len(frozen) + LIVE_TURNS * 6
        for frozen_turn in frozen:
            assert frozen_turn.size.height == len(frozen_turn._draw(frozen_turn.size.width)), "the height is exact"
        assert "test 1" in drawn(frozen[0])


async def test_hostile_text_in_a_frozen_turn_draws_no_control_characters():
    app = RouterApp()
    async with app.run_test(size=(200, 200)) as pilot:
        hostile_turn = [
            TurnStarted(turn=1, prompt="go " + HOSTILE),
            *answered("Answer " + HOSTILE),
            Notice(message="notice " + HOSTILE),
            TurnEnded(reason="completed", stats=TurnStats(turn=1, responses=[STATS])),
        ]
        await app.router.route_history([*hostile_turn, *[e for n in range(2, 6) for e in turn(n)]])
        await pilot.pause()
        shown = drawn(app.query(FrozenTurn).first())
        assert "AB C link D E F ␇ H I J" in shown
        assert "PWNED" not in shown and "cm0gLXJmIH4" not in shown


async def test_a_resumed_long_session_shows_its_earlier_turns_frozen(make_app, tmp_path):
    from bench.sessions import write_v2

    path = write_v2(tmp_path / "saved", LIVE_TURNS + 2)
    app = make_app(HELLO)
    app.resume_path = path
    async with app.run_test(size=(120, 50)) as pilot:
        await wait_idle(app, pilot)
        frozen = list(app.query(FrozenTurn))
        assert len(frozen) == 2
        assert [m.text.split(":")[0] for m in app.query(UserMessage)] == [f"Turn {n}" for n in range(3, 3 + LIVE_TURNS)]
        assert all(f.text for f in frozen)
        await frozen[0].thaw()
        await pilot.pause()
        assert app.query(UserMessage).first().text.startswith("Turn 1")


async def test_keys_copy_a_frozen_turn_and_enter_thaws_it(make_app, tmp_path):
    from bench.sessions import write_v2

    app = make_app(HELLO)
    app.resume_path = write_v2(tmp_path / "saved", LIVE_TURNS + 1)
    async with app.run_test(size=(120, 50)) as pilot:
        await wait_idle(app, pilot)
        frozen = app.query_one(FrozenTurn)
        frozen.focus()
        await pilot.pause()
        await pilot.press("c")
        assert app.clipboard == frozen.text and frozen.text
        await pilot.press("enter")
        await pilot.pause()
        assert not app.query(FrozenTurn)
        assert isinstance(app.focused, UserMessage) and app.focused.text.startswith("Turn 1")
