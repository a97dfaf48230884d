"""Data for `bench.render`: the long Markdown answer and a 200-turn session's events.

Everything is generated deterministically (a seeded `random.Random`), so every run and every
arm streams exactly the same text. The answer mixes what a coding answer holds: headings,
paragraphs with inline code and emphasis, bullet and numbered lists (some nested), Python code
fences, tables and block quotes. It is split into deltas by the scripted engine's own
`chunk_text` (a word with its leading space, at most 16 characters), which is what
`codeassist serve` streams: one delta is one "token" of the offered rate.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

from agent.events import (
    AgentEvent,
    MessageCompleted,
    ReasoningDelta,
    ResponseFinished,
    ResponseStarted,
    TextDelta,
    ToolCallReady,
    ToolCallStarted,
    ToolFinished,
    TurnEnded,
    TurnStarted,
)
from agent.stats import TurnStats
from bench.sessions import synthetic_response_stats
from server.engines.scripted import chunk_text

DOCUMENT_CHARS = 114_000
"""The long answer's size (about 21,000 deltas)."""

_WORDS = tuple(
    " ".join(
        (
            "parser returns token when input ends value buffer stream widget frame layout render block",
            "the a of to and in for with that is on this each every cache line cell width height offset",
            "update session request response delta event queue worker timer screen style theme paint",
            "a to is it in on by at or as be we so no if it an up",
        )
    ).split(" ")
)
_NAMES = ("parse_block", "render_line", "flush", "Stream", "Cache", "layout", "offset", "Compositor", "size")


def _sentence(rng: random.Random) -> str:
    words = [rng.choice(_WORDS) for _ in range(rng.randint(8, 18))]
    if rng.random() < 0.5:
        words[rng.randrange(len(words))] = f"`{rng.choice(_NAMES)}()`"
    if rng.random() < 0.3:
        index = rng.randrange(len(words))
        words[index] = f"**{words[index]}**"
    text = " ".join(words)
    return text[0].upper() + text[1:] + "."


def _paragraph(rng: random.Random) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(3, 5)))


def _code(rng: random.Random, number: int) -> str:
    lines = [f"def {rng.choice(_NAMES).lower()}_{number}(items: list[str], limit: int = {rng.randint(2, 99)}) -> int:"]
    lines.append('    """Count what fits; a generated example."""')
    lines.append("    total = 0")
    for index in range(rng.randint(9, 16)):
        name = rng.choice(_WORDS)
        lines.append(f"    for {name}_{index} in items[:limit]:  # step {index}")
        lines.append(f"        total += len({name}_{index}) * {rng.randint(1, 9)}")
    lines.append("    return total")
    return "```python\n" + "\n".join(lines) + "\n```"


def _table(rng: random.Random) -> str:
    rows = ["| name | calls | time (ms) | note |", "|---|---:|---:|---|"]
    for _ in range(rng.randint(4, 7)):
        rows.append(
            f"| `{rng.choice(_NAMES)}` | {rng.randint(1, 5000)} | {rng.random() * 90:.2f} | "
            f"{rng.choice(_WORDS)} {rng.choice(_WORDS)} |"
        )
    return "\n".join(rows)


def _bullets(rng: random.Random) -> str:
    items = []
    for index in range(rng.randint(3, 6)):
        items.append(f"- {_sentence(rng)}")
        if index == 1:
            items.extend(f"  - {_sentence(rng)}" for _ in range(2))
    return "\n".join(items)


def _numbered(rng: random.Random) -> str:
    return "\n".join(f"{index}. {_sentence(rng)}" for index in range(1, rng.randint(3, 5) + 1))


def _section(rng: random.Random, number: int) -> str:
    parts = [f"## {number}. {rng.choice(_WORDS).capitalize()} and {rng.choice(_WORDS)}", _paragraph(rng)]
    parts.append(_bullets(rng))
    parts.append(_paragraph(rng))
    parts.append(_code(rng, number))
    if number % 2 == 0:
        parts.append(_table(rng))
    else:
        parts.append(_numbered(rng))
    if number % 3 == 0:
        parts.append("> " + _sentence(rng))
    parts.append(_paragraph(rng))
    return "\n\n".join(parts)


def document(chars: int = DOCUMENT_CHARS, seed: int = 0) -> str:
    """A Markdown answer of about `chars` characters (whole sections, then cut at a block end)."""
    rng = random.Random(seed)
    sections = ["# Where the time goes\n\n" + _paragraph(rng)]
    size = len(sections[0])
    number = 1
    while size < chars:
        section = _section(rng, number)
        sections.append(section)
        size += len(section) + 2
        number += 1
    text = "\n\n".join(sections) + "\n"
    assert text.isprintable() or all(ch.isprintable() or ch == "\n" for ch in text)
    return text


