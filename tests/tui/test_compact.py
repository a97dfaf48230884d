"""Compaction in the app: `/compact` against a real `codeassist serve`, the transcript's marker
(live and replayed) and the status line's "compacting" state."""

from __future__ import annotations

from pathlib import Path

from agent.config import Settings
from agent.events import Compacted, CompactionStarted, TurnStarted
from tests.tui.conftest import SIZE, scenario, wait_idle
from tests.tui.test_app import send
from tests.tui.test_router import routed
from tui.app import CodeassistApp
from tui.router import compaction_marker
from tui.widgets.status_line import StatusLine
from tui.widgets.transcript import NoticeLine

TALK = scenario(
    {"output": [{"type": "message", "text": "First answer."}]},
    {"output": [{"type": "message", "text": "The user said hello; the assistant answered."}]},
    {"output": [{"type": "message", "text": "Later answer."}]},
    off_script_text="Off-script answer.",
)


def markers(app: CodeassistApp) -> list[str]:
    return [notice.message for notice in app.query(NoticeLine) if notice.message.startswith("⇲")]


async def test_slash_compact_compacts_shows_the_marker_and_the_next_turn_runs(make_app):
    app = make_app(TALK)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hello")
        await wait_idle(app, pilot)
        line = app.query_one(StatusLine)
        entered: list[str] = []
        original = line._enter

        def spy(state: str, *, keep: bool = False) -> None:
            entered.append(state)
            original(state, keep=keep)

        line._enter = spy  # type: ignore[method-assign]
        await send(pilot, "/compact the greeting")
        await wait_idle(app, pilot)
        assert "compacting" in entered and line.state == "idle"
        shown = markers(app)
        assert len(shown) == 1 and "context compacted on request" in shown[0] and "items" in shown[0]
        conversation = app.session.agent.conversation
        assert conversation.window_start == len(conversation.items)  # the next request resends the new window
        await send(pilot, "go on")
        await wait_idle(app, pilot)
        assert app.session.turns[-1].responses[-1].status == "completed"
        path = app.session.flush()
    assert path is not None

    replay = CodeassistApp(Settings(), Path(path).parent, replay=path, replay_speed=None)
    async with replay.run_test(size=SIZE) as pilot:
        await replay.workers.wait_for_complete()
        await pilot.pause(0.3)
        assert markers(replay) == shown  # replay draws the same marker


async def test_slash_compact_while_a_turn_runs_is_refused_and_without_history_says_nothing_to_do(make_app):
    app = make_app(TALK)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "/compact")
        await wait_idle(app, pilot)
        assert "Nothing to compact yet." in app.query(NoticeLine).last().message
        app.running = True
        await send(pilot, "/compact")
        await pilot.pause()
        assert "A turn is running" in app.query(NoticeLine).last().message
        app.running = False


async def test_the_router_draws_a_compaction_marker_with_tokens_before_and_after():
    event = Compacted(mode="auto", tokens_before=160_000, tokens_after=12_345, items_before=240, items_after=3)
    async with routed([TurnStarted(turn=1, prompt="p"), CompactionStarted(mode="auto"), event]) as app:
        notices = [notice.message for notice in app.query(NoticeLine)]
    assert notices == ["⇲ context compacted by the server: 160,000 → 12,345 tokens, 240 → 3 items"]
    unknown = Compacted(mode="manual", tokens_before=None, tokens_after=None, items_before=2, items_after=1)
    assert compaction_marker(unknown) == "⇲ context compacted on request: ? → ? tokens, 2 → 1 items"


async def test_a_compaction_between_old_turns_of_a_resumed_history_is_drawn():
    from agent.events import TurnEnded
    from agent.stats import TurnStats
    from tests.tui.test_router import answered

    def turn(number: int) -> list:
        return [
            TurnStarted(turn=number, prompt=f"p{number}"),
            *answered(f"a{number}"),
            TurnEnded(reason="completed", stats=TurnStats(turn=number)),
        ]

    marker = Compacted(mode="manual", tokens_before=900, tokens_after=90, items_before=4, items_after=2)
    history = [*turn(1), marker, *[event for number in range(2, 7) for event in turn(number)]]
    async with routed([]) as app:
        await app.router.route_history(history)
        notices = [notice.message for notice in app.query(NoticeLine)]
    assert notices == [compaction_marker(marker)]


async def test_the_status_line_says_compacting_inside_a_turn_then_goes_back_to_work():
    from textual.app import App, ComposeResult

    class LineApp(App[None]):
        def compose(self) -> ComposeResult:
            yield StatusLine(max_attempts=3, clock=lambda: 0.0)

    app = LineApp()
    async with app.run_test():
        line = app.query_one(StatusLine)
        line.observe(TurnStarted(turn=1, prompt="p"))
        line.observe(CompactionStarted(mode="auto"))
        assert line.state == "compacting" and "compacting the conversation" in line.describe(0.0).plain
        line.observe(Compacted(mode="auto", tokens_before=10, tokens_after=5, items_before=3, items_after=1))
        assert line.state == "working"
