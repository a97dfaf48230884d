"""The `/` and `@` completion lists, typed into the real app against the scripted server."""

from __future__ import annotations

from tests.tui.conftest import SIZE, scenario, wait_idle
from tui.slash import COMMANDS
from tui.widgets.completion import CompletionList
from tui.widgets.prompt import PromptInput
from tui.widgets.transcript import NoticeLine

HELLO = scenario({"output": [{"type": "message", "text": "Hello."}]})


def shown(completion: CompletionList) -> list[str]:
    return [str(completion.get_option_at_index(i).prompt) for i in range(completion.option_count)]


async def test_slash_lists_the_commands_with_their_help_and_filters_as_you_type(make_app):
    app = make_app(HELLO)
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one(PromptInput)
        completion = app.query_one(CompletionList)
        assert not completion.is_open and not completion.display
        await pilot.press("slash")
        await pilot.pause()
        assert completion.is_open and completion.display
        assert [choice.value for choice in completion.choices] == [f"/{name}" for name in COMMANDS]
        lines = shown(completion)
        assert any(line.startswith("/model NAME") and COMMANDS["model"].help in line for line in lines)
        assert completion.highlighted == 0 and prompt.text == "/", "nothing is taken unasked"
        assert app.focused is prompt, "the list never takes the focus"

        await pilot.press(*"re")
        await pilot.pause()
        assert [choice.value for choice in completion.choices] == ["/resume", "/replay", "/redo"]
        await pilot.press("down")
        assert completion.current.value == "/replay" and prompt.text == "/re"
        await pilot.press("up")
        assert completion.current.value == "/resume"
        await pilot.press("escape")
        await pilot.pause()
        assert not completion.is_open and prompt.text == "/re" and not app.running

        await pilot.press("backspace", "backspace", *"xyz")
        await pilot.pause()
        assert completion.choices == [] and shown(completion) == ["no command matches /xyz"]
        await pilot.press("tab")
        assert prompt.text == "/xyz" and app.focused is prompt


async def test_tab_or_enter_accepts_a_command_and_enter_then_runs_it(make_app):
    app = make_app(HELLO)
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one(PromptInput)
        completion = app.query_one(CompletionList)
        await pilot.press(*"/st")
        await pilot.pause()
        await pilot.press("tab")
        await pilot.pause()
        assert prompt.text == "/stats " and not completion.is_open
        prompt.load_text("")
        await pilot.press(*"/hel")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert prompt.text == "/help ", "Enter accepted the highlighted command, it did not send"
        await pilot.press("enter")
        await pilot.pause()
        assert prompt.text == "" and "/approval" in app.query("NoticeLine").last().message


async def test_a_command_typed_in_full_is_sent_by_enter(make_app):
    app = make_app(HELLO)
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one(PromptInput)
        await pilot.press(*"/help")
        await pilot.pause()
        assert app.query_one(CompletionList).is_open
        await pilot.press("enter")
        await pilot.pause()
        assert prompt.text == "" and not app.query_one(CompletionList).is_open


async def test_at_lists_tracked_and_untracked_files_but_not_ignored_ones(make_app, repo):
    (repo / ".gitignore").write_text("secret/\n")
    (repo / "secret").mkdir()
    (repo / "secret" / "keys.py").write_text("")
    app = make_app(HELLO)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        (repo / "fresh.py").write_text("")  # created after the session listed the files
        prompt = app.query_one(PromptInput)
        completion = app.query_one(CompletionList)
        await pilot.press(*"look at @")
        await app.workers.wait_for_complete()
        await pilot.pause()
        values = {choice.value for choice in completion.choices}
        assert {"@a.py", "@pkg/core.py", "@.gitignore", "@fresh.py"} <= values
        assert "@secret/keys.py" not in values
        await pilot.press(*"fre")
        await pilot.pause()
        assert completion.current.value == "@fresh.py"
        await pilot.press("tab")
        assert prompt.text == "look at @fresh.py " and not completion.is_open


async def test_enter_accepts_a_file_and_up_down_do_not_walk_the_history_meanwhile(make_app):
    app = make_app(HELLO)
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one(PromptInput)
        prompt.load_text("hi")
        await pilot.press("enter")
        await wait_idle(app, pilot)
        await pilot.press("@")
        await app.workers.wait_for_complete()
        await pilot.pause()
        completion = app.query_one(CompletionList)
        first = completion.current
        await pilot.press("down")
        second = completion.current
        assert second != first and prompt.text == "@", "Down moved in the list, not in the history"
        await pilot.press("enter")
        assert prompt.text == f"{second.value} " and not app.running


async def test_an_e_mail_address_opens_no_list(make_app):
    app = make_app(HELLO)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"mail me@host")
        await pilot.pause()
        assert not app.query_one(CompletionList).is_open


async def test_a_click_on_a_choice_accepts_it_and_the_prompt_keeps_the_focus(make_app):
    app = make_app(HELLO)
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one(PromptInput)
        await pilot.press(*"/re")
        await pilot.pause()
        completion = app.query_one(CompletionList)
        await pilot.click(CompletionList, offset=(4, completion.outer_size.height - 2))  # the last line: /redo
        await pilot.pause()
        assert prompt.text == "/redo " and app.focused is prompt
        assert not completion.is_open


async def test_enter_right_after_fast_typing_sends_the_command_typed_in_full(make_app):
    from textual import events

    app = make_app(HELLO)
    async with app.run_test(size=SIZE) as pilot:
        prompt = app.query_one(PromptInput)
        await pilot.press(*"/re")
        await pilot.pause()
        assert app.query_one(CompletionList).current.value == "/resume"
        for key, character in (("d", "d"), ("o", "o"), ("enter", "\r")):  # queued at once, as a paste
            prompt.post_message(events.Key(key, character))
        await pilot.pause(0.2)
        assert prompt.text == "", "/redo was sent, not /resume accepted"
        assert "Nothing to redo" in str(app.query(NoticeLine).last().message)
