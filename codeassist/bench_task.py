"""The benchmark workload: a realistic coding-agent context and canned tool results.

Shared by `codeassist bench` (against a real model) and `bench/transport.py` (against the
scripted server), so both send the same kind of request: an ~8 KB system prompt, six real
codeassist tool schemas, and tool outputs of a few KB that look like what the tools return
(listings, numbered source, grep hits, test runs, patches). Everything is deterministic: the
same index always gives the same text. No tool is ever run.
"""

from __future__ import annotations

import json
import random
from typing import Any

from agent.instructions import BASE_INSTRUCTIONS
from agent.tools import ToolRegistry, default_tools

TOOL_NAMES = ("read_file", "list_files", "grep", "edit_file", "apply_patch", "shell")
"""The tools offered to the model (a subset of codeassist's own)."""

TASK_PROMPT = (
    "The test tests/test_wordcount.py::test_unicode_words fails on inputs with combining accents. "
    "Find where words are split, fix it without changing the public API, and run the tests."
)

NUDGES = (
    "Keep going: look at the tokenizer next and tell me what you find.",
    "Now check how the CLI calls it, then run the relevant tests.",
    "Summarise what you changed so far and what is left.",
)
"""User messages that keep a real model working when it answers without calling a tool."""

_PROJECT_GUIDE = """\
# Project guide (AGENTS.md)

wordcount is a small, dependency-free Python library and command line that counts words, lines
and characters in text files, with Unicode-aware word boundaries. It is used in CI pipelines, so
its output format and exit codes are a public contract.

## Layout

- `src/wordcount/core.py` - the counting functions (`count_words`, `count_lines`, `count_chars`)
  and the `Counts` dataclass. Pure functions, no I/O.
- `src/wordcount/tokenizer.py` - word segmentation. Splits on Unicode whitespace and punctuation
  classes; keeps apostrophes inside words; normalises to NFC before splitting.
- `src/wordcount/cli.py` - argument parsing, file reading (UTF-8 with a latin-1 fallback that
  warns), output formatting (`--json`, `--totals-only`), exit codes.
- `src/wordcount/io.py` - streaming file reader with a 64 KiB buffer; never loads a whole file.
- `tests/` - pytest suite mirroring `src/`; property tests in `tests/properties/` use hypothesis.
- `docs/` - the user guide; `docs/format.md` documents the output format and must be updated
  with any change to it.

## Conventions

- Python 3.11+, type hints everywhere, `from __future__ import annotations` at the top.
- Format with `ruff format`; lint with `ruff check` (the config is in `pyproject.toml`).
- No new runtime dependencies. Test dependencies go in the `test` extra.
- Public functions have docstrings with Args/Returns/Raises sections. Private helpers start with
  an underscore and have a one-line docstring when their purpose is not obvious.
- Errors: raise `WordcountError` subclasses from the library; the CLI turns them into messages on
  stderr and exit code 2. Never print from library code.
- Keep functions short. If a change makes a function longer than ~40 lines, split it.
- Do not change behaviour that is not covered by the task; if you notice a bug elsewhere, mention
  it in your summary instead of fixing it.

## Testing

- Run the whole suite with `pytest -q`. It takes about 20 seconds; the property tests are the
  slow part. Run a single file with `pytest -q tests/test_core.py` while iterating.
- Every bug fix needs a regression test that fails before the fix and passes after it.
- Property tests must not use `@settings(max_examples=...)` above 200; CI has a time budget.
- Tests must not touch the network or write outside `tmp_path`.
- Snapshot tests in `tests/snapshots/` compare CLI output byte for byte; regenerate them only when
  the output format is meant to change, with `pytest --snapshot-update`, and say so in the summary.

## Unicode notes

- Word boundaries follow a simplified UAX #29: a word is a maximal run of letters, marks, digits
  and connector punctuation, plus apostrophes and hyphens between letters.
- Combining marks (category M*) belong to the preceding base character. Splitting between a base
  and its mark is always a bug.
- Input is normalised to NFC before counting, but tests also feed NFD text directly to the
  tokenizer; both forms must give the same counts.
- Emoji sequences (ZWJ, skin tones, flags) count as one word when they stand alone and as part of
  the word when attached to letters.
- Characters counted by `count_chars` are extended grapheme clusters, not code points.

## Performance

- The tokenizer is on the hot path: avoid per-character Python function calls where a compiled
  regular expression can do the work. Benchmarks live in `benchmarks/` and run with
  `python -m benchmarks.tokenize`; a change that slows them down by more than 10% needs a reason.
- Never build the whole file in memory: the reader yields chunks and the tokenizer must handle
  words split across chunk boundaries (there is a test for that in `tests/test_io.py`).

## Git and reviews

- Small, focused commits with imperative subjects ("Fix splitting of combining marks").
- Do not commit generated files, caches or editor settings.
- Update `CHANGELOG.md` under "Unreleased" for user-visible changes.

## Working style for assistants

- Read the relevant code before proposing a change. Prefer `grep` to find call sites and
  `read_file` with a line range over reading whole large files.
- Explain the root cause in one or two sentences before the fix.
- Make the change with `apply_patch` or `edit_file`; keep diffs minimal and do not reformat
  unrelated lines.
- After the change, run the narrowest tests first, then the full suite.
- When a command fails, read the error before retrying; do not loop on the same command.
- If the task is ambiguous, state the assumption you made.
- Finish with: what was wrong, what you changed (files and functions), which tests you ran and
  their result, and anything you would follow up on.

## Output format (public contract)

- Default output: one line per file, `<lines> <words> <chars> <path>`, right-aligned columns whose
  width is the widest number in the run; then a `total` line when more than one file is given.
- `--json` prints one object per file, `{"path", "lines", "words", "chars"}`, then
  `{"total": {...}}`; keys are always in that order and numbers are never quoted.
- `--totals-only` prints only the total line (or object); with a single file it prints that file.
- Paths are printed as given on the command line, never resolved or made absolute.
- Files that cannot be read are reported on stderr as `wordcount: <path>: <reason>` and skipped;
  the exit code is then 1, unless an argument error happened (exit code 2).
- Reading standard input (`-` or no arguments) prints no path column.

## Error handling

- `WordcountError` is the base class; `DecodeError`, `ReadError` and `UsageError` derive from it.
- Library functions never catch broad exceptions; they let unexpected errors propagate.
- The latin-1 fallback warns once per file on stderr (`wordcount: <path>: not UTF-8, read as
  latin-1`), counts normally, and does not change the exit code.
- Messages are lowercase, have no trailing period and name the file when there is one.

## Common pitfalls

- `str.split()` without arguments splits on Unicode whitespace but knows nothing about marks or
  punctuation; it is only correct for the `--simple` mode, which exists for compatibility.
- `unicodedata.normalize` is not free: normalise each chunk once, not each word.
- A chunk boundary can fall between a base character and its combining mark, or inside a
  surrogate-free but multi-code-point grapheme; carry the tail of each chunk into the next.
- `len()` on a string counts code points; use the grapheme helper in `unicode_data.py` for
  `count_chars`.
- The Windows console may not be UTF-8: the CLI writes bytes with `errors="replace"` there, and
  the snapshot tests run with `PYTHONIOENCODING=utf-8` to stay stable.
- Hypothesis may find NUL bytes and lone surrogates; both must be counted, never crash.

## Release process (for reference; assistants never release)

- Versions follow semantic versioning; the output format is part of the major version.
- `CHANGELOG.md` entries are grouped as Added, Changed, Fixed; each links to its issue.
- A release is tagged from `main` after CI passes on Linux, macOS and Windows for Python 3.11
  to 3.13; wheels are built by CI, never locally.
"""

