"""Compaction: keeping a long conversation inside the model's context window.

Three ways, one outcome (the conversation's *window*, what a full resend sends, gets smaller;
the transcript keeps everything):

- **In the stream** (`auto`): requests carry `context_management`; past the threshold the server
  emits a `compaction` item before its reply and goes on from it (`Conversation.commit` moves the
  window; `Compactor.after_response` reports it).
- **Standalone** (`manual`, `recovery`): `POST /v1/responses/compact` with the current window; its
  output (user messages verbatim, then one `compaction` item) replaces the window.
- **Client-side** (`client`, and the other two where the endpoint has no compaction): a
  summarising request on the HTTP transport — a side channel, so the WebSocket's connection
  cache, which holds the main chain, is never evicted — whose summary replaces the window.

An endpoint that rejects `context_management` is detected once per session (see
`agent.model_client`); from then on codeassist compacts client-side when the last response's
tokens reach the threshold. A `context_length_exceeded` compacts and retries the request once.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from typing import Any

import httpx
import orjson
from pydantic import TypeAdapter, ValidationError

from agent.conversation import Conversation, is_compaction
from agent.events import AgentError, AgentEvent, Compacted, CompactionMode, CompactionStarted
from agent.model_client import ModelClient, ModelError, ServerError
from agent.transport.base import StreamMetrics, TransportError
from agent.transport.http import ResponsesHTTP
from agent.wire import Item, Message
from agent.wire.errors import error_body_payload
from agent.wire.event_types import TERMINALS
from agent.wire.items import InputText, assistant_text, user_message
from agent.wire.response import Usage
from agent.wire.tokens import json_tokens

CONTEXT_LENGTH_EXCEEDED = "context_length_exceeded"

SUMMARY_PREFIX = "Summary of the conversation so far (written when its context was compacted):"
"""How the summary of a client-side compaction starts, in the window that replaces the old one."""

SUMMARY_INSTRUCTIONS = (
    "You compact a coding assistant's conversation so the work can go on in a fresh context. "
    "Write a dense summary of everything needed to continue: the user's goals and constraints, "
    "decisions taken, files read or changed (with paths), commands run and their outcomes, open "
    "problems and the next steps. Do not call tools."
)

STILL_TOO_LONG = (
    "The conversation is over the model's context window even after compacting it. "
    "Start a new session (/new, or a new `codeassist exec` without --continue), or lower "
    "compact_threshold so compaction happens earlier."
)

_ITEMS: TypeAdapter[list[Item]] = TypeAdapter(list[Item])


class CompactionFailed(Exception):
    """A compaction could not be had; the message says why."""


class CompactionUnsupported(CompactionFailed):
    """The endpoint has no standalone compaction (404/405, or it refused the request as unknown)."""


def estimate_tokens(items: list[Item]) -> int:
    """About how many tokens `items` take, by the rule `codeassist serve` counts with
    (`agent.wire.tokens`: four bytes of compact JSON a token, an image a fixed count)."""
    return json_tokens([item.model_dump(mode="json") for item in items])


class CompactEndpoint:
    """`POST …/responses/compact`, sent by the session's HTTP transport (its pooled connections,
    credentials and TLS settings).

    Args:
        http: the session's HTTP/SSE transport.
        timeout: seconds for the whole call.
    """

    def __init__(self, http: ResponsesHTTP, *, timeout: float = 300.0) -> None:
        self.http = http
        self.url = f"{http.url}/compact"
        self._timeout = timeout

    async def compact(self, body: dict[str, Any]) -> dict[str, Any]:
        """The endpoint's answer (`object: response.compaction`).

        Raises:
            CompactionUnsupported: the endpoint has no compaction.
            CompactionFailed: any other failure (the message says which).
        """
        try:
            response = await self.http.post("/compact", body, timeout=self._timeout)
        except httpx.HTTPError as exc:
            raise CompactionFailed(f"the compaction request failed: {exc or type(exc).__name__}") from None
        if response.status_code in (404, 405):
            raise CompactionUnsupported(f"the endpoint has no {self.url} (HTTP {response.status_code})")
        payload = error_body_payload(response.content) if response.status_code != 200 else None
        if response.status_code != 200:
            message = payload.message if payload is not None else response.text[:300]
            code = payload.code if payload is not None else None
            if code == CONTEXT_LENGTH_EXCEEDED:
                raise CompactionFailed(f"the endpoint could not compact: {message}")
            if response.status_code == 400 and "compact" in (message or "").lower():
                raise CompactionUnsupported(f"the endpoint refused compaction: {message}")
            raise CompactionFailed(f"the endpoint answered HTTP {response.status_code}: {message}")
        try:
            data = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise CompactionFailed("the endpoint's compaction answer is not JSON") from None
        if not isinstance(data, dict):
            raise CompactionFailed("the endpoint's compaction answer is not an object")
        return data


class Compactor:
    """Runs compactions of one session's conversation.

    Args:
        client: the model client (its HTTP transport is the client-side summary's side channel).
        conversation: the conversation whose window is compacted.
        endpoint: the standalone compaction endpoint (None: always client-side).
    """

    def __init__(self, client: ModelClient, conversation: Conversation, endpoint: CompactEndpoint | None) -> None:
        self.client = client
        self.conversation = conversation
        self.endpoint = endpoint
        self.standalone_refused: str | None = None
        """Why the standalone endpoint is not used any more, once it refused."""
        self.context_tokens: int | None = None
        """Tokens of the context after the latest response (its input plus output)."""
        self.compactions = 0
        """Compactions of this session so far (any mode)."""

    @property
    def client_side(self) -> bool:
        """Whether codeassist compacts by itself (the endpoint takes no `context_management`)."""
        return self.conversation.threshold is not None and self.conversation.context_management is None

    def describe(self) -> str:
        """How this session compacts, for the stats."""
        conversation = self.conversation
        if conversation.threshold is None:
            return "off"
        if conversation.server_compaction_refused:
            return f"client-side (the endpoint refused context_management: {conversation.server_compaction_refused})"
        if conversation.context_management is None:
            return "client-side (the model does not take context_management)"
        return f"server, at {conversation.threshold:,} tokens"

    # ---- what responses tell -------------------------------------------------------------

    def after_response(self, usage: Usage | None) -> Compacted | None:
        """Note a finished response's usage; a `Compacted` when the server compacted inside it."""
        before = self.context_tokens
        if usage is not None:
            self.context_tokens = usage.input_tokens + usage.output_tokens
        compacted = self.conversation.take_stream_compaction()
        if compacted is None:
            return None
        items_before, items_after = compacted
        self.compactions += 1
        return Compacted(
            mode="auto",
            tokens_before=before,
            tokens_after=usage.input_tokens if usage is not None else None,
            items_before=items_before,
            items_after=items_after,
        )

    def due(self) -> bool:
        """Whether a client-side compaction is due before the next request: codeassist compacts
        by itself, the context reached the threshold, and something came since the last one."""
        threshold = self.conversation.threshold
        if not self.client_side or threshold is None or self.context_tokens is None:
            return False
        return self.context_tokens >= threshold and len(self.conversation.items) > self.conversation.window_start

    # ---- compacting ------------------------------------------------------------------------

    async def compact(self, mode: CompactionMode, focus: str | None = None) -> AsyncGenerator[AgentEvent]:
        """Compact the window now: `CompactionStarted`, then `Compacted`.

        Raises:
            CompactionFailed: no compaction could be had (the window is unchanged).
        """
        conversation = self.conversation
        window = conversation.window()
        yield CompactionStarted(mode=mode)
        before = self.context_tokens if self.context_tokens is not None else estimate_tokens(window)
        use_standalone = (
            self.endpoint is not None and not self.standalone_refused and not self.client_side and mode != "client"
        )
        replacement: list[Item] | None = None
        if use_standalone:
            try:
                replacement = await self._standalone(window, focus)
            except CompactionUnsupported as exc:
                self.standalone_refused = str(exc)
        if replacement is None:
            replacement = await self._summarise(window, focus)
        conversation.replace_window(replacement)
        self.context_tokens = None
        self.compactions += 1
        yield Compacted(
            mode=mode,
            tokens_before=before,
            tokens_after=estimate_tokens(replacement),
            items_before=len(window),
            items_after=len(replacement),
            window=[item.model_dump(mode="json") for item in replacement],
        )

    async def manual(self, focus: str | None) -> AsyncGenerator[AgentEvent]:
        """`/compact [focus]`: compact now; a failure becomes an `AgentError` (nothing changes)."""
        if not self.conversation.window():
            yield AgentError(message="Nothing to compact yet.", code="nothing_to_compact")
            return
        try:
            async with aclosing(self.compact("manual", focus)) as events:
                async for event in events:
                    yield event
        except CompactionFailed as exc:
            yield AgentError(message=f"Compaction failed: {exc}", code="compaction_failed")

    async def recovering(
        self, respond: Callable[[], AsyncGenerator[AgentEvent]], over_window: Callable[[], bool]
    ) -> AsyncGenerator[AgentEvent]:
        """Run `respond()`; when the request is over the context window (`context_length_exceeded`
        as an error, or a failed response saying so, `over_window()`), compact and run it once more.

        Raises:
            ModelError: still over the window after compacting, or the compaction failed (the
                message says what to do).
        """
        for attempt in (1, 2):
            try:
                async with aclosing(respond()) as events:
                    async for event in events:
                        yield event
                if not over_window():
                    return
            except ModelError as exc:
                if exc.code != CONTEXT_LENGTH_EXCEEDED:
                    raise
            if attempt == 2:
                raise ModelError(STILL_TOO_LONG, code=CONTEXT_LENGTH_EXCEEDED)
            try:
                async with aclosing(self.compact("recovery")) as events:
                    async for event in events:
                        yield event
            except CompactionFailed as exc:
                raise ModelError(
                    f"The request is over the model's context window and compacting failed ({exc}). {STILL_TOO_LONG}",
                    code=CONTEXT_LENGTH_EXCEEDED,
                ) from None

    # ---- the two ways ----------------------------------------------------------------------

    async def _standalone(self, window: list[Item], focus: str | None) -> list[Item]:
        assert self.endpoint is not None
        settings = self.conversation.settings
        body: dict[str, Any] = {"model": settings.model, "input": [item.model_dump(mode="json") for item in window]}
        instructions = settings.instructions or ""
        if focus:
            instructions = f"{instructions}\n\nWhen compacting, keep in particular: {focus}".strip()
        if instructions:
            body["instructions"] = instructions
        answer = await self.endpoint.compact(body)
        try:
            output = _ITEMS.validate_python(answer.get("output"))
        except ValidationError:
            raise CompactionFailed("the endpoint's compaction answer has no readable output") from None
        if not any(is_compaction(item) for item in output):
            raise CompactionFailed("the endpoint's compaction answer holds no compaction item")
        return output

    async def _summarise(self, window: list[Item], focus: str | None) -> list[Item]:
        """A summarising request on the HTTP transport; the window it gives: the user's messages
        verbatim, then the summary."""
        settings = self.conversation.settings
        ask = "Summarise the conversation above as instructed."
        if focus:
            ask += f" Keep in particular: {focus}"
        body = {
            **settings.body_fields(),
            "instructions": SUMMARY_INSTRUCTIONS,
            "tool_choice": "none",
            "input": [item.model_dump(mode="json") for item in [*window, user_message(ask)]],
        }
        body.pop("previous_response_id", None)
        transport = self.client.http
        metrics = StreamMetrics()
        terminal: dict[str, Any] | None = None
        try:
            async with aclosing(transport.stream(body, metrics)) as events:
                async for event in events:
                    kind = event.get("type")
                    if kind == "error":
                        error = ServerError.from_event(event)
                        raise CompactionFailed(f"the summarising request failed: {error}")
                    if kind in TERMINALS:
                        terminal = event
                        break
        except TransportError as exc:
            raise CompactionFailed(f"the summarising request failed: {exc}") from None
        response = terminal.get("response") if terminal is not None else None
        if not isinstance(response, dict) or terminal is None or terminal.get("type") != "response.completed":
            raise CompactionFailed("the summarising request did not complete")
        try:
            summary = assistant_text(_ITEMS.validate_python(response.get("output") or []))
        except ValidationError:
            summary = ""
        if not summary.strip():
            raise CompactionFailed("the summarising request gave no summary")
        kept = [item for item in window if isinstance(item, Message) and item.role == "user"]
        note = Message(role="developer", content=[InputText(text=f"{SUMMARY_PREFIX}\n\n{summary}")])
        return [*kept, note]
