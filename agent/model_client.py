"""`ModelClient`: one model response at a time, from its plan to its one typed result.

For each response the client plans the request (incremental or full resend), sends it on the
session's transport, stamps its moments (`response.created`, first output token, terminal event)
on the request's `StreamMetrics`, parses the terminal event once with the wire models, commits
the output to the conversation (or breaks the chain), and ends with one `ResponseResult`. The
loop, `codeassist bench` and `bench/` all read their figures from that result.

| failure | what happens |
|---|---|
| `previous_response_not_found` | one immediate full resend |
| `websocket_connection_limit_reached` | one immediate reconnect and full resend (retry budget unchanged) |
| socket closed / stalled / bad frame / malformed event / 5xx / 429 / `server_error` / `server_is_overloaded` / `slow_down` / `rate_limit_exceeded` | backoff with jitter (honouring `Retry-After`, at most 300 s), new socket when it closed, full resend; at most `max_retries` |
| `response.failed` whose error is one of those server-side codes | the same backoff and full resend on the same socket; after `max_retries` the response ends failed with the server's message (no fallback) |
| 400 naming `context_management` (an endpoint without compaction) | once per session: stop sending the field (`CompactionRefused`; codeassist compacts client-side), one immediate resend |
| `context_length_exceeded` | fails now (`ModelError`); the loop compacts and retries once (`agent.compaction`) |
| upgrade refused with 426/404/405 (the endpoint has no WebSocket mode) | HTTP/SSE for the rest of the session |
| upgrade refused with 403 | the same request once over HTTP/SSE: when HTTP answers, HTTP/SSE for the rest of the session ("the endpoint refused WebSocket (HTTP 403) and answers over HTTP"); when it fails too, the response fails with both reasons and the next turn tries WebSocket again |
| WebSocket keeps failing (`max_retries` used up) | HTTP/SSE for now; the next turn starts on WebSocket again (a new socket and a full resend, incremental after it); when that try fails the session stays on HTTP/SSE and waits 2, 4, 8, … turns before the next; a turn that stays on WebSocket resets the wait (`agent.transport.switching`) |
| 401, frame over the size limit, `insufficient_quota`, other 4xx, `response.failed` with any other error | fails now with the server's message (`ModelError`, or a failed result) |

Partial output of a failed attempt is abandoned: the caller is told with `Retrying` and starts
the response afresh. A request is never replayed on the same chain after a failure: every retry
is a full resend, so the model's context is exactly the local transcript.

Every event is checked before it is read (`agent.wire.checked`): a field the client uses that is
missing or of the wrong type makes the event malformed, a `ProtocolViolation` retried as above.
Repeats never reach the loop: events of a response that already ended are skipped by the
transport (`agent.wire.finished`), a repeated output item or a tool call whose call id the session
already knows is skipped here, and tool calls repeated in a response's output are left out of it
(`agent.call_ledger`); all are counted in `ResponseStats.ignored_events`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from pydantic import TypeAdapter, ValidationError

from agent.call_ledger import CallLedger
from agent.conversation import Conversation, RequestPlan
from agent.stats import Reconnect, ResponseStats, SessionStats, TransportSwitch
from agent.transport.base import (
    AuthenticationFailed,
    ProtocolViolation,
    StreamInterrupted,
    StreamMetrics,
    Transport,
    TransportAborted,
    TransportError,
    UpgradeForbidden,
    WebSocketUnsupported,
)
from agent.transport.switching import CameBack as CameBack
from agent.transport.switching import FellBack as FellBack
from agent.transport.switching import ReturnSchedule, TransportSwitching
from agent.transport.switching import TransportSwitched as TransportSwitched
from agent.wire.checked import MalformedEvent, check_event, event_item, event_response, optional_text
from agent.wire.errors import ErrorEvent
from agent.wire.event_types import COMMITTED_TERMINALS, ERROR, FIRST_TOKEN_EVENTS, TERMINALS, TOOL_ITEM_TYPES
from agent.wire.items import CustomToolCall, FunctionCall, Item, assistant_text
from agent.wire.response import Usage

_ITEMS: TypeAdapter[list[Item]] = TypeAdapter(list[Item])

ResponseStatus: TypeAlias = Literal["completed", "incomplete", "failed"]
"""How a response ended (`response.done`, the legacy terminal, counts as completed)."""

_STATUS: dict[str, ResponseStatus] = {
    kind: "failed" if kind not in COMMITTED_TERMINALS else "incomplete" if kind.endswith("incomplete") else "completed"
    for kind in TERMINALS
}
"""Each terminal event's status: a committed terminal completed or stopped short; the rest failed."""


