"""Focus-safe approvals and keyboard scrolling from the prompt (Pilot, against a real server).

The grace periods run on the app's clock, a `ManualClock` here: frozen where a test is about
what happens "just after" something, so no test depends on how fast the machine is.
"""

from __future__ import annotations

import pytest

from tests.tui.conftest import SIZE, call, scenario, until, wait_idle
from tests.tui.test_app import EDIT, send
from tui.app import CodeassistApp
from tui.widgets.approval import GRACE_S, REACH_HINT, ApprovalCard
from tui.widgets.prompt import PromptInput
from tui.widgets.stats_panel import StatsPanel
from tui.widgets.status_line import StatusLine
from tui.widgets.transcript import NoticeLine, Transcript

DENIED = scenario(
    {"output": [call("read_file", "r", path="a.py", offset=None, limit=None)]},
    {"output": [call("edit_file", "e", path="a.py", old="hello", new="bye", replace_all=None)]},
    {
        "expect": [{"type": "function_call_output", "call_id": "e", "contains": "not now"}],
        "output": [{"type": "message", "text": "Understood."}],
    },
)

TOUCH = scenario(
    {"output": [call("shell", "s", command="touch made.txt", timeout_s=None, workdir=None)]},
    {"output": [{"type": "message", "text": "Made it."}]},
)
PATCH_THEN_ECHO = "apply_patch <<'EOF'\n*** Begin Patch\n*** Add File: b.txt\n+hi\n*** End Patch\nEOF\necho done"
"""A shell command chained after an apply_patch heredoc: no rule may approve it, so no `a`."""
CHAINED = scenario(
    {"output": [call("shell", "s1", command=PATCH_THEN_ECHO, timeout_s=None, workdir=None)]},
    {"output": [{"type": "message", "text": "Ran it."}]},
    {"output": [call("shell", "s2", command=PATCH_THEN_ECHO, timeout_s=None, workdir=None)]},
    {"output": [{"type": "message", "text": "Ran it again."}]},
)


async def until_card(pilot, *, typing: str = "") -> ApprovalCard:
    """Wait for the approval card; with `typing`, keep typing it into the prompt meanwhile."""
    app = pilot.app
    for _ in range(200):
        if app.query(ApprovalCard):
            return app.query_one(ApprovalCard)
        if typing:
            await pilot.press(*typing)
        else:
            await pilot.pause(0.05)
    raise AssertionError("no approval card appeared")


def hint(card: ApprovalCard) -> str:
    return str(card.query_one("#approval-hint").render())


async def test_typing_actually_while_the_card_appears_never_approves(make_app, repo):
    """The accident: "actually" typed into the prompt as the card appears. Its `y` (and `a`)
    stay in the prompt; the card waits unfocused, says Ctrl+G reaches it, and Ctrl+G does."""
    app = make_app(EDIT)
    app.clock.freeze()
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one(PromptInput)
        await send(pilot, "change it")
        card = await until_card(pilot, typing="actually ")
        await pilot.pause()
        await pilot.press(*"actually")
        await pilot.pause(0.2)
        assert card.decided is None and not card.has_focus
        assert app.focused is prompt and prompt.text.endswith("actually")
        assert (repo / "a.py").read_text() == "print('hello')\n"
        assert REACH_HINT in hint(card)
        assert app.check_action("focus_approval", ()), "the footer offers Ctrl+G"

        app.clock.advance(60)  # long after: the prompt still holds text, so `y` is still text
        await pilot.press("y")
        assert prompt.text.endswith("actuallyy") and card.decided is None

        await pilot.press("ctrl+g")
        await pilot.pause()
        assert card.has_focus and REACH_HINT not in hint(card)
        await pilot.press("y")
        await wait_idle(app, pilot)
        assert card.decided == "approve_once"
        assert (repo / "a.py").read_text() == "print('bye')\n"
        assert app.focused is prompt and prompt.text.endswith("actuallyy"), "the typing is kept"


