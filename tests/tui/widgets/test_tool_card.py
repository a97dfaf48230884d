import json

from agent.plan import PLAN_GLYPHS, PLAN_STATUSES
from tui.widgets.tool_card import PLAN_STYLES, plan_text


def test_every_plan_status_has_a_style():
    assert set(PLAN_STYLES) == set(PLAN_STATUSES)


def test_the_copied_text_of_a_card_is_its_command_in_full_and_its_output():
    from agent.session import CallDescription
    from tui.widgets.tool_card import ToolCard

    command = "pytest -q tests/" + "x" * 200 + " && echo done"
    card = ToolCard("s", "shell")
    card.set_arguments(json.dumps({"command": command}), CallDescription("pytest -q tests/xxx…"))
    assert card.text == command
    card.finish("ok", "3 passed\n", 1.5, {"exit_code": 0})
    assert card.text == f"{command}\n\n3 passed\n"
    other = ToolCard("r", "read_file")
    other.set_arguments('{"path": "a.py"}', CallDescription("a.py"))
    assert other.text == "read_file a.py"


def test_plan_steps_are_styled_by_their_status():
    pending, in_progress, done = PLAN_STATUSES
    steps = [
        {"step": "read", "status": done},
        {"step": "edit", "status": in_progress},
        {"step": "test", "status": pending},
        {"step": "ship", "status": "unknown"},
    ]
    text = plan_text(steps)
    lines = text.split()
    assert [line.plain for line in lines] == [
        f"{PLAN_GLYPHS[done]} read",
        f"{PLAN_GLYPHS[in_progress]} edit",
        f"{PLAN_GLYPHS[pending]} test",
        f"{PLAN_GLYPHS[pending]} ship",
    ]
    styles = [str(line.spans[0].style) if line.spans else "" for line in lines]
    assert styles == ["dim strike", "bold", "", ""]


def test_timing_shows_the_run_time_only_for_a_call_that_ran_and_the_wait_only_when_asked():
    from tui.widgets.tool_card import timing_text

    assert timing_text("ok", 1.23, 8.0) == "ran 1.2s · waited 8.0s for approval"
    assert timing_text("error", 0.5, None) == "ran 0.5s"
    assert timing_text("denied", 0.0, 3.04) == "waited 3.0s for approval"
    assert timing_text("invalid", 0.0, None) == ""
    assert timing_text("running", None, 2.0) == "waited 2.0s for approval"


async def test_live_output_shows_while_running_stays_when_aborted_and_is_escaped():
    from textual.app import App, ComposeResult

    from tui.widgets.tool_card import ToolCard

    card = ToolCard("s", "shell")

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield card

    def drawn() -> str:
        from textual.geometry import Region

        width, height = card.size
        return "\n".join("".join(s.text for s in strip) for strip in card.render_lines(Region(0, 0, width, height)))

    async with One().run_test(size=(80, 20)) as pilot:
        card.set_status("running")
        card.show_live_output("one\ntwo \x1b]52;c;SGVsbG8=\x07\x1b[2J")
        await pilot.pause()
        assert "one" in drawn() and "two" in drawn()
        assert not any(ch in drawn() for ch in "\x1b\x07")
        card.finish("aborted", "aborted: …\n\nOutput before it was stopped:\none\ntwo", 1.0, None)
        await pilot.pause()
        assert "two" in drawn()
        card.finish("ok", "exit code 0\none\ntwo", 1.0, {"exit_code": 0})
        await pilot.pause()
        assert "two" not in drawn()


async def test_a_shell_result_whose_first_line_says_more_than_the_exit_code_keeps_it():
    from textual.app import App, ComposeResult

    from tui.widgets.tool_card import ToolCard

    card = ToolCard("s", "shell")

    class One(App[None]):
        def compose(self) -> ComposeResult:
            yield card

    async with One().run_test(size=(80, 20)) as pilot:
        card.finish("ok", "exit code 124 (timed out after 5s)\nhalf", 5.0, {"exit_code": 124})
        await pilot.pause()
        assert any("2 lines of output" in line for line in card_lines(card)), "a note beside the code stays"