@dataclass(frozen=True)
class RequestStarted:
    """A request is going out (again, after a `Retrying`): what it sends and why.

    `plan` is for reading only: the client commits the response itself.
    """

    plan: RequestPlan
    metrics: StreamMetrics


@dataclass(frozen=True)
class Retrying:
    """The attempt failed; the response starts over after `delay_s`."""

    attempt: int
    delay_s: float
    cause: str


@dataclass(frozen=True)
class CompactionRefused:
    """The endpoint rejected `context_management`: it is not sent again this session, and the
    response starts over without it."""

    reason: str


@dataclass(frozen=True)
class ResponseResult:
    """How one response ended: the last thing `ModelClient.respond` yields.

    Its output is already in the conversation (completed or incomplete with an id), or the
    chain is broken (failed).
    """

    status: ResponseStatus
    response: dict[str, Any]
    """The response object of the terminal event as received (an `error` is added when its
    output items could not be read)."""
    output: list[Item]
    """The validated output items (from `response.output`, else the streamed `output_item.done`s)."""
    usage: Usage | None
    plan: RequestPlan
    """What the request that counted sent, and why."""
    metrics: StreamMetrics
    """The counters of the attempt that counted (bytes of abandoned attempts included)."""
    stats: ResponseStats
    """The figures the stats panel, the session log and the benchmarks show."""
    event: dict[str, Any]
    """The terminal event as received."""
    retries: int = 0
    """Attempts abandoned before this one."""
    repeated_calls: tuple[str, ...] = ()
    """Call ids of tool calls left out of `output`: the session had seen them already, or they
    repeated an earlier call of the same response (they are never run)."""

    @property
    def response_id(self) -> str | None:
        value = self.response.get("id")
        return value if isinstance(value, str) else None

    @property
    def calls(self) -> list[FunctionCall | CustomToolCall]:
        """The tool calls the response asks for, in order."""
        return [item for item in self.output if isinstance(item, FunctionCall | CustomToolCall)]

    @property
    def text(self) -> str:
        """The assistant's full text: every output text and refusal part, in order."""
        return assistant_text(self.output)

    @property
    def failure(self) -> str:
        """Why the response did not complete, for the user ("" when it completed)."""
        if self.status == "incomplete":
            details = self.response.get("incomplete_details")
            reason = optional_text(details.get("reason")) if isinstance(details, dict) else None
            return f"The response is incomplete ({reason or 'unknown'})."
        if self.status == "failed":
            return f"The response failed: {self.error_detail}"
        return ""

    @property
    def error_detail(self) -> str:
        """The response's `error` message (or code), "no reason given" when it has none."""
        error = self.response.get("error")
        if not isinstance(error, dict):
            return "no reason given"
        return str(error.get("message") or error.get("code") or "no reason given")


class ModelError(Exception):
    """A response that cannot be had: the message is for the user."""

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class ServerError(TransportError):
    """An `error` event (either shape) or an HTTP error status turned into one."""

    def __init__(self, event: ErrorEvent) -> None:
        self.event = event
        self.code: str | None = event.error_code
        self.status: int | None = event.http_status
        message = event.error_message or "The server reported an error."
        super().__init__(message, retry_after=event.retry_after, cause=self.code or f"http_{self.status}")
        self.retryable = self._is_transient()

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> ServerError:
        """Parse an `error` event dict (either shape, whatever its field types)."""
        return cls(ErrorEvent.lenient(event))

    @classmethod
    def from_failed_response(cls, response: dict[str, Any]) -> ServerError:
        """The `error` of a `response.failed` event's response, read as an error event."""
        error = response.get("error")
        return cls(ErrorEvent.lenient({"type": "error", "error": error if isinstance(error, dict) else None}))

    def _is_transient(self) -> bool:
        if self.code == "insufficient_quota":
            return False
        if self.code in ("server_error", "server_is_overloaded", "slow_down", "rate_limit_exceeded"):
            return True
        return self.status is not None and (self.status == 429 or self.status >= 500)


