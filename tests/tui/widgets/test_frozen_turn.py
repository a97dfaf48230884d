"""Frozen turns: ended turns beyond the latest few become data in one `FrozenHistory` widget,
keep what they showed, are stepped through by the block keys, hold their answer for a copy key,
and thaw back into live widgets."""

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
from tui.widgets.frozen_turn import FrozenHistory, FrozenTurn
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


def frozen_turns(app: RouterApp) -> list[FrozenTurn]:
    """Every frozen turn of the transcript, top to bottom."""
    return [turn for history in app.query(FrozenHistory) for turn in history.turns]


def drawn(history: FrozenHistory, frozen: FrozenTurn) -> str:
    """What `history` draws on the lines of `frozen`."""
    index = history.turns.index(frozen)
    start = sum(turn.height(history.size.width) for turn in history.turns[:index])
    region = history.region.reset_offset
    lines = history.render_lines(region)[start : start + frozen.height(history.size.width)]
    assert not any(CONTROLS.search(segment.text) for line in lines for segment in line)
    return "\n".join(line.text.rstrip() for line in lines)


async def test_ended_turns_beyond_the_latest_few_are_frozen_into_one_widget_each():
    app = RouterApp()
    async with app.run_test(size=(100, 200)) as pilot:
        for number in range(1, 6):
            for event in turn(number):
                await app.router.route(event)
        await pilot.pause()
        frozen = frozen_turns(app)
        assert len(frozen) == 5 - LIVE_TURNS
        assert transcript_kinds(app)[:1] == ["FrozenHistory"], "one widget holds every frozen turn"
        assert transcript_kinds(app).count("FrozenHistory") == 1
        assert [m.text for m in app.query(UserMessage)] == [f"prompt {n}" for n in range(6 - LIVE_TURNS, 6)]
        assert set(app.router.cards) == {f"call{n}" for n in range(6 - LIVE_TURNS, 6)}, "frozen cards are let go"
        first = frozen[0]
        assert first.text == "Answer **1**."
        history = app.query_one(FrozenHistory)
        shown = drawn(history, first)
        for words in ("prompt 1", "Reasoning", "shell", "test 1", "done", "approve once", "notice 1", "Answer 1."):
            assert words in shown, words
        assert history.can_focus
        history.focus()
        await pilot.pause()
        assert app.focused is history


async def test_a_frozen_turn_thaws_into_its_live_widgets_in_place():
    app = RouterApp()
    async with app.run_test(size=(100, 200)) as pilot:
        for number in range(1, 5):
            for event in turn(number):
                await app.router.route(event)
        await pilot.pause()
        assert len(frozen_turns(app)) == 1
        widgets = await app.query_one(FrozenHistory).thaw(0)
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
        assert not frozen_turns(app) and not app.query(FrozenHistory)
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
        await pilot.click(FrozenHistory)
        await pilot.pause()
        assert not app.query(FrozenHistory)
        assert [m.text for m in app.query(UserMessage)] == [f"prompt {n}" for n in range(1, 5)]


async def test_a_turn_with_an_approval_still_waiting_is_never_frozen():
    app = RouterApp()
    async with app.run_test(size=(100, 200)) as pilot:
        for number in range(1, 6):
            for event in turn(number, decided=number != 1):
                await app.router.route(event)
        await pilot.pause()
        assert len(frozen_turns(app)) == 1, "turn 2 froze, turn 1 waits"
        assert transcript_kinds(app)[0] == "UserMessage"
        assert any(card.pending for card in app.query(ApprovalCard))


async def test_history_is_drawn_frozen_but_for_the_latest_turns():
    app = RouterApp()
    async with app.run_test(size=(100, 200)) as pilot:
        history = [event for number in range(1, 8) for event in turn(number)]
        await app.router.route_history(history)
        await pilot.pause()
        frozen = frozen_turns(app)
        assert [f.text for f in frozen] == [f"Answer **{n}**." for n in range(1, 8 - LIVE_TURNS)]
        assert [m.text for m in app.query(UserMessage)] == [f"prompt {n}" for n in range(8 - LIVE_TURNS, 8)]
        assert transcript_kinds(app)[:1] == ["FrozenHistory"]
        assert len(app.query_one(Transcript).children) == 1 + LIVE_TURNS * 6
        history = app.query_one(FrozenHistory)
        width = history.size.width
        assert history.size.height == sum(len(turn.lines(history, width)) for turn in frozen), "the height is exact"
        assert "test 1" in drawn(history, frozen[0])


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
        history = app.query_one(FrozenHistory)
        shown = drawn(history, history.turns[0])
        assert "AB C link D E F ␇ H I J" in shown
        assert "PWNED" not in shown and "cm0gLXJmIH4" not in shown


