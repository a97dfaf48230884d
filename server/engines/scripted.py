"""The scripted engine: plays a `Scenario` deterministically, checking what it is sent."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from typing import Any

from agent.wire import Item
from server.engines.base import (
    Delta,
    EndItem,
    Fail,
    Generation,
    HostedCall,
    Incomplete,
    NextSummaryPart,
    Piece,
    StartCustomToolCall,
    StartFunctionCall,
    StartMessage,
    StartReasoning,
    item_images,
    item_text,
    trailing_input,
)
from server.scenario import (
    Expectation,
    Scenario,
    ScriptedCustomToolCall,
    ScriptedFunctionCall,
    ScriptedMessage,
    ScriptedReasoning,
    ScriptedTurn,
    ScriptedWebSearchCall,
)

_WORD = re.compile(r"\s*\S+|\s+")
_MAX_CHUNK = 16


def chunk_text(text: str) -> list[str]:
    """Split text into token-sized deltas: a word with its leading space, at most 16 chars."""
    chunks: list[str] = []
    for word in _WORD.findall(text):
        chunks.extend(word[i : i + _MAX_CHUNK] for i in range(0, len(word), _MAX_CHUNK))
    return chunks


def _matches(expectation: Expectation, item: Item) -> bool:
    if item.type != expectation.type:
        return False
    for field in ("role", "call_id", "name"):
        wanted = getattr(expectation, field)
        if wanted is not None and getattr(item, field, None) != wanted:
            return False
    if expectation.images is not None and len(item_images(item)) != expectation.images:
        return False
    return expectation.contains is None or expectation.contains in item_text(item)


def unmet_expectations(expectations: list[Expectation], items: list[Item]) -> list[Expectation]:
    """The expectations that no item satisfies."""
    return [exp for exp in expectations if not any(_matches(exp, item) for item in items)]


def choose_turn(turn: ScriptedTurn, newest_input: list[Item]) -> ScriptedTurn | None:
    """`turn`, or the first of its alternatives whose expectations `newest_input` (the input
    after the model's last output) meets; None when none fits."""
    for candidate in (turn, *turn.alternatives):
        if not unmet_expectations(candidate.expect, newest_input):
            return candidate
    return None


def url_citations(message: ScriptedMessage) -> list[dict[str, Any]]:
    """The message's `url_citation` annotations, each spanning its `cites` text (or all of it)."""
    annotations = []
    for citation in message.citations:
        found = message.text.find(citation.cites) if citation.cites else -1
        start, end = (found, found + len(citation.cites or "")) if found >= 0 else (0, len(message.text))
        annotations.append(
            {
                "type": "url_citation",
                "start_index": start,
                "end_index": end,
                "url": citation.url,
                "title": citation.title,
            }
        )
    return annotations


def web_search_call(call: ScriptedWebSearchCall, item_id: str) -> dict[str, Any]:
    """The `web_search_call` item of a scripted hosted search."""
    if call.url is not None:
        action: dict[str, Any] = {"type": "open_page", "url": call.url}
    else:
        action = {"type": "search", "query": call.query or ""}
        if call.sources:
            action["sources"] = [{"type": "url", "url": url} for url in call.sources]
    return {"id": item_id, "type": "web_search_call", "status": call.status, "action": action}


class ScriptedEngine:
    """Plays one scenario; turn *n* answers a context that holds *n* model outputs."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self.model = scenario.model

    async def generate(self, generation: Generation) -> AsyncIterator[Piece]:
        scenario = self.scenario
        if generation.turn >= len(scenario.turns):
            if scenario.on_exhausted == "fail":
                yield Fail("scenario_exhausted", f"Scenario '{scenario.name}' has only {len(scenario.turns)} turns.")
                return
            async for piece in self._stream_message(scenario.exhausted_text, scenario.tokens_per_second):
                yield piece
            return

        scripted = scenario.turns[generation.turn]
        newest = generation.newest_input
        if newest is None:
            newest = trailing_input(generation.context)
        turn = choose_turn(scripted, newest)
        if turn is None:
            if scenario.off_script_text is not None:
                async for piece in self._stream_message(scenario.off_script_text, scenario.tokens_per_second):
                    yield piece
                return
            missing = unmet_expectations(scripted.expect, newest)
            wanted = "; ".join(exp.model_dump_json(exclude_none=True) for exp in missing)
            yield Fail("scenario_mismatch", f"Turn {generation.turn} of scenario '{scenario.name}' expected {wanted}.")
            return
        if turn.fail is not None:
            yield Fail(turn.fail.get("code", "server_error"), turn.fail.get("message", "Scripted failure."))
            return

        pace = Pacer(turn.tokens_per_second if turn.tokens_per_second is not None else scenario.tokens_per_second)
        for index, output in enumerate(turn.output):
            match output:
                case ScriptedMessage(text=text):
                    yield StartMessage(tuple(url_citations(output)))
                    for chunk in chunk_text(text):
                        await pace.wait()
                        yield Delta(chunk)
                case ScriptedWebSearchCall():
                    yield HostedCall(web_search_call(output, f"ws_{generation.turn}_{index}"))
                    continue
                case ScriptedReasoning(summary=summary, encrypted_content=encrypted):
                    yield StartReasoning(encrypted)
                    for part_index, part in enumerate(summary):
                        if part_index:
                            yield NextSummaryPart()
                        for chunk in chunk_text(part):
                            await pace.wait()
                            yield Delta(chunk)
                case ScriptedFunctionCall():
                    yield StartFunctionCall(output.name, output.call_id or f"call_{generation.turn}_{index}")
                    for chunk in chunk_text(output.arguments_json()):
                        await pace.wait()
                        yield Delta(chunk)
                case ScriptedCustomToolCall():
                    yield StartCustomToolCall(output.name, output.call_id or f"call_{generation.turn}_{index}")
                    for chunk in chunk_text(output.input):
                        await pace.wait()
                        yield Delta(chunk)
            yield EndItem()
        if turn.incomplete is not None:
            yield Incomplete(turn.incomplete)

    async def _stream_message(self, text: str, tokens_per_second: float) -> AsyncIterator[Piece]:
        pace = Pacer(tokens_per_second)
        yield StartMessage()
        for chunk in chunk_text(text):
            await pace.wait()
            yield Delta(chunk)
        yield EndItem()


class Pacer:
    """Spaces deltas at a fixed rate without drift; a rate of 0 never waits."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self.next_at: float | None = None

    async def wait(self) -> None:
        if not self.interval:
            return
        now = time.monotonic()
        if self.next_at is None:
            self.next_at = now
        delay = self.next_at - now
        if delay > 0:
            await asyncio.sleep(delay)
        self.next_at += self.interval
