"""wordcount: count lines, words and characters in text, like a tiny `wc`."""

from wordcount.core import Counts, count, count_chars, count_lines, count_words

__all__ = ["Counts", "count", "count_chars", "count_lines", "count_words"]
__version__ = "0.1.0"