def deltas(text: str) -> list[str]:
    """The deltas `codeassist serve` streams for `text` (its own chunking)."""
    return chunk_text(text)


def stream_prefix(text: str, max_deltas: int | None) -> str:
    """The first `max_deltas` deltas of `text` (all of it for None): a shorter stream of the same answer."""
    chunks = deltas(text)
    if max_deltas is None or max_deltas >= len(chunks):
        return text
    return "".join(chunks[:max_deltas])


# ---- a long session --------------------------------------------------------------------------

TOOLS = ("read_file", "grep", "shell")


def _tool_output(rng: random.Random, name: str, turn: int) -> str:
    if name == "shell":
        lines = [f"tests/test_mod_{turn}.py::test_{rng.choice(_WORDS)}_{n} PASSED" for n in range(8)]
        return "exit code 0\n" + "\n".join(lines) + "\n8 passed in 0.42s\n"
    if name == "grep":
        return "\n".join(f"src/mod_{turn}.py:{rng.randint(1, 400)}: {_sentence(rng)}" for _ in range(5)) + "\n"
    return "".join(f"{n:6}\t{rng.choice(_WORDS)}_{n} = compute({rng.randint(1, 99)})\n" for n in range(1, 18))


def _arguments(name: str, turn: int) -> dict[str, object]:
    if name == "shell":
        return {"command": "pytest -q", "timeout_s": 60, "workdir": None}
    if name == "grep":
        return {"pattern": f"value_{turn}", "path": None, "glob": None}
    return {"path": f"src/mod_{turn}.py", "offset": None, "limit": None}


def history_events(turns: int, answer_chars: int = 2_800, seed: int = 1) -> Iterator[AgentEvent]:
    """`turns` finished turns as the loop yields them: a prompt, a little reasoning, two or three
    tool calls with their output (2.5 a turn on average, 500 for 200 turns), then a streamed
    Markdown answer of about `answer_chars` (about 1 MB of text for 200 turns, outputs included)."""
    rng = random.Random(seed)
    for turn in range(1, turns + 1):
        prompt = f"Turn {turn}: {_sentence(rng)}"
        yield TurnStarted(turn=turn, prompt=prompt)
        yield ResponseStarted(step=1, transport="websocket", incremental=turn > 1, reason="incremental", items_sent=1)
        for chunk in chunk_text(_sentence(rng) + " " + _sentence(rng)):
            yield ReasoningDelta(text=chunk)
        calls = 3 if turn % 2 else 2
        for index in range(calls):
            name = TOOLS[(turn + index) % len(TOOLS)]
            call_id = f"call_{turn}_{index}"
            yield ToolCallStarted(call_id=call_id, name=name)
            yield ToolCallReady(call_id=call_id, name=name, arguments=json.dumps(_arguments(name, turn)))
        yield ResponseFinished(stats=synthetic_response_stats(1, turn, 60))
        for index in range(calls):
            name = TOOLS[(turn + index) % len(TOOLS)]
            output = _tool_output(rng, name, turn)
            yield ToolFinished(call_id=f"call_{turn}_{index}", name=name, status="ok", output=output, duration_s=0.04)
        yield ResponseStarted(step=2, transport="websocket", incremental=True, reason="incremental", items_sent=calls)
        answer = document(answer_chars, seed=seed * 100_003 + turn)
        for chunk in chunk_text(answer):
            yield TextDelta(text=chunk)
        yield MessageCompleted(text=answer)
        responses = [synthetic_response_stats(1, turn, 60), synthetic_response_stats(2, turn, len(answer) // 4)]
        yield ResponseFinished(stats=responses[-1])
        yield TurnEnded(
            reason="completed", stats=TurnStats(turn=turn, responses=responses, total_s=4.0, tool_calls=calls)
        )


def history_text(turns: int, answer_chars: int = 2_800, seed: int = 1) -> Iterator[str]:
    """The same session as plain text, one piece per drawn block (for the `Log` floor)."""
    for event in history_events(turns, answer_chars, seed):
        match event:
            case TurnStarted(prompt=prompt):
                yield f"> {prompt}\n"
            case ToolCallReady(name=name, arguments=arguments):
                yield f"[{name}] {arguments}\n"
            case ToolFinished(output=output):
                yield output
            case MessageCompleted(text=text):
                yield text