def _checked(event: dict[str, Any]) -> str:
    """The event's type, once the fields the client reads are checked (`agent.wire.checked`).

    Transports yield decoded frames, whose `type` is a string (`agent.wire.fast.decode_frame`).

    Raises:
        ProtocolViolation: the event is malformed (retried like a bad frame).
    """
    try:
        check_event(event)
    except MalformedEvent as exc:
        raise ProtocolViolation(f"The server sent a malformed event ({exc}).", cause="malformed_event") from None
    kind: str = event["type"]
    return kind


class _StreamedItems:
    """The output items one attempt has streamed so far: repeats are recognised (by item id, or
    by a call id already streamed or known to the session's ledger)."""

    def __init__(self, ledger: CallLedger) -> None:
        self.ledger = ledger
        self.ids: dict[bool, set[str]] = {False: set(), True: set()}
        self.calls: dict[bool, set[str]] = {False: set(), True: set()}

    def repeated(self, item: dict[str, Any], *, done: bool) -> bool:
        """Whether `item` (of an `output_item.added`, or `.done` with `done`) repeats one already
        streamed, or is a tool call whose call id the session has seen."""
        item_id = item.get("id")
        if isinstance(item_id, str):
            if item_id in self.ids[done]:
                return True
            self.ids[done].add(item_id)
        if item.get("type") in TOOL_ITEM_TYPES:
            call_id = item["call_id"]
            if call_id in self.calls[done] or self.ledger.known(call_id):
                return True
            self.calls[done].add(call_id)
        return False


def backoff_delay(attempt: int, *, initial: float = 0.5, maximum: float = 8.0) -> float:
    """Exponential backoff before jitter: 0.5, 1, 2, 4, 8, 8, … seconds."""
    return min(initial * 2.0 ** (attempt - 1), maximum)


def rejects_context_management(error: ServerError) -> bool:
    """Whether `error` is an endpoint refusing the `context_management` field (a 400 naming it)."""
    event = error.event
    param = (event.error.param if event.error else None) or event.param or ""
    named = "context_management" in param or "context_management" in str(error)
    invalid = error.status == 400 or event.error_type == "invalid_request_error" or error.code is not None
    return named and invalid


StreamItem: TypeAlias = (
    RequestStarted | Retrying | TransportSwitched | CompactionRefused | ResponseResult | dict[str, Any]
)
"""What `ModelClient.respond` yields."""


