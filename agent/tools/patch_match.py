"""Locating an Update File section's hunks in a file's lines, as Codex's apply_patch does.

Each hunk's context and removed lines are searched for in order, forward from the end of the
previous hunk; `@@ text` first moves the search past the next line equal to `text`. Each search
tries an exact match, then one that ignores trailing whitespace, then one that ignores leading and
trailing whitespace, then one that also reads Unicode punctuation as its ASCII look-alike (dashes
as '-', curly quotes as straight ones, non-breaking and other odd spaces as ' '), the fallback
order of Codex's `seek_sequence`. Only the compared forms are normalised: the lines kept or
replaced are the file's own.
"""

from __future__ import annotations

from collections.abc import Callable

from agent.tools.atomic import Line
from agent.tools.base import ToolError
from agent.tools.patch_parse import Hunk

_PUNCTUATION = str.maketrans(
    {
        **dict.fromkeys("\u2010\u2011\u2012\u2013\u2014\u2015\u2212", "-"),
        **dict.fromkeys("\u2018\u2019\u201a\u201b", "'"),
        **dict.fromkeys("\u201c\u201d\u201e\u201f", '"'),
        **dict.fromkeys("\u00a0\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000", " "),
    }
)


def normalise_punctuation(line: str) -> str:
    """`line` trimmed, with Unicode dashes, quotes and spaces read as their ASCII look-alikes."""
    return line.strip().translate(_PUNCTUATION)


_PASSES: tuple[Callable[[str], str], ...] = (lambda s: s, str.rstrip, str.strip, normalise_punctuation)


def seek(lines: list[str], pattern: list[str], start: int, *, at_end: bool = False) -> int | None:
    """Where `pattern` first occurs in `lines` at or after `start`, or None.

    Tries an exact match, then ignoring trailing whitespace, then ignoring leading and trailing
    whitespace, then with Unicode punctuation normalised too; each pass scans the whole range before the next, looser one is tried. With
    `at_end`, the only position tried is the one that ends at the last line.
    """
    if not pattern:
        return start
    last = len(lines) - len(pattern)
    if last < start:
        return None
    candidates = range(last, last + 1) if at_end else range(start, last + 1)
    for normalise in _PASSES:
        wanted = [normalise(line) for line in pattern]
        for index in candidates:
            if all(normalise(lines[index + k]) == wanted[k] for k in range(len(pattern))):
                return index
    return None


def _hunk_failure(shown: str, hunk: Hunk, what: str) -> ToolError:
    return ToolError(
        f"apply_patch: hunk {hunk.number} of {shown} did not apply: {what}. The hunk: {hunk.describe()}. "
        "Nothing was applied; read the file again and resend the whole patch."
    )


def _replacement(hunk: Hunk, original: list[Line], start: int) -> list[tuple[str, str | None]]:
    """The lines that replace the matched span: context lines stay as they are in the file, and
    an added line takes the ending of the removed line it pairs with (None: the file's EOL)."""
    out: list[tuple[str, str | None]] = []
    position = start
    removed: list[str] = []
    for tag, text in hunk.ops:
        if tag == " ":
            out.append(original[position])
            position += 1
            removed = []
        elif tag == "-":
            removed.append(original[position][1])
            position += 1
        else:
            out.append((text, removed.pop(0) if removed else None))
    return out


def apply_hunks(original: list[Line], hunks: list[Hunk], shown: str) -> list[tuple[str, str | None]]:
    """The file's lines after applying `hunks` in order.

    A hunk with no context or removed lines inserts its lines right after its `@@` line when it
    has one, else at the end of the file.

    Raises:
        ToolError: a hunk's `@@` line or lines cannot be found (naming the hunk).
    """
    texts = [text for text, _ in original]
    cursor = 0
    edits: list[tuple[int, int, list[tuple[str, str | None]]]] = []
    for hunk in hunks:
        if hunk.context is not None:
            found = seek(texts, [hunk.context], cursor)
            if found is None:
                raise _hunk_failure(shown, hunk, f"could not find the '@@ {hunk.context}' line")
            cursor = found + 1
        if not hunk.old_lines:
            at = cursor if hunk.context is not None and not hunk.at_end else len(texts)
            edits.append((at, 0, [(text, None) for _, text in hunk.ops]))
            continue
        found = seek(texts, hunk.old_lines, cursor, at_end=hunk.at_end)
        if found is None and hunk.ops[-1] == (" ", ""):
            # Like Codex: a trailing blank context line often stands for the final newline.
            hunk = Hunk(hunk.number, hunk.context, hunk.ops[:-1], hunk.at_end)
            found = seek(texts, hunk.old_lines, cursor, at_end=hunk.at_end) if hunk.old_lines else None
        if found is None:
            where = "at the end of the file" if hunk.at_end else f"at or after line {cursor + 1}" if cursor else ""
            raise _hunk_failure(shown, hunk, f"could not find the lines to replace {where}".rstrip())
        edits.append((found, len(hunk.old_lines), _replacement(hunk, original, found)))
        cursor = found + len(hunk.old_lines)
    result: list[tuple[str, str | None]] = []
    position = 0
    for start, length, new in sorted(edits, key=lambda edit: edit[0]):
        result += original[position:start]
        result += new
        position = start + length
    result += original[position:]
    return result
