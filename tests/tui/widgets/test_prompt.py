"""The prompt's Tab: it completes, and moves the focus on only from an empty prompt."""

from __future__ import annotations

from tests.tui.conftest import SIZE, scenario
from tui.widgets.completion import CompletionList
from tui.widgets.prompt import PromptInput

HELLO = scenario({"output": [{"type": "message", "text": "Hello."}]})


async def test_tab_in_a_non_empty_prompt_keeps_the_focus(make_app):
    app = make_app(HELLO)
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one(PromptInput)
        await pilot.press(*"plain words")
        await pilot.press("tab")
        await pilot.pause()
        assert app.focused is prompt and prompt.text == "plain words"
        prompt.load_text("two\nlines")
        await pilot.press("tab")
        assert app.focused is prompt and prompt.text == "two\nlines"
        prompt.load_text("")
        await pilot.press("tab")
        await pilot.pause()
        assert app.focused is not prompt, "an empty prompt still lets Tab move the focus"


async def test_tab_completes_the_only_match_and_lists_several(make_app):
    app = make_app(HELLO)
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one(PromptInput)
        completion = app.query_one(CompletionList)
        prompt.load_text("see @cor")
        prompt.move_cursor(prompt.document.end)
        await pilot.press("tab")
        assert prompt.text == "see @pkg/core.py " and not completion.is_open
        prompt.load_text("see @py")
        prompt.move_cursor(prompt.document.end)
        await pilot.pause()
        assert not completion.is_open, "text put in the prompt (history, a test) opens no list"
        await pilot.press("tab")
        await pilot.pause()
        assert completion.is_open and prompt.text == "see @py", "two matches: a list, no silent pick"
        assert {choice.value for choice in completion.choices} == {"@a.py", "@pkg/core.py"}
        highlighted = completion.current
        await pilot.press("tab")
        assert prompt.text == f"see {highlighted.value} " and not completion.is_open
