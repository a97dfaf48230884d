from agent.plan import PLAN_GLYPHS, PLAN_STATUSES
from tui.widgets.tool_card import PLAN_STYLES, plan_text


def test_every_plan_status_has_a_style():
    assert set(PLAN_STYLES) == set(PLAN_STATUSES)


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
