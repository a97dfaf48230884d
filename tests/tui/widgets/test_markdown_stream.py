"""The streaming Markdown widget: blocks rendered once, only the tail redrawn, fences highlighted
once closed, tables shown row by whole row, re-wrapped on resize, nothing unsafe drawn, and the
last delta always drawn.

Frames are drawn by calling `draw_pending()` (what the frame timer calls), so no test depends on
how fast the machine is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.strip import Strip

from tests.hostile import CONTROLS, HOSTILE
from tui.widgets.markdown_stream import StreamingMarkdown, split_blocks
from tui.widgets.transcript import AssistantMessage, ReasoningBlock, Transcript

DOCUMENT = (
    "# Title\n\n"
    "A paragraph with *emphasis* and `code`.\n\n"
    "```python\ndef greet(name):\n    return f'hello {name}'\n```\n\n"
    "| name | value |\n|---|---|\n| one | 1 |\n| two | 2 |\n\n"
    "- first item\n- second item\n\n"
    "> a quote\n\n"
    "The last words.\n"
)
BLOCKS = 7


class StreamApp(App[None]):
    CSS_PATH = "../../../themes/base.tcss"

    def compose(self) -> ComposeResult:
        yield Transcript()


@asynccontextmanager
async def mounted(widget: StreamingMarkdown, size: tuple[int, int] = (80, 60)) -> AsyncIterator[Pilot[None]]:
    app = StreamApp()
    async with app.run_test(size=size) as pilot:
        await app.query_one(Transcript).mount(widget)
        await pilot.pause()
        yield pilot


def shown(widget: StreamingMarkdown) -> str:
    return "\n".join(line.text.rstrip() for line in widget.rendered_lines())


def colours(lines: list[Strip]) -> set[object]:
    """The foreground colours of the visible text in `lines`."""
    return {
        segment.style.color if segment.style else None for line in lines for segment in line if segment.text.strip()
    }


def stream(widget: StreamingMarkdown, text: str, *, step: int = 3, frame_every: int = 1) -> int:
    """Feed `text` in `step`-character deltas, drawing a frame every `frame_every` deltas."""
    frames = 0
    for index, start in enumerate(range(0, len(text), step)):
        widget.append_text(text[start : start + step])
        if index % frame_every == 0:
            widget.draw_pending()
            frames += 1
    return frames


def test_split_blocks_finds_the_top_level_blocks_and_keeps_every_character():
    blocks = split_blocks(DOCUMENT)
    assert [block.kind for block in blocks] == [
        "heading",
        "paragraph",
        "fence",
        "table",
        "bullet_list",
        "blockquote",
        "paragraph",
    ]
    assert "".join(block.source for block in blocks) == DOCUMENT
    assert blocks[2].info == "python" and blocks[2].code.startswith("def greet")
    assert split_blocks("\n\n") == []


async def test_each_complete_block_is_rendered_once_and_only_the_tail_again():
    answer = AssistantMessage()
    async with mounted(answer):
        frames = stream(answer, DOCUMENT, step=2)
        assert answer.block_renders == BLOCKS - 1, "every block but the open last one, once each"
        assert answer.tail_renders <= frames
        await answer.finish()
        assert answer.block_renders == BLOCKS
        assert answer.painted_chars == len(answer.source) == len(DOCUMENT)
        for words in ("Title", "emphasis", "def greet", "two", "second item", "a quote", "The last words."):
            assert words in shown(answer), words


async def test_the_tail_costs_the_same_at_the_end_of_a_long_answer():
    answer = AssistantMessage()
    async with mounted(answer):
        stream(answer, "Paragraph number one.\n\n" * 300, step=50, frame_every=1)
        before = answer.block_renders
        assert before == 299
        renders = answer.tail_renders
        answer.append_text("A new open paragraph\n")
        answer.draw_pending()
        assert answer.block_renders == before + 1, "only the block the new one closed was rendered"
        assert answer.tail_renders == renders + 1
        assert answer.rendered_lines()[-1].text.strip() == "A new open paragraph"


async def test_a_fence_is_plain_while_open_and_highlighted_once_closed():
    answer = AssistantMessage()
    async with mounted(answer):
        answer.append_text("```python\ndef greet(name):\n    return 1\n")
        answer.draw_pending()
        open_styles = colours(answer.rendered_lines())
        assert "def greet" in shown(answer)
        answer.append_text("```\n\nAfter.\n")
        answer.draw_pending()
        closed_styles = colours(answer.rendered_lines()[:2])
        assert len(open_styles) == 1, "an open fence is plain"
        assert len(closed_styles) > 2, "a closed fence is highlighted"
        assert answer.block_renders == 1


async def test_a_table_shows_only_whole_rows():
    answer = AssistantMessage()
    async with mounted(answer):
        answer.append_text("| name | value |\n")
        answer.draw_pending()
        assert shown(answer) == "" and answer.painted_chars == 0, "a lone header row may be a table's"
        answer.append_text("|---|---|\n| one | 1 |\n| tw")
        answer.draw_pending()
        assert "one" in shown(answer) and "tw" not in shown(answer)
        assert answer.painted_chars == len("| name | value |\n|---|---|\n| one | 1 |\n")
        answer.append_text("o | 2 |\n")
        answer.draw_pending()
        assert "two" in shown(answer)
        await answer.finish()
        assert answer.painted_chars == len(answer.source)


async def test_a_width_change_re_wraps_every_block():
    answer = AssistantMessage()
    async with mounted(answer, size=(100, 60)) as pilot:
        answer.append_text(("word " * 60 + "\n\n") * 3)
        await answer.finish()
        await pilot.pause()
        wide = len(answer.rendered_lines())
        renders = answer.block_renders
        await pilot.resize_terminal(50, 60)
        await pilot.pause()
        assert len(answer.rendered_lines()) > wide
        assert answer.block_renders == renders + 3
        assert all(line.cell_length <= answer.size.width for line in answer.rendered_lines())


async def test_sequences_split_across_deltas_are_never_drawn():
    answer = AssistantMessage()
    async with mounted(answer, size=(200, 60)) as pilot:
        for size in (1, 2, 5):
            stream(answer, HOSTILE + "\n\n", step=size)
        await answer.finish()
        await pilot.pause()
        drawn = [segment.text for line in answer.render_lines(answer.region.reset_offset) for segment in line]
        assert drawn and not any(CONTROLS.search(text) for text in drawn)
        text = "".join(drawn)
        assert "AB C link D E F ␇ H I J" in text
        for payload in ("PWNED", "cm0gLXJmIH4", "sixel", "evil.invalid"):
            assert payload not in text


async def test_finish_draws_the_last_delta_even_with_a_frame_due():
    answer = AssistantMessage()
    async with mounted(answer):
        stream(answer, "First block.\n\nThe very last", step=4)
        answer.append_text(" words.")  # a frame is now due: its timer is pending
        assert answer._timer is not None
        await answer.finish()
        assert answer._timer is None, "the frame timer is stopped"
        assert shown(answer).endswith("The very last words.")
        assert answer.painted_chars == len(answer.text)


async def test_finish_right_after_the_last_delta_draws_it_with_no_frame_before():
    answer = AssistantMessage()
    async with mounted(answer):
        answer.append_text("Only \x1b]0;ti")
        answer.append_text("tle\x07words")  # a sequence split across deltas, held back meanwhile
        await answer.finish(interrupted=True)
        assert shown(answer) == "Only words"
        assert answer.has_class("-interrupted")


async def test_replace_text_shows_exactly_the_final_text():
    answer = AssistantMessage()
    async with mounted(answer):
        stream(answer, "A draft that was discarded.")
        await answer.replace_text("The final **text**.")
        assert shown(answer) == "The final text."
        assert answer.text == answer.source == "The final **text**."
        assert answer.painted_chars == len(answer.source)


async def test_reasoning_streams_through_the_same_path_dimmed_and_collapses():
    reasoning = ReasoningBlock()
    async with mounted(reasoning) as pilot:
        stream(reasoning, "Thinking about **it** \x1b[2Jcarefully.\n\nSecond thought.")
        await pilot.pause()
        assert reasoning.size.height == 1 + len(reasoning.rendered_lines())
        lines = reasoning.render_lines(reasoning.region.reset_offset)
        assert lines[0].text.startswith("▾ Reasoning")
        assert all(segment.style is not None and segment.style.dim for segment in lines[1] if segment.text.strip())
        assert not any(CONTROLS.search(segment.text) for line in lines for segment in line)
        reasoning.finish()
        await pilot.pause()
        assert reasoning.collapsed and reasoning.size.height == 1
        assert "Second thought." in shown(reasoning) and reasoning.block_renders == 2
        await pilot.click(ReasoningBlock)
        assert not reasoning.collapsed