async def test_an_empty_prompt_just_typed_in_keeps_the_keys(make_app, repo):
    """The prompt was sent a moment ago (Enter was typed): the card waits unfocused and a `y`
    right after is text; once the typing is a second old and the prompt empty, `y` approves."""
    app = make_app(EDIT)
    app.clock.freeze()
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one(PromptInput)
        await send(pilot, "change it")
        card = await until_card(pilot)
        await pilot.pause(0.1)
        assert app.focused is prompt and not card.has_focus
        await pilot.press("y")
        assert prompt.text == "y" and card.decided is None
        await pilot.press("backspace")
        app.clock.advance(0.5)
        await pilot.press("y")  # the backspace was typed half a second ago
        assert prompt.text == "y" and card.decided is None
        await pilot.press("backspace")
        app.clock.advance(1.5)
        await pilot.press("y")
        await wait_idle(app, pilot)
        assert prompt.text == "" and card.decided == "approve_once"
        assert (repo / "a.py").read_text() == "print('bye')\n"


async def test_y_approves_from_an_empty_prompt_whatever_was_clicked_before(make_app, repo):
    app = make_app(EDIT)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "change it")
        card = await until_card(pilot)
        await pilot.click(Transcript)
        await pilot.pause()
        assert not card.has_focus
        await pilot.press("y")
        await wait_idle(app, pilot)
        assert card.decided == "approve_once"
        assert (repo / "a.py").read_text() == "print('bye')\n"
        assert app.focused is app.query_one(PromptInput)
        await pilot.press("ctrl+up", "up", "up", "up")  # walking the transcript's blocks
        await pilot.pause()
        assert not card.focusable and not card.has_focus, "an answered card takes no keys"


async def test_a_approves_always_from_an_empty_prompt(make_app, repo):
    app = make_app(EDIT)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "change it")
        card = await until_card(pilot)
        app.query_one(PromptInput).focus()
        await pilot.pause()
        await pilot.press("a")
        await wait_idle(app, pilot)
        assert card.decided == "approve_always"
        assert "edit_file" in app.session.agent.approvals.rules
        assert app.query_one(PromptInput).text == ""


async def test_n_denies_from_an_empty_prompt_with_a_reason(make_app, repo):
    app = make_app(DENIED)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "change it")
        card = await until_card(pilot)
        prompt = app.query_one(PromptInput)
        prompt.focus()
        await pilot.pause()
        await pilot.press("n")
        await pilot.pause()
        assert app.focused is card.query_one("#deny-reason"), "the reason is typed into the card"
        await pilot.press(*"not now", "enter")  # its `n` and `a` are the reason's, not answers
        await wait_idle(app, pilot)
        assert card.decided == "deny" and prompt.text == ""
        assert (repo / "a.py").read_text() == "print('hello')\n"


async def test_a_focused_card_ignores_keys_during_its_grace_period(make_app, repo):
    app = make_app(EDIT)
    app.clock.freeze()
    async with app.run_test(size=SIZE) as pilot:
        app.submit("change it")  # nothing typed: the card takes the focus when it appears
        card = await until_card(pilot)
        await pilot.pause(0.1)
        assert card.has_focus
        await pilot.press("y", "a", "n")
        await pilot.pause(0.2)
        assert card.decided is None and card.has_focus
        assert not card.query_one("#deny-reason").display
        assert (repo / "a.py").read_text() == "print('hello')\n"
        app.clock.advance(GRACE_S)
        await pilot.press("y")
        await wait_idle(app, pilot)
        assert card.decided == "approve_once"
        assert (repo / "a.py").read_text() == "print('bye')\n"


LONG = scenario(
    {"output": [{"type": "message", "text": "\n\n".join(f"Paragraph {n}." for n in range(80))}]},
    {"output": [{"type": "message", "text": "Short."}]},
)


async def test_page_and_home_end_keys_scroll_the_transcript_from_the_prompt(make_app):
    app = make_app(LONG)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "talk")
        await wait_idle(app, pilot)
        transcript = app.query_one(Transcript)
        prompt = app.query_one(PromptInput)
        bottom = transcript.max_scroll_y
        assert bottom > 0 and transcript.scroll_y == bottom
        assert app.focused is prompt

        await pilot.press("pageup")
        await pilot.pause()
        assert 0 < transcript.scroll_y < bottom
        up = transcript.scroll_y
        await pilot.press("pageup")
        await pilot.pause()
        assert transcript.scroll_y < up
        await pilot.press("pagedown")
        await pilot.pause()
        assert transcript.scroll_y == up
        await pilot.press("home")
        await pilot.pause()
        assert transcript.scroll_y == 0
        await pilot.press("end")
        await pilot.pause()
        assert transcript.scroll_y == bottom

        # With text in the prompt, Home/End edit it; Ctrl+Home/Ctrl+End still scroll.
        await pilot.press(*"abc")
        await pilot.press("home")
        assert prompt.cursor_location == (0, 0) and transcript.scroll_y == bottom
        await pilot.press("end")
        assert prompt.cursor_location == (0, 3)
        await pilot.press("ctrl+home")
        await pilot.pause()
        assert transcript.scroll_y == 0 and prompt.text == "abc"
        await pilot.press("ctrl+end")
        await pilot.pause()
        assert transcript.scroll_y == bottom and app.focused is prompt


