"""The status line through the real app against the scripted server: each state, its times on
the app's manual clock, hidden and timer-less while idle; live shell output in the tool card.

Assertions are on states and text, never on how long anything took."""

from __future__ import annotations

import sys

from agent.events import ToolFinished, ToolOutput
from agent.loop import PARTIAL_OUTPUT_HEADING
from agent.replay import history_events
from server.faults import Fault
from tests.tui.conftest import SIZE, ManualClock, call, scenario, until, wait_idle
from tests.tui.test_app import send
from tui.app import CodeassistApp
from tui.widgets.approval import ApprovalCard
from tui.widgets.status_line import StatusLine
from tui.widgets.tool_card import ToolCard

PRINTS_THEN_WAITS = "echo one; echo two; sleep 60"


def shell(command: str, call_id: str = "s") -> dict:
    return call("shell", call_id, command=command, timeout_s=None, workdir=None)


def status(app: CodeassistApp) -> StatusLine:
    return app.query_one(StatusLine)


def shown(app: CodeassistApp) -> str:
    line = status(app)
    return line.describe(line._now()).plain if line.state != "idle" else ""


def lines_on_screen(widget) -> list[str]:
    """The widget's lines as drawn, without the border at their left."""
    from textual.geometry import Region

    width, height = widget.size
    strips = widget.render_lines(Region(0, 0, width, height))
    return ["".join(seg.text for seg in strip).strip().lstrip("▎▍▌▋▊▉█ ") for strip in strips]


def shows_in_order(widget, *wanted: str) -> bool:
    lines = lines_on_screen(widget)
    return any(lines[i : i + len(wanted)] == list(wanted) for i in range(len(lines)))


async def follow_states(app: CodeassistApp, pilot) -> list[str]:
    """Every state the status line enters, in order (the real router still feeds it)."""
    await until(pilot, lambda: app.router is not None)
    line, states = status(app), []
    observe = line.observe

    def recording(event) -> None:
        observe(event)
        if not states or states[-1] != line.state:
            states.append(line.state)

    app.router.observer = recording
    return states


async def test_idle_the_line_is_hidden_and_its_timer_stopped(make_app):
    app = make_app(scenario({"output": [{"type": "message", "text": "Hello."}]}))
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.router is not None)
        assert not status(app).display and not status(app).animating
        states = await follow_states(app, pilot)
        await send(pilot, "hi")
        await wait_idle(app, pilot)
        assert states[:3] == ["connecting", "waiting", "answer"]
        assert states[-1] == "idle"
        assert not status(app).display and not status(app).animating
        assert str(status(app).render()) == ""


async def test_waiting_for_the_first_token_then_esc_goes_idle(make_app):
    scene = scenario({"output": [{"type": "message", "text": "never sent"}], "fault": {"kind": "stall"}})
    app = make_app(scene, idle_timeout_s=60.0)
    app.clock = clock = ManualClock().freeze()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hi")
        await until(pilot, lambda: status(app).state == "waiting")
        assert status(app).display and status(app).animating
        clock.advance(4)
        await pilot.pause(0.2)
        assert shown(app).endswith("waiting for the first token  ·  turn 4s  ·  Esc to interrupt")
        await pilot.press("escape")
        await wait_idle(app, pilot)
        assert status(app).state == "idle" and not status(app).animating and not status(app).display


async def test_streaming_the_answer(make_app):
    scene = scenario(
        {
            "output": [{"type": "message", "text": "one two three four five six"}],
            "fault": {"kind": "stall", "after_events": 6},
        },
        tokens_per_second=200,
    )
    app = make_app(scene, idle_timeout_s=60.0)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hi")
        await until(pilot, lambda: status(app).state == "answer")
        assert "streaming the answer" in shown(app)
        await pilot.press("escape")
        await wait_idle(app, pilot)


async def test_reconnecting_counts_attempts_against_the_configured_maximum(make_app):
    app = make_app(scenario({"output": [{"type": "message", "text": "hi"}]}), max_retries=4)
    app.server.state.faults.add(Fault(kind="reject_upgrade", status=503, retry_after=60, times=0))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hi")
        await until(pilot, lambda: status(app).state == "reconnecting")
        assert "reconnecting 1/4" in shown(app)
        await pilot.press("escape")
        await wait_idle(app, pilot)
        assert status(app).state == "idle"