class ModelClient(TransportSwitching):
    """Runs responses over the session's transport, recovering from what can be recovered.

    Args:
        websocket: the primary transport; None for an HTTP-only session.
        http: the fallback (and, without `websocket`, the only) transport.
        max_retries: transient failures tolerated per response before giving up (or falling back).
        sleep: awaited for backoff delays (tests pass a recorder).
    """

    def __init__(
        self,
        *,
        websocket: Transport | None,
        http: Transport,
        max_retries: int = 5,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.websocket = websocket
        self.http = http
        self.transport: Transport = websocket or http
        self.max_retries = max_retries
        self.fallback_reason: str | None = None if websocket else "HTTP/SSE selected"
        self.reconnects: list[Reconnect] = []
        self.switches: list[TransportSwitch] = []
        self.returns = ReturnSchedule()
        """When a turn start tries WebSocket again after a fallback."""
        self._unannounced: list[TransportSwitched] = []
        """Switches made by the warm-up, told at the next response."""
        self._sleep = sleep
        self._backoff_aborted: asyncio.Event | None = None
        self._rng = rng or random.Random()
        self._started = time.monotonic()
        self._in_flight: Transport | None = None

    async def respond(
        self, conversation: Conversation, *, turn_start: bool = False, generate: bool = True
    ) -> AsyncGenerator[StreamItem, None]:
        """Run one response: yields `RequestStarted`, its streamed event dicts (the terminal
        event excepted), `Retrying`/`FellBack` notices when an attempt is abandoned, and last
        one `ResponseResult`, after the output was committed to `conversation`.

        Closing the iterator before the result (a cancelled turn) breaks the chain.

        Raises:
            ModelError: the response cannot be had (the message says why).
            TransportAborted: `abort()` was called.
        """
        finished = False
        while self._unannounced:
            yield self._unannounced.pop(0)
        try:
            async with aclosing(self._attempts(conversation, turn_start=turn_start, generate=generate)) as attempts:
                async for item in attempts:
                    if isinstance(item, ResponseResult):
                        finished = True
                    yield item
        except (GeneratorExit, asyncio.CancelledError):
            if not finished:
                conversation.break_chain("previous turn cancelled")
            raise

    async def warm_up(self, conversation: Conversation) -> ResponseResult | None:
        """Send a `generate:false` request so the first turn can chain from it (WebSocket only).

        Returns None over HTTP. Its stats say `warm-up` in place of the status and reason.

        Raises:
            ModelError, TransportAborted: as `respond`.
        """
        if self.transport.name != "websocket":
            return None
        result: ResponseResult | None = None
        async for item in self.respond(conversation, turn_start=True, generate=False):
            if isinstance(item, ResponseResult):
                result = item
            elif isinstance(item, TransportSwitched):
                self._unannounced.append(item)
        if result is None:
            return None
        stats = result.stats.model_copy(
            update={"status": "warm-up", "incremental": False, "reason": "warm-up", "items_sent": 0}
        )
        return ResponseResult(**{**result.__dict__, "stats": stats})

    async def _attempts(
        self, conversation: Conversation, *, turn_start: bool, generate: bool
    ) -> AsyncGenerator[StreamItem, None]:
        attempt = 0
        retries = 0
        resent_after_not_found = False
        reconnected_after_limit = False
        carried_sent = carried_received = 0
        forbidden: UpgradeForbidden | None = None  # a 403 on the upgrade: this attempt tries HTTP once
        trying = False  # this turn start tries WebSocket again after a fallback
        if turn_start and generate:
            trying = self._websocket_due()
            if trying:
                yield self._switch(conversation, CameBack(self._try_again_reason(), cause="websocket_retry"))
        while True:
            transport = self.transport
            # Bytes of abandoned attempts stay counted: they crossed the wire for this response.
            metrics = StreamMetrics(bytes_sent=carried_sent, bytes_received=carried_received)
            try:
                await transport.prepare(metrics, turn_start=turn_start)
                plan = conversation.plan(transport=transport.name, generation=transport.generation)
                body = conversation.build(plan, generate=generate).http_body()
                yield RequestStarted(plan, metrics)
                self._in_flight = transport
                done_items: list[dict[str, Any]] = []
                items = _StreamedItems(conversation.ledger)
                async with aclosing(transport.stream(body, metrics)) as events:
                    async for event in events:
                        kind = _checked(event)
                        if forbidden is not None and kind != ERROR:
                            yield self._settle_on_http(conversation, forbidden)
                            forbidden = None
                        if metrics.first_token_at is None and kind in FIRST_TOKEN_EVENTS:
                            metrics.first_token_at = time.monotonic()
                        elif kind in TERMINALS:
                            metrics.finished_at = time.monotonic()
                            result = self._finish(conversation, plan, metrics, event, done_items, retries)
                            if kind == "response.failed" and attempt < self.max_retries:
                                failed = ServerError.from_failed_response(result.response)
                                if failed.retryable:
                                    raise failed
                            yield result
                            return
                        elif kind == "response.created":
                            metrics.created_at = time.monotonic()
                        elif kind == "response.output_item.added" or kind == "response.output_item.done":
                            done = kind == "response.output_item.done"
                            if items.repeated(event_item(event), done=done):
                                metrics.ignored_events += 1
                                continue
                            if done:
                                done_items.append(event_item(event))
                        elif kind == ERROR:
                            raise ServerError.from_event(event)
                        yield event
                raise StreamInterrupted("The stream ended before the response finished.")
            except TransportAborted:
                conversation.break_chain("previous turn cancelled")
                raise
            except AuthenticationFailed as exc:
                if forbidden is not None:
                    raise self._http_failed_too(forbidden, exc) from None
                raise ModelError(str(exc), code="unauthorized", status=401) from None
            except WebSocketUnsupported as exc:
                yield await self._fall_back(conversation, f"{exc} HTTP/SSE from now on.", exc.cause, permanent=True)
                if not generate:
                    return  # a warm-up has nothing to send over HTTP
                continue
            except UpgradeForbidden as exc:
                if not generate:
                    raise ModelError(str(exc), code=exc.cause, status=403) from None
                forbidden = exc
                self.transport = self.http
                conversation.break_chain("transport changed")
                continue
            except ServerError as exc:
                if forbidden is not None:
                    raise self._http_failed_too(forbidden, exc) from None
                conversation.break_chain(exc.code or "request failed")
                if conversation.context_management is not None and rejects_context_management(exc):
                    conversation.server_compaction_refused = str(exc)
                    yield CompactionRefused(str(exc))
                    continue
                if exc.code == "previous_response_not_found" and not resent_after_not_found:
                    resent_after_not_found = True
                    retries += 1
                    yield Retrying(attempt, 0.0, exc.code)
                    continue
                if exc.code == "websocket_connection_limit_reached" and not reconnected_after_limit:
                    reconnected_after_limit = True
                    retries += 1
                    self._record(exc.code, attempt, 0.0)
                    yield Retrying(attempt, 0.0, exc.code)
                    continue
                if exc.status == 401:
                    raise ModelError(
                        f"The endpoint refused the API key: {exc}", code="unauthorized", status=401
                    ) from None
                failure: TransportError = exc
            except TransportError as exc:
                if forbidden is not None:
                    raise self._http_failed_too(forbidden, exc) from None
                conversation.break_chain(exc.cause)
                failure = exc
            finally:
                self._in_flight = None
                carried_sent, carried_received = metrics.bytes_sent, metrics.bytes_received

            if trying and transport is self.websocket and not isinstance(failure, ServerError):
                trying = False
                self.returns.try_failed()
                reason = (
                    f"WebSocket is still unavailable ({failure.cause}); HTTP/SSE again, "
                    f"WebSocket is tried again {self.returns.describe_next()}."
                )
                yield await self._fall_back(conversation, reason, "websocket_still_failing", schedule=False)
                continue
            if not failure.retryable:
                code = getattr(failure, "code", None) or failure.cause
                raise ModelError(str(failure), code=code, status=getattr(failure, "status", None))
            attempt += 1
            if attempt > self.max_retries:
                if transport is self.websocket:
                    reason = (
                        f"WebSocket kept failing ({failure.cause}) after {self.max_retries} retries; "
                        "HTTP/SSE until WebSocket answers again (tried at the next turn)."
                    )
                    yield await self._fall_back(conversation, reason, "retries_exhausted")
                    attempt = 0
                    if not generate:
                        return
                    continue
                raise ModelError(f"Gave up after {self.max_retries} retries: {failure}", code=failure.cause) from None
            delay = backoff_delay(attempt) * self._rng.uniform(0.75, 1.0)
            if failure.retry_after is not None:
                delay = max(delay, failure.retry_after + self._rng.uniform(0.0, 0.25))
            self._record(failure.cause, attempt, delay)
            retries += 1
            yield Retrying(attempt, delay, failure.cause)
            await self._back_off(delay)

    def _finish(
        self,
        conversation: Conversation,
        plan: RequestPlan,
        metrics: StreamMetrics,
        event: dict[str, Any],
        done_items: list[dict[str, Any]],
        retries: int,
    ) -> ResponseResult:
        """Parse the terminal event, commit (or break the chain), and build the result.

        Tool calls whose call id the session already knows, or that repeat one of the same
        response, are left out of the committed output (and counted as ignored events).
        """
        kind = event["type"]
        response = event_response(event)
        status = _STATUS[kind]
        raw_output = response.get("output")
        output: list[Item] = []
        usage: Usage | None = None
        try:
            output = _ITEMS.validate_python(raw_output if raw_output else done_items)
        except ValidationError as exc:
            status = "failed"
            response = {**response, "error": {"code": "invalid_output", "message": f"Unreadable output items: {exc}"}}
        output, repeated = conversation.ledger.without_repeated_calls(output)
        metrics.ignored_events += len(repeated)
        if isinstance(response.get("usage"), dict):
            try:
                usage = Usage.model_validate(response["usage"])
            except ValidationError:
                usage = None
        response_id = response.get("id") if isinstance(response.get("id"), str) else None
        if status in ("completed", "incomplete") and response_id:
            conversation.commit(plan, response_id, output)
        else:
            conversation.break_chain("previous response failed")
        stats = ResponseStats.from_metrics(
            metrics,
            response_id=response_id,
            usage=usage,
            status=status,
            incremental=plan.incremental,
            reason=plan.reason,
            items_sent=plan.items_sent,
            model=conversation.settings.model,
        )
        return ResponseResult(
            status=status,
            response=response,
            output=output,
            usage=usage,
            plan=plan,
            metrics=metrics,
            stats=stats,
            event=event,
            retries=retries,
            repeated_calls=tuple(repeated),
        )

    def _http_failed_too(self, refused: UpgradeForbidden, failure: TransportError) -> ModelError:
        """A 403 on the upgrade and HTTP failed as well: both reasons; the next turn starts on
        WebSocket again."""
        self.transport = self.websocket or self.http
        status = getattr(failure, "status", None)
        return ModelError(
            f"{refused}; over HTTP it failed too{f' (HTTP {status})' if status else ''}: {failure}",
            code=getattr(failure, "code", None) or failure.cause,
            status=status,
        )

    def _record(self, cause: str, attempt: int, delay: float) -> None:
        self.reconnects.append(
            Reconnect(at=time.monotonic() - self._started, cause=cause, attempt=attempt, delay_s=delay)
        )

    async def _back_off(self, delay: float) -> None:
        """Wait `delay` seconds before the next attempt, unless `abort()` comes first.

        Raises:
            TransportAborted: `abort()` was called while waiting.
        """
        aborted = self._backoff_aborted = asyncio.Event()
        sleeping = asyncio.ensure_future(self._sleep(delay))
        stopping = asyncio.ensure_future(aborted.wait())
        try:
            await asyncio.wait({sleeping, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self._backoff_aborted = None
            for waiting in (sleeping, stopping):
                waiting.cancel()
            await asyncio.gather(sleeping, stopping, return_exceptions=True)
        if aborted.is_set():
            raise TransportAborted("The response was abandoned while waiting to retry.")

    async def abort(self) -> None:
        """Abandon the response in flight, or the wait before its next attempt (used when the
        user cancels the turn)."""
        if self._backoff_aborted is not None:
            self._backoff_aborted.set()
        transport = self._in_flight
        if transport is not None:
            await transport.abort()

    async def close(self) -> None:
        """Close both transports."""
        if self.websocket is not None:
            await self.websocket.close()
        await self.http.close()

    def session_stats(self, **totals: Any) -> SessionStats:
        """Connection facts for the stats panel, plus the caller's totals."""
        socket = self.websocket
        return SessionStats(
            transport=self.transport.name,
            fallback_reason=self.fallback_reason,
            connections=socket.generation if socket else 0,
            socket_age_s=socket.age() if socket and self.transport is socket else 0.0,
            max_age_s=socket.max_age if socket else 0.0,
            reconnects=list(self.reconnects),
            transport_switches=list(self.switches),
            **totals,
        )