SYSTEM_PROMPT = BASE_INSTRUCTIONS + "\n" + _PROJECT_GUIDE
"""The instructions: codeassist's base prompt plus a project guide, about 8 KB."""


def tool_specs() -> list[dict[str, Any]]:
    """The JSON schemas of `TOOL_NAMES`, exactly as codeassist sends them."""
    specs = {spec["name"]: spec for spec in ToolRegistry(default_tools()).specs()}
    return [specs[name] for name in TOOL_NAMES]


# ---- canned tool outputs ---------------------------------------------------------------------

_MODULES = ("core", "tokenizer", "cli", "io", "errors", "format", "unicode_data", "stream")
_NAMES = ("text", "words", "chunk", "counts", "boundary", "marks", "buffer", "token", "line", "total")
_TEMPLATES = (
    "    {a} = {b}.strip()",
    "    if not {a}:",
    "        return {b}",
    "    for {a} in {b}:",
    "        {a}.append(_normalise({b}))",
    '    """Return the {a} of {b} (NFC-normalised)."""',
    "    {a} = unicodedata.category({b})",
    "    if {a}.startswith('M') and {b}:",
    "        {a}[-1] += {b}",
    "    return Counts(words=len({a}), lines={b}.count('\\n'))",
    "    raise WordcountError(f'cannot read {{{a}!r}}: {{{b}}}')",
    "    {a} = _WORD_RE.finditer({b})",
    "    yield from ({a}.group(0) for {a} in {b})",
    "",
)


