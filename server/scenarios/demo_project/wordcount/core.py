"""The counting functions behind `wordcount`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Counts:
    """Lines, words and characters of one text."""

    lines: int
    words: int
    chars: int


def count_lines(text: str) -> int:
    """Number of newline characters, the way `wc -l` counts lines."""
    return text.count("\n")


def count_words(text: str) -> int:
    """Number of words: runs of characters separated by whitespace."""
    return len(text.split(" "))


def count_chars(text: str) -> int:
    """Number of characters (not bytes)."""
    return len(text)


def count(text: str) -> Counts:
    """All three counts of `text` at once."""
    return Counts(lines=count_lines(text), words=count_words(text), chars=count_chars(text))
