"""Hostile text from the model, files and file names never reaches the screen as control sequences.

The app runs against a real `codeassist serve` whose scripted model answers, reasons, names files
and writes content full of terminal sequences (OSC 0/2 titles, OSC 8 links, OSC 52 clipboard
writes, CSI 2J/H, DCS, C1 CSI, bare ESC and BEL). The scripted engine streams text word by word,
so several sequences arrive split across deltas.
"""

from __future__ import annotations

import re

import pytest
from rich.text import Text
from textual.widget import Widget
from textual.widgets._toast import Toast

from agent.terminal_text import REMOVED_SEQUENCE
from tests.agent.conftest import make_repo
from tests.hostile import CONTROLS, HOSTILE, HOSTILE_NAME
from tests.tui.conftest import call, scenario, wait_idle
from tests.tui.test_app import send
from tui.widgets.approval import ApprovalCard
from tui.widgets.header import RepoHeader
from tui.widgets.markdown_stream import split_blocks
from tui.widgets.prompt import PromptInput
from tui.widgets.tool_card import ToolCard
from tui.widgets.transcript import AssistantMessage, NoticeLine, ReasoningBlock, Transcript

HOSTILE_TURN = scenario(
    {
        "output": [
            {"type": "reasoning", "summary": ["Thinking " + HOSTILE]},
            {"type": "message", "text": "Answer " + HOSTILE + "\n\n```\ncode " + HOSTILE + "\n```\n"},
            call("read_file", "r", path=HOSTILE_NAME, offset=None, limit=None),
            call("list_files", "l", path=None, pattern=None),
            call("write_file", "w", path="new.txt", content="diff " + HOSTILE + "\n"),
        ]
    },
    {"output": [{"type": "message", "text": "Done " + HOSTILE}]},
)

SIZE = (160, 400)
"""Tall enough that the whole transcript is on the screen at once."""


@pytest.fixture
def repo(tmp_path):
    return make_repo(tmp_path / "repo", {"a.py": "print('hello')\n", HOSTILE_NAME: "file " + HOSTILE + "\n"})


def segment_texts(widget: Widget) -> list[str]:
    width, height = widget.size
    if not width or not height:
        return []
    from textual.geometry import Region

    return [segment.text for strip in widget.render_lines(Region(0, 0, width, height)) for segment in strip]


async def test_rendered_transcript_holds_no_control_characters(make_app):
    app = make_app(HOSTILE_TURN, approval="full-auto")
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "go")
        await wait_idle(app, pilot)
        cards = {card.tool_name: card for card in app.query(ToolCard)}
        assert set(cards) == {"read_file", "list_files", "write_file"}
        assert all(card.status == "ok" for card in cards.values()), [c.output for c in cards.values()]
        for card in cards.values():
            card.on_click()  # expanded: the file's content, the names, the diff
        reasoning = app.query_one(ReasoningBlock)
        reasoning.collapsed = False
        await pilot.pause()

        answers = list(app.query(AssistantMessage))
        assert [a.text for a in answers][-1] == "Done " + HOSTILE, "the record keeps the raw text"
        shown_parts: list[str] = []
        for block in [*answers, reasoning, *cards.values()]:
            for widget in [block, *block.query("*")]:
                for text in segment_texts(widget):
                    assert not CONTROLS.search(text), (widget, text)
                    shown_parts.append(text)
        shown = "".join(shown_parts)
        fences = [block for answer in answers for block in split_blocks(answer.source) if block.kind == "fence"]
        fence = fences[0]
        assert fence.code.startswith("code AB C link") and not CONTROLS.search(fence.code)
        for words in ("Answer", "Thinking", "file", "diff", "Done", "evil", "link", "read_file", "new.txt"):
            assert words in shown, words
        assert "\u2407" in shown, "a lone BEL is shown as a visible symbol"
        for payload in ("PWNED", "cm0gLXJmIH4", "sixel", "NAME", "evil.invalid"):
            assert payload not in shown, f"{payload}: sequences are removed whole"

        # What the terminal driver would be sent for the whole screen: only Textual's own styling
        # and cursor sequences, nothing from the transcript.
        update = app.screen._compositor.render_full_update()
        output = update.render_segments(app.console)
        own = re.sub(r"\x1b\[[0-9;:?]*[A-Za-z]", "", output)
        assert not CONTROLS.search(own.replace("\n", "").replace("\r", ""))
        assert "\x1b]" not in output and "\x1bP" not in output and "\x07" not in output
        assert "Answer" in own and "Done" in own
        assert app.query_one(Transcript)


HOSTILE_EDIT = scenario(
    {"output": [call("write_file", "w", path="new\x1b]52;c;Zm9v\x07.txt", content="diff " + HOSTILE + "\n")]},
    {"output": [{"type": "message", "text": "ok"}]},
)


