"""`ModelClient`: one model response at a time, with the session's failure policy.

| failure | what happens |
|---|---|
| `previous_response_not_found` | one immediate full resend |
| `websocket_connection_limit_reached` | one immediate reconnect and full resend (retry budget unchanged) |
| socket closed / stalled / bad frame / 5xx / 429 | backoff with jitter (honouring `Retry-After`), new socket, full resend; at most `max_retries` |
| upgrade refused with 426/404/405, or WebSocket keeps failing | HTTP/SSE for the rest of the session |
| 401, frame over the size limit, other 4xx | fails now with the server's message |

Partial output of a failed attempt is abandoned: the caller is told with `Retrying` and starts
the response afresh. A request is never replayed on the same chain after a failure: every retry
is a full resend, so the model's context is exactly the local transcript.
"""

from __future__ import annotations

import asyncio
import random
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from agent.conversation import Conversation, RequestPlan
from agent.stats import Reconnect, SessionStats
from agent.transport import (
    AuthenticationFailed,
    ResponsesHTTP,
    ResponsesSocket,
    StreamMetrics,
    TransportAborted,
    TransportError,
    WebSocketUnsupported,
)


@dataclass(frozen=True)
class RequestStarted:
    """A request is going out (again, after a `Retrying`)."""

    plan: RequestPlan
    metrics: StreamMetrics


@dataclass(frozen=True)
class Retrying:
    """The attempt failed; the response starts over after `delay_s`."""

    attempt: int
    delay_s: float
    cause: str


@dataclass(frozen=True)
class FellBack:
    """The session switched to HTTP/SSE for good."""

    reason: str


class ModelError(Exception):
    """A response that cannot be had: the message is for the user."""

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class ServerError(TransportError):
    """An `error` event (either shape) or an HTTP error status turned into one."""

    def __init__(self, event: dict[str, Any]) -> None:
        nested = event.get("error") if isinstance(event.get("error"), dict) else {}
        self.code: str | None = nested.get("code") or event.get("code")
        self.status: int | None = event.get("status") or event.get("status_code")
        message = nested.get("message") or event.get("message") or "The server reported an error."
        headers = {
            str(k).lower(): v for k, v in {**(event.get("headers") or {}), **(nested.get("headers") or {})}.items()
        }
        super().__init__(message, retry_after=_retry_after(headers, message), cause=self.code or f"http_{self.status}")
        self.retryable = self._is_transient()

    def _is_transient(self) -> bool:
        if self.code == "insufficient_quota":
            return False
        if self.code in ("server_error", "server_is_overloaded", "slow_down", "rate_limit_exceeded"):
            return True
        return self.status is not None and (self.status == 429 or self.status >= 500)


def _retry_after(headers: dict[str, Any], message: str) -> float | None:
    value = headers.get("retry-after")
    if value is not None:
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
    found = re.search(r"try again in (\d+(?:\.\d+)?)\s*(ms|s)", message)
    if found:
        return float(found.group(1)) / (1000 if found.group(2) == "ms" else 1)
    return None


def backoff_delay(attempt: int, *, initial: float = 0.5, maximum: float = 8.0) -> float:
    """Exponential backoff before jitter: 0.5, 1, 2, 4, 8, 8, … seconds."""
    return min(initial * 2 ** (attempt - 1), maximum)


