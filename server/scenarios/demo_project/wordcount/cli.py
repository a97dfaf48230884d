"""`python3 -m wordcount.cli [FILE ...]`: print lines, words and characters, like `wc`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from wordcount.core import Counts, count


def format_counts(counts: Counts, name: str = "") -> str:
    """One output line: right-aligned counts, then the file name (if any)."""
    line = f"{counts.lines:7} {counts.words:7} {counts.chars:7}"
    return f"{line} {name}" if name else line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="wordcount", description="Count lines, words and characters.")
    parser.add_argument("files", nargs="*", help="files to count (standard input when none are given)")
    args = parser.parse_args(argv)
    if not args.files:
        print(format_counts(count(sys.stdin.read())))
        return 0
    status = 0
    for name in args.files:
        try:
            text = Path(name).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            print(f"wordcount: {name}: {exc}", file=sys.stderr)
            status = 1
            continue
        print(format_counts(count(text), name))
    return status


if __name__ == "__main__":
    raise SystemExit(main())
