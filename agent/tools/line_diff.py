"""Unified diffs as small as `git diff`'s: a shortest edit script (Myers), not difflib's heuristic.

`difflib.unified_diff` junks lines that occur often (blank lines, `}`, `return`) in files over
200 lines, and Ratcliff/Obershelp matching is not minimal anyway: a rewrite changing 889 of 2,019
lines came out as 1,994 removed and 1,994 added. Here lines that occur on one side only are set
aside first (they can never match, so the shortest script is unchanged — git's xdiff does the
same), the common head and tail are skipped, and Myers' O(ND) algorithm finds a shortest script
for the rest. Should that take more than `MAX_STEPS` steps (a huge, scattered difference between
files made of few distinct lines), difflib's own matcher finishes the job in bounded time. The
standard library has no minimal diff, and no maintained package provides one small enough.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence

MAX_STEPS = 2_000_000
"""The work Myers' search may do (diagonals tried plus lines compared) before difflib takes over."""


def matching_pairs(a: Sequence[str], b: Sequence[str]) -> list[tuple[int, int]]:
    """Index pairs `(i, j)` with `a[i] == b[j]`, increasing in both, forming a longest common
    subsequence of the two line lists (exact unless the search exceeds `MAX_STEPS`)."""
    head = 0
    while head < len(a) and head < len(b) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < len(a) - head and tail < len(b) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    middle_a = range(head, len(a) - tail)
    middle_b = range(head, len(b) - tail)
    in_b = {b[j] for j in middle_b}
    in_a = {a[i] for i in middle_a}
    kept_a = [i for i in middle_a if a[i] in in_b]
    kept_b = [j for j in middle_b if b[j] in in_a]
    reduced = _myers([a[i] for i in kept_a], [b[j] for j in kept_b])
    if reduced is None:
        matcher = difflib.SequenceMatcher(None, [a[i] for i in kept_a], [b[j] for j in kept_b], autojunk=True)
        reduced = [(x + k, y + k) for x, y, size in matcher.get_matching_blocks() for k in range(size)]
    pairs = [(i, i) for i in range(head)]
    pairs += [(kept_a[x], kept_b[y]) for x, y in reduced]
    pairs += [(len(a) - tail + k, len(b) - tail + k) for k in range(tail)]
    return pairs


def _myers(a: Sequence[str], b: Sequence[str]) -> list[tuple[int, int]] | None:
    """Matched index pairs of a shortest edit script, or None past `MAX_STEPS`."""
    n, m = len(a), len(b)
    frontier: dict[int, int] = {1: 0}
    trace: list[dict[int, int]] = []
    steps = 0
    for d in range(n + m + 1):
        steps += d + 1
        if steps > MAX_STEPS:
            return None
        trace.append(dict(frontier))
        for k in range(-d, d + 1, 2):
            down = k == -d or (k != d and frontier[k - 1] < frontier[k + 1])
            x = frontier[k + 1] if down else frontier[k - 1] + 1
            y = x - k
            start = x
            while x < n and y < m and a[x] == b[y]:
                x += 1
                y += 1
            steps += x - start
            frontier[k] = x
            if x >= n and y >= m:
                return _backtrack(trace, n, m)
    return None


def _backtrack(trace: list[dict[int, int]], n: int, m: int) -> list[tuple[int, int]]:
    pairs: list[tuple[int, int]] = []
    x, y = n, m
    for d in range(len(trace) - 1, -1, -1):
        frontier = trace[d]
        k = x - y
        previous_k = k + 1 if k == -d or (k != d and frontier[k - 1] < frontier[k + 1]) else k - 1
        previous_x = frontier[previous_k]
        previous_y = previous_x - previous_k
        while x > previous_x and y > previous_y:
            x -= 1
            y -= 1
            pairs.append((x, y))
        x, y = previous_x, previous_y
    pairs.reverse()
    return pairs


class MinimalMatcher(difflib.SequenceMatcher[str]):
    """A `difflib.SequenceMatcher` whose matching blocks come from `matching_pairs`, so
    `get_opcodes` and `get_grouped_opcodes` describe a shortest edit script."""

    def __init__(self, a: Sequence[str], b: Sequence[str]) -> None:
        self._lines = (a, b)
        self._blocks: list[difflib.Match] | None = None
        super().__init__(None, a, b, autojunk=False)

    def get_matching_blocks(self) -> list[difflib.Match]:
        if self._blocks is not None:
            return self._blocks
        a, b = self._lines
        blocks: list[difflib.Match] = []
        for i, j in matching_pairs(a, b):
            if blocks and blocks[-1].a + blocks[-1].size == i and blocks[-1].b + blocks[-1].size == j:
                last = blocks[-1]
                blocks[-1] = difflib.Match(last.a, last.b, last.size + 1)
            else:
                blocks.append(difflib.Match(i, j, 1))
        blocks.append(difflib.Match(len(a), len(b), 0))
        self._blocks = blocks
        return blocks


def unified_lines(a: Sequence[str], b: Sequence[str], fromfile: str, tofile: str, n: int = 3) -> Iterator[str]:
    """`difflib.unified_diff` over a shortest edit script (lines keep their own line endings)."""
    started = False
    for group in MinimalMatcher(a, b).get_grouped_opcodes(n):
        if not started:
            started = True
            yield f"--- {fromfile}\n"
            yield f"+++ {tofile}\n"
        first, last = group[0], group[-1]
        yield f"@@ -{_range(first[1], last[2])} +{_range(first[3], last[4])} @@\n"
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                yield from (" " + line for line in a[i1:i2])
                continue
            if tag in ("replace", "delete"):
                yield from ("-" + line for line in a[i1:i2])
            if tag in ("replace", "insert"):
                yield from ("+" + line for line in b[j1:j2])


def _range(start: int, stop: int) -> str:
    """A hunk range as unified diffs write it (`difflib._format_range_unified`)."""
    beginning = start + 1
    length = stop - start
    if length == 1:
        return f"{beginning}"
    if not length:
        beginning -= 1
    return f"{beginning},{length}"