async def test_sending_a_prompt_or_a_slash_command_jumps_to_the_bottom(make_app):
    app = make_app(LONG)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "talk")
        await wait_idle(app, pilot)
        transcript = app.query_one(Transcript)
        transcript.scroll_home(animate=False)
        await pilot.pause()
        assert transcript.scroll_y == 0

        await send(pilot, "/help")
        await pilot.pause(0.3)
        assert "/approval" in app.query(NoticeLine).last().message
        assert transcript.scroll_y == transcript.max_scroll_y > 0

        transcript.scroll_home(animate=False)
        await pilot.pause()
        await send(pilot, "more")
        await wait_idle(app, pilot)
        assert app.query(NoticeLine).last() is not None
        assert transcript.scroll_y == transcript.max_scroll_y


@pytest.mark.parametrize("key", ["pageup", "ctrl+b"])
async def test_scrolling_or_hiding_the_panel_is_not_typing_so_y_then_answers_the_card(make_app, repo, key):
    """The card appeared just after the prompt was sent (it waits unfocused); two seconds later
    the user scrolls the transcript (or hides the side panel) to read, then presses `y` at once."""
    app = make_app(TOUCH)
    app.clock.freeze()
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one(PromptInput)
        panel = app.query_one(StatsPanel)
        hidden = panel.has_class("-hidden")
        await send(pilot, "make the file")
        card = await until_card(pilot)
        await pilot.pause(0.1)
        assert not card.has_focus, "Enter was typed a moment ago"
        app.clock.advance(2.0)
        await pilot.press(key)
        await pilot.press("y")
        await pilot.pause()
        assert prompt.text == "" and card.decided == "approve_once"
        await wait_idle(app, pilot)
        assert (repo / "made.txt").exists()
        if key == "ctrl+b":
            assert panel.has_class("-hidden") != hidden


def status_text(app: CodeassistApp) -> str:
    line = app.query_one(StatusLine)
    return line.describe(line._now()).plain


async def test_a_card_without_approve_always_says_y_n_and_a_is_not_typed(make_app, repo):
    app = make_app(CHAINED)
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one(PromptInput)
        await send(pilot, "patch it")
        card = await until_card(pilot)
        assert card.request.rule_key is None
        prompt.focus()
        await pilot.pause()
        assert "waiting for your approval (y/n, Ctrl+G for the card)" in status_text(app)
        await pilot.press("a")
        await pilot.pause()
        assert prompt.text == "" and card.decided is None, "`a` is neither typed nor an answer"
        await pilot.press("y")
        await pilot.pause()
        assert card.decided == "approve_once" and prompt.text == ""
        await wait_idle(app, pilot)

        app.clock.freeze()  # once typing began, `a` is text again
        await send(pilot, "again")
        await until(pilot, lambda: len(app.query(ApprovalCard)) == 2)
        card = app.query(ApprovalCard).last()
        await pilot.press("x", "a")
        assert prompt.text == "xa" and card.decided is None
        await pilot.press("escape")


async def test_the_you_were_typing_hint_goes_when_y_would_answer_the_card_and_returns_with_text(make_app, repo):
    app = make_app(EDIT)
    app.clock.freeze()
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one(PromptInput)
        await send(pilot, "change it")
        card = await until_card(pilot)
        await pilot.pause(0.1)
        assert REACH_HINT in hint(card) and not card.has_focus
        app.clock.advance(CodeassistApp.TYPING_QUIET_S)
        await until(pilot, lambda: REACH_HINT not in hint(card))
        assert app.focused is prompt and card.decided is None
        await pilot.press("x")
        await until(pilot, lambda: REACH_HINT in hint(card))
        await pilot.press("backspace")
        app.clock.advance(CodeassistApp.TYPING_QUIET_S)
        await until(pilot, lambda: REACH_HINT not in hint(card))
        await pilot.press("y")
        await pilot.pause()
        assert card.decided == "approve_once" and prompt.text == ""
        await wait_idle(app, pilot)