async def test_a_resumed_long_session_shows_its_earlier_turns_frozen(make_app, tmp_path):
    from bench.sessions import write_v2

    path = write_v2(tmp_path / "saved", LIVE_TURNS + 2)
    app = make_app(HELLO)
    app.resume_path = path
    async with app.run_test(size=(120, 50)) as pilot:
        await wait_idle(app, pilot)
        frozen = frozen_turns(app)
        assert len(frozen) == 2
        assert [m.text.split(":")[0] for m in app.query(UserMessage)] == [f"Turn {n}" for n in range(3, 3 + LIVE_TURNS)]
        assert all(f.text for f in frozen)
        await app.query_one(FrozenHistory).thaw(0)
        await pilot.pause()
        assert app.query(UserMessage).first().text.startswith("Turn 1")


async def test_keys_copy_a_frozen_turn_and_enter_thaws_it(make_app, tmp_path):
    from bench.sessions import write_v2

    app = make_app(HELLO)
    app.resume_path = write_v2(tmp_path / "saved", LIVE_TURNS + 1)
    async with app.run_test(size=(120, 50)) as pilot:
        await wait_idle(app, pilot)
        [frozen] = frozen_turns(app)
        app.query_one(FrozenHistory).focus()
        await pilot.pause()
        await pilot.press("c")
        assert app.clipboard == frozen.text and frozen.text
        await pilot.press("enter")
        await pilot.pause()
        assert not frozen_turns(app)
        assert isinstance(app.focused, UserMessage) and app.focused.text.startswith("Turn 1")


async def test_turns_frozen_one_by_one_join_one_history_widget():
    app = RouterApp()
    async with app.run_test(size=(100, 60)) as pilot:
        for number in range(1, 9):
            for event in turn(number, approval=number % 2 == 0):
                await app.router.route(event)
        await pilot.pause()
        [history] = app.query(FrozenHistory)
        assert [t.text for t in history.turns] == [f"Answer **{n}**." for n in range(1, 9 - LIVE_TURNS)]
        assert len(app.query_one(Transcript).children) == 1 + sum(6 if n % 2 == 0 else 5 for n in range(6, 9))


async def test_thawing_a_turn_in_the_middle_splits_the_history_around_it():
    app = RouterApp()
    async with app.run_test(size=(100, 60)) as pilot:
        await app.router.route_history([event for number in range(1, 7) for event in turn(number, approval=False)])
        await pilot.pause()
        history = app.query_one(FrozenHistory)
        widgets = await history.thaw(1)
        await pilot.pause()
        kinds = transcript_kinds(app)
        assert kinds[:7] == ["FrozenHistory", *(type(w).__name__ for w in widgets), "FrozenHistory"]
        above, below = app.query(FrozenHistory)
        assert [t.text for t in above.turns] == ["Answer **1**."]
        assert [t.text for t in below.turns] == ["Answer **3**."]
        assert isinstance(widgets[0], UserMessage) and widgets[0].text == "prompt 2"


async def test_block_keys_step_through_frozen_turns_one_by_one(make_app, tmp_path):
    from bench.sessions import write_v2

    app = make_app(HELLO)
    app.resume_path = write_v2(tmp_path / "saved", LIVE_TURNS + 3)
    async with app.run_test(size=(120, 50)) as pilot:
        await wait_idle(app, pilot)
        history = app.query_one(FrozenHistory)
        texts = [t.text for t in history.turns]
        assert len(texts) == 3
        live_blocks = [child for child in app.query_one(Transcript).children if child.focusable][1:]
        await pilot.press("ctrl+up", *["up"] * len(live_blocks))
        await pilot.pause()
        assert app.focused is history and history.cursor == 2, "from below: the newest frozen turn"
        await pilot.press("c")
        assert app.clipboard == texts[2]
        await pilot.press("up", "up", "up")
        assert app.focused is history and history.cursor == 0, "clamped at the oldest turn"
        transcript = app.query_one(Transcript)
        top = history.virtual_region.y + history.cursor_region().y
        assert transcript.scroll_y <= top < transcript.scroll_y + transcript.scrollable_content_region.height, "in view"
        await pilot.press("c")
        assert app.clipboard == texts[0]
        await pilot.press("down")
        assert history.cursor == 1
        await pilot.press("down", "down")
        assert app.focused is live_blocks[0], "past the newest frozen turn: the next block"
        await pilot.press("up", "up", "enter")
        await pilot.pause()
        assert isinstance(app.focused, UserMessage) and app.focused.text.startswith("Turn 2")
        assert [t.text for h in app.query(FrozenHistory) for t in h.turns] == [texts[0], texts[2]]


