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


def test_a_collapsed_output_counts_its_lines_in_the_singular_too():
    from tui.widgets.tool_card import ToolCard, output_lines

    assert output_lines("Wrote notes.txt") == "1 line"
    assert output_lines("exit code 0\nremoved\n") == "2 lines", "a final newline starts no line"
    assert output_lines("\n") == "1 line"
    card = ToolCard("w", "write_file")
    card.finish("ok", "Wrote notes.txt (1 line)", 0.0, None)
    assert [part.plain for part in card.content.renderables][-1] == "1 line of output — Enter or click to expand"
