"""Tests for wordcount. Plain unittest, so both `python3 -m unittest` and pytest run them."""

import contextlib
import io
import tempfile
import unittest
from pathlib import Path

from wordcount import Counts, count, count_chars, count_lines, count_words
from wordcount.cli import main


class CountTests(unittest.TestCase):
    def test_count_lines(self):
        self.assertEqual(count_lines("one\ntwo\n"), 2)
        self.assertEqual(count_lines("no newline at the end"), 0)
        self.assertEqual(count_lines(""), 0)

    def test_count_chars(self):
        self.assertEqual(count_chars("héllo"), 5)

    def test_count_words_single_spaces(self):
        self.assertEqual(count_words("the quick brown fox"), 4)

    def test_count_words_any_whitespace(self):
        self.assertEqual(count_words("  the quick\tbrown\n\nfox  "), 4)
        self.assertEqual(count_words(""), 0)

    def test_count(self):
        self.assertEqual(count("hello world"), Counts(lines=0, words=2, chars=11))


class CliTests(unittest.TestCase):
    def test_prints_counts_per_file(self):
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "hello.txt"
            path.write_text("hello world\n", encoding="utf-8")
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                status = main([str(path)])
        self.assertEqual(status, 0)
        self.assertEqual(out.getvalue().split(), ["1", "2", "12", str(path)])


if __name__ == "__main__":
    unittest.main()