def card_lines(card) -> list[str]:
    """The card's lines as drawn, trailing spaces removed."""
    from textual.geometry import Region

    width, height = card.size
    return ["".join(s.text for s in strip).rstrip() for strip in card.render_lines(Region(0, 0, width, height))]


async def test_a_call_without_arguments_has_no_gap_in_its_title():
    from agent.events import ToolCallReady, ToolCallStarted, TurnStarted
    from tests.tui.test_router import routed
    from tui.widgets.tool_card import ToolCard

    events = [
        TurnStarted(turn=1, prompt="shout"),
        ToolCallStarted(call_id="c1", name="mcp__tiny__shout"),
        ToolCallReady(call_id="c1", name="mcp__tiny__shout", arguments="{}"),
        ToolCallStarted(call_id="c2", name="mcp__tiny__greet"),
        ToolCallReady(call_id="c2", name="mcp__tiny__greet", arguments='{"name": "Ada"}'),
    ]
    async with routed(events) as app:
        shout, greet = app.query(ToolCard)
        assert card_lines(shout)[0].endswith("mcp__tiny__shout  ·  queued")
        assert "mcp__tiny__greet name='Ada'  ·  queued" in card_lines(greet)[0]


async def test_a_call_cancelled_while_it_waited_for_approval_shows_only_the_wait():
    from agent.events import (
        ApprovalDecided,
        ApprovalRequested,
        ToolCallReady,
        ToolCallStarted,
        ToolFinished,
        TurnStarted,
    )
    from agent.session import ApprovalRequest
    from tests.tui.test_router import routed
    from tui.widgets.tool_card import ToolCard

    request = ApprovalRequest(call_id="s", tool="shell", kind="command", summary="run: touch x", command="touch x")
    events = [
        TurnStarted(turn=1, prompt="go"),
        ToolCallStarted(call_id="s", name="shell"),
        ToolCallReady(call_id="s", name="shell", arguments='{"command": "touch x"}', final=True),
        ApprovalRequested(request=request),
        ApprovalDecided(call_id="s", decision="cancel", rule=None, reason=None, waited_s=4.6),
        ToolFinished(call_id="s", name="shell", status="aborted", output="aborted: the user cancelled", duration_s=0.0),
    ]
    async with routed(events) as app:
        title = card_lines(app.query_one(ToolCard))[0]
        assert title.endswith("shell touch x  ·  aborted  ·  waited 4.6s for approval"), title
        assert "ran" not in title


async def test_a_one_line_output_is_shown_as_it_is_and_a_longer_one_is_counted():
    from textual.app import App, ComposeResult

    from tui.widgets.tool_card import ToolCard, output_lines

    one, two, wide = ToolCard("w", "write_file"), ToolCard("s", "shell"), ToolCard("l", "shell")

    class Cards(App[None]):
        def compose(self) -> ComposeResult:
            yield from (one, two, wide)

    assert output_lines("exit code 0\nremoved\n") == "2 lines", "a final newline starts no line"
    async with Cards().run_test(size=(60, 20)) as pilot:
        one.finish("ok", "Wrote notes.txt (1 line)\n", 0.0, None)
        two.finish("ok", "exit code 0\nremoved\n", 0.1, {"exit_code": 0})
        wide.finish("ok", "x" * 200, 0.1, {"exit_code": 0})
        await pilot.pause()
        assert card_lines(one)[1:] == ["Wrote notes.txt (1 line)"]
        assert card_lines(two)[1:] == ["removed"], "the exit code is in the title: one line printed, shown"
        assert len(card_lines(wide)) == 2 and card_lines(wide)[1].endswith("…"), "one line, cut to the width"
        wide.toggle()
        await pilot.pause()
        assert len(card_lines(wide)) > 2, "expanded: the whole line"
