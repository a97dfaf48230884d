"""The one rule for text from outside on a terminal: `agent.terminal_text`."""

from __future__ import annotations

import json
import re

import pytest

from agent.terminal_text import (
    MAX_HELD_BACK,
    REMOVED_SEQUENCE,
    SafeTextStream,
    has_controls,
    safe_line,
    safe_terminal_text,
    terminal_safe_json,
)

CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

HOSTILE = {
    "osc 0 title (BEL)": ("a\x1b]0;pwned title\x07b", "ab"),
    "osc 2 title (ST)": ("a\x1b]2;pwned\x1b\\b", "ab"),
    "osc 8 link": ("\x1b]8;;https://evil.invalid\x1b\\click\x1b]8;;\x1b\\", "click"),
    "osc 52 clipboard": ("x\x1b]52;c;cm0gLXJmIH4=\x07y", "xy"),
    "csi 2J and H": ("\x1b[2J\x1b[Hclear", "clear"),
    "csi colour": ("\x1b[31mred\x1b[0m", "red"),
    "c1 csi": ("\x9b2Jz", "z"),
    "dcs": ("\x1bPq#0;2;0;0;0\x1b\\after", "after"),
    "c1 osc": ("\x9d0;t\x9cok", "ok"),
    "bare esc": ("a\x1b", "a"),
    "esc 7": ("a\x1b7b", "ab"),
}


@pytest.mark.parametrize("raw, shown", HOSTILE.values(), ids=HOSTILE.keys())
def test_escape_sequences_are_removed_whole(raw: str, shown: str) -> None:
    assert safe_terminal_text(raw) == shown


def test_other_controls_are_made_visible() -> None:
    assert safe_terminal_text("ding\x07") == "ding\u2407"
    assert safe_terminal_text("a\x08b\x00c\x7f") == "a\u2408b\u2400c\u2421"
    assert safe_terminal_text("next\x85line\x9a") == "next\\x85line\\x9a"
    assert safe_terminal_text("over\rwrite") == "over\u240dwrite"


def test_newlines_tabs_and_markdown_are_kept() -> None:
    text = "# Title\n\n- item\twith tab\n\n```python\nprint('é ✓')\n```\n| a | b |\n"
    assert safe_terminal_text(text) is text
    assert safe_terminal_text("one\r\ntwo\r\n") == "one\ntwo\n"
    assert not has_controls(text) and has_controls("\x1b")


def test_an_unterminated_string_ends_at_the_line_end() -> None:
    assert safe_terminal_text("\x1b]0;never closed\nnext line") == "\nnext line"


@pytest.mark.parametrize("raw", [raw for raw, _ in HOSTILE.values()])
def test_nothing_that_controls_a_terminal_survives(raw: str) -> None:
    for text in (raw, raw * 3, "prefix " + raw + " suffix\n"):
        assert not CONTROLS.search(safe_terminal_text(text))


def feed_all(pieces: list[str]) -> str:
    stream = SafeTextStream()
    return "".join(stream.feed(piece) for piece in pieces) + stream.flush()


@pytest.mark.parametrize("raw, shown", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_sequence_split_across_deltas_at_any_point_does_not_leak(raw: str, shown: str) -> None:
    text = "start " + raw + " end"
    expected = safe_terminal_text(text)
    for cut in range(len(text) + 1):
        for second in range(cut, len(text) + 1):
            out = feed_all([text[:cut], text[cut:second], text[second:]])
            assert out == expected, (cut, second)
            assert not CONTROLS.search(out)


def test_one_character_per_delta() -> None:
    text = "a\x1b]52;c;Zm9v\x07b\x1b[2Jc\x1bPdata\x1b\\d\r\ne"
    assert feed_all(list(text)) == "abcd\ne"


def test_plain_deltas_pass_straight_through_and_a_held_tail_is_bounded() -> None:
    stream = SafeTextStream()
    assert stream.feed("plain ") == "plain "
    assert stream.feed("a\x1b]0;") == "a"
    assert stream.feed("x" * MAX_HELD_BACK) == ""  # the string is removed once it is too long to hold
    assert not CONTROLS.search(stream.flush())


def test_json_text_keeps_its_value_with_c1_controls_escaped() -> None:
    raw = json.dumps({"text": "a\x9b2J\x9d0;t\x9cb é"}, ensure_ascii=False)
    safe = terminal_safe_json(raw)
    assert not CONTROLS.search(safe)
    assert json.loads(safe) == json.loads(raw)
    assert terminal_safe_json('{"plain": "é"}') == '{"plain": "é"}'


OSC52_10KB = "\x1b]52;c;" + "QUFB" * 2560  # a 10 KB clipboard write, far past what a stream holds


@pytest.mark.parametrize("size", [1, 16, 100, 4096, 5000])
@pytest.mark.parametrize("terminator", ["\x07", "\x1b\\", "\x9c"])
def test_a_sequence_open_past_the_limit_becomes_a_visible_marker_never_its_payload(size, terminator) -> None:
    text = "before " + OSC52_10KB + terminator + " after\nnext"
    out = feed_all([text[i : i + size] for i in range(0, len(text), size)])
    assert out == "before " + REMOVED_SEQUENCE + " after\nnext"
    assert not CONTROLS.search(out)


def test_an_overlong_sequence_ends_at_the_line_end_or_the_next_escape_or_the_stream_end() -> None:
    assert feed_all(["a", OSC52_10KB, "\nb"]) == "a" + REMOVED_SEQUENCE + "\nb"
    assert feed_all(["a", OSC52_10KB, "\x1b[2Jb"]) == "a" + REMOVED_SEQUENCE + "b"
    assert feed_all(["a", OSC52_10KB, "QUFB"]) == "a" + REMOVED_SEQUENCE
    assert feed_all(["a", OSC52_10KB, "\x1b", "\\b"]) == "a" + REMOVED_SEQUENCE + "b"
    assert feed_all(["a\x1b[" + "1;" * 3000, "1;", "mb"]) == "a" + REMOVED_SEQUENCE + "b"
    assert feed_all(["a\x1bP" + "x" * 5000, "\x1b\\b"]) == "a" + REMOVED_SEQUENCE + "b"


def test_safe_line_is_one_line_without_controls_and_cut_with_an_ellipsis():
    assert safe_line("  a\x1b]0;title\x07 b\n\tc  ") == "a b c"
    assert safe_line("abcdef", 4) == "abc…" and safe_line("abcd", 4) == "abcd"