class ModelClient:
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
        websocket: ResponsesSocket | None,
        http: ResponsesHTTP,
        max_retries: int = 5,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.websocket = websocket
        self.http = http
        self.transport: ResponsesSocket | ResponsesHTTP = websocket or http
        self.max_retries = max_retries
        self.fallback_reason: str | None = None if websocket else "HTTP/SSE selected"
        self.reconnects: list[Reconnect] = []
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._started = time.monotonic()
        self._in_flight: ResponsesSocket | ResponsesHTTP | None = None

    async def respond(
        self, conversation: Conversation, *, turn_start: bool = False, generate: bool = True
    ) -> AsyncIterator[RequestStarted | Retrying | FellBack | dict[str, Any]]:
        """Run one response: yields `RequestStarted`, its event dicts up to the terminal one,
        and `Retrying`/`FellBack` notices when an attempt is abandoned.

        Raises:
            ModelError: the response cannot be had (the message says why).
            TransportAborted: `abort()` was called.
        """
        attempt = 0
        resent_after_not_found = False
        reconnected_after_limit = False
        carried_sent = carried_received = 0
        while True:
            transport = self.transport
            # Bytes of abandoned attempts stay counted: they crossed the wire for this response.
            metrics = StreamMetrics(bytes_sent=carried_sent, bytes_received=carried_received)
            try:
                if isinstance(transport, ResponsesSocket):
                    await transport.ensure_connected(metrics, allow_rotation=turn_start)
                plan = conversation.plan(transport=transport.name, generation=transport.generation)
                body = conversation.build(plan, generate=generate).http_body()
                yield RequestStarted(plan, metrics)
                self._in_flight = transport
                async with aclosing(transport.stream(body, metrics)) as events:
                    async for event in events:
                        if event["type"] == "error":
                            raise ServerError(event)
                        yield event
                return
            except TransportAborted:
                conversation.break_chain("previous turn cancelled")
                raise
            except AuthenticationFailed as exc:
                raise ModelError(str(exc), code="unauthorized", status=401) from None
            except WebSocketUnsupported as exc:
                yield await self._fall_back(conversation, str(exc))
                continue
            except ServerError as exc:
                conversation.break_chain(exc.code or "request failed")
                if exc.code == "previous_response_not_found" and not resent_after_not_found:
                    resent_after_not_found = True
                    yield Retrying(attempt, 0.0, exc.code)
                    continue
                if exc.code == "websocket_connection_limit_reached" and not reconnected_after_limit:
                    reconnected_after_limit = True
                    self._record(exc.code, attempt, 0.0)
                    yield Retrying(attempt, 0.0, exc.code)
                    continue
                if exc.status == 401:
                    raise ModelError(
                        f"The endpoint refused the API key: {exc}", code="unauthorized", status=401
                    ) from None
                failure: TransportError = exc
            except TransportError as exc:
                conversation.break_chain(exc.cause)
                failure = exc
            finally:
                self._in_flight = None
                carried_sent, carried_received = metrics.bytes_sent, metrics.bytes_received

            if not failure.retryable:
                code = getattr(failure, "code", None) or failure.cause
                raise ModelError(str(failure), code=code, status=getattr(failure, "status", None))
            attempt += 1
            if attempt > self.max_retries:
                if transport is self.websocket:
                    yield await self._fall_back(
                        conversation, f"WebSocket kept failing ({failure.cause}) after {self.max_retries} retries"
                    )
                    attempt = 0
                    continue
                raise ModelError(f"Gave up after {self.max_retries} retries: {failure}", code=failure.cause) from None
            delay = backoff_delay(attempt) * self._rng.uniform(0.75, 1.0)
            if failure.retry_after is not None:
                delay = max(delay, failure.retry_after + self._rng.uniform(0.0, 0.25))
            self._record(failure.cause, attempt, delay)
            yield Retrying(attempt, delay, failure.cause)
            await self._sleep(delay)

    async def _fall_back(self, conversation: Conversation, reason: str) -> FellBack:
        if self.websocket is not None:
            await self.websocket.close()
        self.transport = self.http
        self.fallback_reason = reason
        conversation.break_chain("transport changed")
        return FellBack(reason)

    def _record(self, cause: str, attempt: int, delay: float) -> None:
        self.reconnects.append(
            Reconnect(at=time.monotonic() - self._started, cause=cause, attempt=attempt, delay_s=delay)
        )

    async def abort(self) -> None:
        """Abandon the response in flight (used when the user cancels the turn)."""
        transport = self._in_flight
        if transport is not None:
            await transport.abort()

    async def close(self) -> None:
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
            **totals,
        )
