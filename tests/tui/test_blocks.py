"""Block navigation in the transcript: focus each block, expand a card, copy, back to the prompt."""

from __future__ import annotations

from textual.widgets import Static

from tests.tui.conftest import SIZE, call, scenario, wait_idle
from tests.tui.test_app import send
from tests.tui.test_escape_proof import segment_texts
from tui.widgets.prompt import PromptInput
from tui.widgets.tool_card import ToolCard
from tui.widgets.transcript import AssistantMessage, Transcript, UserMessage

READ = scenario(
    {"output": [call("read_file", "r", path="a.py", offset=None, limit=None)]},
    {"output": [{"type": "message", "text": "It prints **hello**."}]},
)
LONG = scenario(
    {"output": [{"type": "message", "text": "\n\n".join(f"Paragraph {n}." for n in range(80))}]},
    {"output": [{"type": "message", "text": "Short."}]},
)


def shown(widget) -> str:
    return "".join(segment_texts(widget))


def enter_says(app) -> str:
    """What the footer says Enter does."""
    return app.screen.active_bindings["enter"].binding.description


def in_view(transcript: Transcript, block) -> bool:
    """Whether the top of `block` is inside the transcript's visible part."""
    top = block.virtual_region.y
    return transcript.scroll_y <= top < transcript.scroll_y + transcript.scrollable_content_region.height


async def test_blocks_are_focused_one_by_one_and_esc_returns_to_the_prompt(make_app):
    app = make_app(READ)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "what does a.py do?")
        await wait_idle(app, pilot)
        prompt = app.query_one(PromptInput)
        user, card, answer = app.query_one(UserMessage), app.query_one(ToolCard), app.query_one(AssistantMessage)
        assert list(app.query_one(Transcript).children) == [user, card, answer]

        await pilot.press("ctrl+up")
        assert app.focused is answer, "from the prompt: the newest block"
        assert answer.styles.outline_right[0] == "wide", "the focused block is marked"
        await pilot.press("up")
        assert app.focused is card
        await pilot.press("k")
        assert app.focused is user
        await pilot.press("up")
        assert app.focused is user, "the oldest block stays focused"
        await pilot.press("j")
        assert app.focused is card
        await pilot.press("down")
        assert app.focused is answer
        await pilot.press("down")
        assert app.focused is prompt, "after the newest block: the prompt"

        await pilot.press("alt+up")
        assert app.focused is answer
        await pilot.press("ctrl+up")
        assert app.focused is card
        await pilot.press("ctrl+down", "ctrl+down")
        assert app.focused is prompt
        await pilot.press("ctrl+down")
        assert app.focused is prompt, "nothing comes after the prompt"

        await pilot.press("alt+up", "escape")
        assert app.focused is prompt and not app.running
        await pilot.press("ctrl+up", "alt+down")
        assert app.focused is prompt


async def test_enter_expands_and_collapses_a_focused_card(make_app, repo):
    (repo / "b.py").write_text("print('hello')\nprint('again')\n")
    app = make_app(
        scenario(
            {"output": [call("read_file", "r", path="b.py", offset=None, limit=None)]},
            {"output": [{"type": "message", "text": "It prints twice."}]},
        )
    )
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "what does b.py do?")
        await wait_idle(app, pilot)
        card = app.query_one(ToolCard)
        await pilot.press("ctrl+up", "up")
        assert app.focused is card and not card.expanded
        assert enter_says(app) == "Expand"
        await pilot.press("enter")
        await pilot.pause()
        assert card.expanded and app.focused is card
        assert "print('hello')" in shown(card)
        assert enter_says(app) == "Collapse"
        await pilot.press("enter")
        await pilot.pause()
        assert not card.expanded
        assert "print('hello')" not in shown(card)
        assert enter_says(app) == "Expand"
        await pilot.press("up", "enter")
        assert app.query_one(UserMessage).has_focus, "Enter on a block with nothing to expand does nothing"


async def test_c_copies_the_focused_block(make_app):
    app = make_app(READ)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "what does a.py do?")
        await wait_idle(app, pilot)
        await pilot.press("ctrl+up", "c")
        assert app.clipboard == "It prints **hello**."
        await pilot.press("up", "c")
        assert app.clipboard.startswith("read_file a.py\n\n") and "print('hello')" in app.clipboard
        await pilot.press("up", "c")
        assert app.clipboard == "what does a.py do?"
        await pilot.press("escape", *"c")
        assert app.query_one(PromptInput).text == "c", "in the prompt, c is typed"


async def test_each_block_is_scrolled_into_view(make_app):
    app = make_app(LONG)
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "talk")
        await wait_idle(app, pilot)
        await send(pilot, "again")
        await wait_idle(app, pilot)
        transcript = app.query_one(Transcript)
        long_answer = app.query(AssistantMessage).first()
        first_prompt = app.query(UserMessage).first()
        assert not in_view(transcript, first_prompt)
        await pilot.press("ctrl+up", "up", "up")
        await pilot.pause()
        assert app.focused is long_answer and in_view(transcript, long_answer), "a tall block: its top"
        await pilot.press("up")
        await pilot.pause()
        assert app.focused is first_prompt and in_view(transcript, first_prompt)
        await pilot.press("down", "down", "down")
        await pilot.pause()
        assert app.focused is app.query(AssistantMessage).last()
        assert transcript.scroll_y == transcript.max_scroll_y


class FakeFrozenTurn(Static, can_focus=True):
    """A finished turn drawn as one widget: Enter puts its live widgets back."""

    def __init__(self, texts: list[str]) -> None:
        super().__init__("\n".join(texts))
        self.texts = texts
        self.text = "\n\n".join(texts)

    async def thaw(self) -> None:
        assert self.parent is not None
        await self.parent.mount_all([UserMessage(text) for text in self.texts], after=self)
        await self.remove()


async def test_enter_thaws_a_frozen_turn_and_focuses_its_first_block(make_app):
    app = make_app(READ)
    async with app.run_test(size=SIZE) as pilot:
        transcript = app.query_one(Transcript)
        frozen = FakeFrozenTurn(["first", "second"])
        await transcript.mount(frozen)
        await pilot.press("ctrl+up", "c")
        assert app.focused is frozen and app.clipboard == "first\n\nsecond"
        await pilot.press("enter")
        await pilot.pause()
        assert [m.text for m in transcript.query(UserMessage)] == ["first", "second"]
        assert app.focused is transcript.query(UserMessage).first()


async def test_blocks_of_a_replay_are_navigated_and_esc_returns_to_the_transcript(tmp_path, monkeypatch):
    from agent.config import Settings
    from tests.tui.test_replay import FIXTURE
    from tui.app import CodeassistApp

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    app = CodeassistApp(Settings(), tmp_path, replay=FIXTURE, replay_speed=None)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        transcript = app.query_one(Transcript)
        assert app.focused is transcript
        await pilot.press("ctrl+up")
        assert app.focused is list(transcript.children)[-1]
        await pilot.press("escape")
        assert app.focused is transcript