async def test_the_approval_card_shows_a_hostile_path_and_diff_without_control_characters(make_app):
    app = make_app(HOSTILE_EDIT)
    async with app.run_test(size=(160, 60)) as pilot:
        await send(pilot, "write it")
        await pilot.pause(1.0)
        card = app.query_one(ApprovalCard)
        assert "\x1b" in (card.request.diff or ""), "the request itself is the raw call"
        texts = [text for widget in [card, *card.query("*")] for text in segment_texts(widget)]
        assert texts and not any(CONTROLS.search(text) for text in texts)
        shown = "".join(texts)
        assert "diff AB C link" in shown and "Zm9v" not in shown
        await pilot.press("n", "enter")
        await wait_idle(app, pilot)


def test_notices_and_errors_hold_no_control_characters():
    line = NoticeLine("✗ server said \x1b]0;PWNED\x07 \x1b[2Jbad\x07", error=True)
    assert isinstance(line.content, Text) and line.content.plain == "✗ server said  bad\u2407"


async def test_the_header_shows_a_hostile_directory_and_model_name_safely(make_app):
    app = make_app(HOSTILE_EDIT)
    async with app.run_test(size=(160, 30)) as pilot:
        header = app.query_one(RepoHeader)
        header.show(repo="repo\x1b]0;PWNED\x07", branch="main", dirty=False, model="m\x1b[2J\x07", transport="ws")
        await pilot.pause()
        texts = segment_texts(header)
        assert not any(CONTROLS.search(text) for text in texts)
        assert "repo" in "".join(texts) and "m\u2407" in "".join(texts) and "PWNED" not in "".join(texts)


LONG_CLIPBOARD_WRITE = scenario(
    {"output": [{"type": "message", "text": "Copy \x1b]52;c;" + "QUFB" * 2560 + "\x07 done."}]},
)


async def test_a_10_kb_clipboard_write_streamed_in_an_answer_shows_as_a_marker(make_app):
    app = make_app(LONG_CLIPBOARD_WRITE)
    async with app.run_test(size=(160, 40)) as pilot:
        await send(pilot, "go")
        await wait_idle(app, pilot)
        answer = app.query(AssistantMessage).last()
        texts = [text for widget in [answer, *answer.query("*")] for text in segment_texts(widget)]
        shown = "".join(texts)
        assert texts and not any(CONTROLS.search(text) for text in texts)
        assert "Copy" in shown and "done." in shown and REMOVED_SEQUENCE in shown
        assert "QUFB" not in shown


def toast_texts(app) -> list[str]:
    """Every rendered segment of the toasts, padding and all (a toast's region is its outer box)."""
    from textual.geometry import Region

    return [
        segment.text
        for toast in app.query(Toast)
        for strip in toast.render_lines(Region(0, 0, toast.region.width, toast.region.height))
        for segment in strip
    ]


async def test_toasts_quoting_outside_text_hold_no_control_characters_or_markup(make_app):
    app = make_app(HOSTILE_EDIT)
    async with app.run_test(size=(160, 40), notifications=True) as pilot:
        app.query_one(PromptInput).notify("No file matches @evil\x1b]0;PWNED\x07[bold]x\x1b[2J")
        app.notify("from a widget \x1b]52;c;Zm9v\x07 [red]plain[/red]", title="t\x1b[2Jx")
        await pilot.pause(0.5)
        texts = toast_texts(app)
        shown = "".join(texts)
        assert texts and not any(CONTROLS.search(text) for text in texts)
        assert "No file matches @evil[bold]x" in shown and "PWNED" not in shown and "Zm9v" not in shown
        assert "[red]plain[/red]" in shown, "outside text is never taken as markup"


async def test_ctrl_c_with_nothing_selected_says_how_to_quit_without_markup(make_app):
    app = make_app(HOSTILE_EDIT)
    async with app.run_test(size=(160, 40), notifications=True) as pilot:
        await pilot.press("ctrl+c")
        await pilot.pause(0.5)
        shown = "".join(toast_texts(app))
        assert "Ctrl+Q or /quit quits codeassist" in shown and "[b]" not in shown
        assert app.is_running


async def test_slash_command_errors_quoting_outside_text_hold_no_control_characters(make_app):
    app = make_app(HOSTILE_EDIT)
    async with app.run_test(size=(160, 40)) as pilot:
        await send(pilot, "/nosuch\x1b]0;PWNED\x07")
        await send(pilot, "/theme evil\x1b]52;c;Zm9v\x07\x1b[2J")
        await pilot.pause(0.3)
        lines = list(app.query(NoticeLine))
        texts = [text for line in lines for text in segment_texts(line)]
        shown = "".join(texts)
        assert len(lines) >= 2 and texts and not any(CONTROLS.search(text) for text in texts)
        assert "Unknown command /nosuch. Try /help." in shown
        assert "no theme named" in shown