def _source_lines(rng: random.Random, count: int) -> list[str]:
    lines = []
    for _ in range(count):
        if rng.random() < 0.08:
            lines.append(f"def {rng.choice(_NAMES)}_{rng.choice(_NAMES)}({rng.choice(_NAMES)}: str) -> list[str]:")
        else:
            lines.append(rng.choice(_TEMPLATES).format(a=rng.choice(_NAMES), b=rng.choice(_NAMES)))
    return lines


def tool_arguments(name: str, index: int) -> dict[str, Any]:
    """Plausible arguments for the `index`-th call of tool `name` (used by the scripted model)."""
    module = _MODULES[index % len(_MODULES)]
    by_tool: dict[str, dict[str, Any]] = {
        "read_file": {"path": f"src/wordcount/{module}.py", "offset": 1 + (index * 37) % 200, "limit": 120},
        "list_files": {"path": "src" if index % 2 else "."},
        "grep": {"pattern": rf"def \w*{_NAMES[index % len(_NAMES)]}", "path": "src"},
        "edit_file": {
            "path": f"src/wordcount/{module}.py",
            "old": "words.append(w)",
            "new": "words.append(_join_marks(w))",
        },
        "apply_patch": {
            "patch": f"*** Begin Patch\n*** Update File: src/wordcount/{module}.py\n@@\n"
            "-    return text.split()\n+    return _split_words(text)\n*** End Patch"
        },
        "shell": {"command": "pytest -q tests/test_wordcount.py" if index % 2 else "pytest -q"},
    }
    return by_tool.get(name, {"value": index})


def canned_output(name: str, index: int) -> str:
    """A deterministic, realistic result of a few KB for the `index`-th call of tool `name`."""
    rng = random.Random(f"{name}:{index}")
    if name == "read_file":
        start = 1 + (index * 37) % 200
        lines = _source_lines(rng, 110)
        return "\n".join(f"{start + n:6}\t{line}" for n, line in enumerate(lines))
    if name == "list_files":
        files = sorted(
            {f"src/wordcount/{m}.py" for m in _MODULES}
            | {
                f"tests/{rng.choice(('test_', 'properties/test_'))}{m}_{n}.py"
                for m in _MODULES
                for n in range(rng.randint(6, 9))
            }
            | {f"docs/{n}.md" for n in _NAMES}
        )
        return "\n".join(files)
    if name == "grep":
        return "\n".join(
            f"src/wordcount/{rng.choice(_MODULES)}.py:{rng.randint(1, 400)}:{line.strip() or 'pass'}"
            for line in _source_lines(rng, 60)
        )
    if name == "shell":
        failures = rng.randint(0, 2)
        lines = [f"tests/test_{m}.py {'.' * rng.randint(8, 40)}" for m in _MODULES]
        for failure in range(failures):
            lines += [
                "",
                f"____ test_unicode_words[case{failure}] ____",
                "",
                *(f">   {line}" for line in _source_lines(rng, 12)),
                "E   AssertionError: assert ['cafe', '\u0301'] == ['caf\u00e9']",
                f"tests/test_wordcount.py:{rng.randint(20, 200)}: AssertionError",
            ]
        passed = rng.randint(180, 240)
        lines.append(
            f"{failures} failed, {passed} passed in {rng.uniform(3, 20):.2f}s"
            if failures
            else f"{passed} passed in {rng.uniform(3, 20):.2f}s"
        )
        return "exit code: " + ("1" if failures else "0") + "\n" + "\n".join(lines)
    if name in ("edit_file", "apply_patch"):
        module = _MODULES[index % len(_MODULES)]
        diff = [
            f"--- a/src/wordcount/{module}.py",
            f"+++ b/src/wordcount/{module}.py",
            f"@@ -{index + 10},7 +{index + 10},7 @@",
        ]
        diff += [f" {line}" for line in _source_lines(rng, 3)]
        diff += ["-        words.append(w)", "+        words.append(_join_marks(w))"]
        diff += [f" {line}" for line in _source_lines(rng, 3)]
        return f"Success. Updated the following files:\nM src/wordcount/{module}.py\n" + "\n".join(diff)
    return json.dumps({"result": index, "note": "canned output"})