async def test_after_a_reconnect_the_line_says_which_retry_waits_for_its_first_token(make_app):
    app = make_app(scenario({"output": [{"type": "message", "text": "hi"}]}), max_retries=4, idle_timeout_s=60.0)
    app.server.state.faults.add(Fault(kind="close", times=1))
    app.server.state.faults.add(Fault(kind="stall", times=0))
    async with app.run_test(size=SIZE) as pilot:
        states = await follow_states(app, pilot)
        await send(pilot, "hi")
        await until(pilot, lambda: status(app).state == "waiting" and status(app).attempt == 1)
        assert states[:4] == ["connecting", "waiting", "reconnecting", "waiting"]
        assert "waiting for the first token · retry 1/4" in shown(app)
        await pilot.press("escape")
        await wait_idle(app, pilot)


async def test_a_turn_waiting_for_the_mcp_servers_says_so_until_esc(make_app):
    slow = {"command": sys.executable, "args": ["-c", "import time; time.sleep(600)"], "start_timeout_s": 600}
    app = make_app(scenario({"output": [{"type": "message", "text": "never asked"}]}), mcp_servers={"slow": slow})
    app.clock = clock = ManualClock().freeze()
    async with app.run_test(size=SIZE) as pilot:
        states = await follow_states(app, pilot)
        await send(pilot, "hi")
        await until(pilot, lambda: status(app).state == "mcp")
        assert states == ["connecting", "mcp"]
        clock.advance(3)
        await pilot.pause(0.2)
        assert shown(app).endswith("waiting for the MCP servers to start  ·  turn 3s  ·  Esc to interrupt")
        await pilot.press("escape")
        await wait_idle(app, pilot)
        assert status(app).state == "idle"
        assert not list(app.server.state.received), "nothing was asked of the model"


async def test_waiting_for_approval_names_the_keys_then_the_tool_runs(make_app):
    app = make_app(scenario({"output": [shell("echo approved")]}, {"output": [{"type": "message", "text": "ok"}]}))
    async with app.run_test(size=SIZE) as pilot:
        states = await follow_states(app, pilot)
        await send(pilot, "run it")
        await until(pilot, lambda: bool(app.query(ApprovalCard)))
        assert status(app).state == "approval"
        assert "waiting for your approval (y/a/n, Ctrl+G for the card)" in shown(app)
        await pilot.press("y")
        await wait_idle(app, pilot)
        assert states[states.index("approval") + 1] == "tool"
        assert states[-1] == "idle"


async def test_a_running_command_shows_its_elapsed_time_and_its_output_in_the_card(make_app, tmp_path):
    app = make_app(scenario({"output": [shell(PRINTS_THEN_WAITS)]}), approval="full-auto")
    app.clock = clock = ManualClock().freeze()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "run it")
        await until(pilot, lambda: bool(app.query(ToolCard)) and "two" in app.query_one(ToolCard).live_output)
        card = app.query_one(ToolCard)
        assert card.live_output.splitlines() == ["one", "two"]
        assert status(app).state == "tool"
        clock.advance(3)
        await pilot.pause(0.2)
        assert shown(app).endswith(f"running shell {PRINTS_THEN_WAITS} · 3s  ·  turn 3s  ·  Esc to interrupt")
        assert shows_in_order(card, "one", "two"), lines_on_screen(card)

        await pilot.press("escape")  # the output gathered so far stays, on screen and on record
        await wait_idle(app, pilot)
        assert card.status == "aborted"
        assert card.live_output.splitlines() == ["one", "two"]
        assert shows_in_order(card, "one", "two"), lines_on_screen(card)
        assert card.output.split(PARTIAL_OUTPUT_HEADING, 1)[1].split() == ["one", "two"]
        recorded = history_events(app.session.log_path)
        finished = next(e for e in recorded if isinstance(e, ToolFinished))
        assert finished.status == "aborted" and finished.output == card.output
        assert any(isinstance(e, ToolOutput) and "two" in e.text for e in recorded)
        assert not status(app).animating


async def test_a_replayed_command_shows_its_recorded_output_and_no_status(make_app, tmp_path):
    app = make_app(scenario({"output": [shell(PRINTS_THEN_WAITS)]}), approval="full-auto")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "run it")
        await until(pilot, lambda: bool(app.query(ToolCard)) and "two" in app.query_one(ToolCard).live_output)
        await pilot.press("escape")
        await wait_idle(app, pilot)
        path = app.session.log_path

    replay = CodeassistApp(app.settings, tmp_path, replay=path, replay_speed=None)
    async with replay.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: bool(replay.query(ToolCard)) and replay.query_one(ToolCard).status == "aborted")
        await replay.workers.wait_for_complete()
        assert replay.query_one(ToolCard).live_output.splitlines() == ["one", "two"]
        assert not status(replay).display and not status(replay).animating