async def frame_work(frozen_turns_before: int, monkeypatch) -> dict[str, int]:
    """How often a few frames of a streamed answer lay out a widget (`_get_box_model`, called by
    Textual once per widget a layout places) and ask a frozen turn for its height or lines, after
    `frozen_turns_before` earlier turns."""
    import gc

    from textual.widget import Widget

    from agent.events import TextDelta

    calls = {"box models": 0, "frozen turn heights": 0, "frozen turn lines": 0}

    def counted(name: str, original):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return original(*args, **kwargs)

        return wrapper

    app = RouterApp()
    async with app.run_test(size=(100, 40)) as pilot:
        total = frozen_turns_before + LIVE_TURNS
        await app.router.route_history([event for number in range(1, total + 1) for event in turn(number)])
        history = app.query_one(FrozenHistory)
        while any(history.size.width not in t.heights for t in history.turns):  # drawn a few per tick
            await pilot.pause(FrozenHistory.MEASURE_PAUSE_S)
        await app.router.route(TurnStarted(turn=total + 1, prompt="next"))
        await app.router.route(started())

        async def frame(number: int) -> None:
            await app.router.route(TextDelta(text=f"Paragraph {number}, one more line.\n\n"))
            assert app.router.answer is not None
            app.router.answer.draw_pending()
            await pilot.pause()

        await frame(0)  # the answer is mounted, the view settles at the bottom
        await frame(1)
        answer = app.router.answer
        monkeypatch.setattr(Widget, "_get_box_model", counted("box models", Widget._get_box_model))
        monkeypatch.setattr(FrozenTurn, "height", counted("frozen turn heights", FrozenTurn.height))
        monkeypatch.setattr(FrozenTurn, "lines", counted("frozen turn lines", FrozenTurn.lines))
        for number in range(2, 6):
            await frame(number)
        monkeypatch.undo()
        gc.unfreeze()  # what settling the heap froze: the test process collects it again
        assert answer is app.router.answer
        assert len(history.turns) == frozen_turns_before
    return calls


async def test_a_frame_does_the_same_work_after_10_or_200_frozen_turns(monkeypatch):
    few = await frame_work(10, monkeypatch)
    many = await frame_work(200, monkeypatch)
    assert few["box models"] > 0, "the frames did lay the transcript out"
    assert many == few, (few, many)


async def test_the_heap_is_settled_once_every_few_frozen_turns(monkeypatch):
    import tui.router

    settled: list[int] = []
    monkeypatch.setattr(tui.router, "settle_heap", lambda: settled.append(len(frozen_turns(app))))
    app = RouterApp()
    async with app.run_test(size=(100, 40)) as pilot:
        every = tui.router.SETTLE_EVERY_TURNS
        await app.router.route_history([e for n in range(1, every + LIVE_TURNS) for e in turn(n, approval=False)])
        await pilot.pause()
        assert settled == [], f"{every - 1} frozen turns: not yet"
        for event in turn(every + LIVE_TURNS, approval=False):
            await app.router.route(event)
        assert settled == [every]
        for number in range(every + LIVE_TURNS + 1, 2 * every + LIVE_TURNS + 1):
            for event in turn(number, approval=False):
                await app.router.route(event)
        assert settled == [every, 2 * every]


def test_settling_the_heap_keeps_collecting_what_becomes_garbage_later():
    import gc
    import weakref

    from tui.router import settle_heap

    class Node:
        pass

    try:
        first, second = Node(), Node()
        first.other, second.other = second, first  # type: ignore[attr-defined]  # a cycle
        alive = weakref.ref(first)
        settle_heap()
        assert gc.get_freeze_count() > 0
        del first, second
        settle_heap()
        assert alive() is None
    finally:
        gc.unfreeze()
