from __future__ import annotations

from tui.widgets.web_sources import SHOWN_SOURCES, sources_text


def test_sources_are_listed_one_a_line_without_terminal_controls():
    display = {
        "query": "q",
        "sources": [
            {"url": "https://a.example", "title": "A \x1b]0;pwned\x07title"},
            {"url": "https://b.example\x1b[2J", "title": ""},
            {"url": 3},
            "junk",
        ],
    }
    text = sources_text(display)
    assert text is not None
    assert text.plain == "↗ A title — https://a.example\n↗ https://b.example"


def test_many_sources_are_cut_and_counted():
    display = {"sources": [{"url": f"https://{i}.example"} for i in range(SHOWN_SOURCES + 2)], "more_sources": 3}
    text = sources_text(display)
    assert text is not None and text.plain.endswith("… and 5 more sources")
    assert text.plain.count("↗") == SHOWN_SOURCES
    few = sources_text({"sources": [{"url": "https://a.example"}], "more_sources": 4})
    assert few is not None and few.plain.endswith("… and 4 more sources")


def test_no_sources_no_text():
    assert sources_text(None) is None
    assert sources_text({"sources": []}) is None
    assert sources_text({"exit_code": 0}) is None
