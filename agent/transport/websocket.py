"""`ResponsesSocket`: one persistent WebSocket to `/v1/responses` and its failure modes.

One response in flight at a time. The socket is opened lazily, rotated before the server's
connection-age limit (at a request boundary, never mid-response), and every way it can fail
becomes a typed `TransportError`. Retrying, resending and falling back are the caller's policy.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import AsyncGenerator
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from agent.transport.base import (
    AuthenticationFailed,
    FrameHook,
    FrameTooLarge,
    ProtocolViolation,
    RateLimited,
    StreamInterrupted,
    StreamMetrics,
    StreamStalled,
    TransportAborted,
    TransportError,
    UpgradeForbidden,
    WebSocketUnsupported,
)
from agent.wire import TERMINAL_EVENT_TYPES, FrameDecodeError, decode_frame
from agent.wire.errors import ErrorEvent, error_body_message, parse_retry_after
from agent.wire.event_types import ERROR
from agent.wire.finished import FinishedResponses

CONNECTION_LEVEL_ERRORS = frozenset({"websocket_connection_limit_reached"})
"""Error codes after which the socket is done for; the next request needs a new one."""

FALLBACK_STATUSES = frozenset({404, 405, 426})
"""Upgrade refusals that say the endpoint has no WebSocket mode: HTTP/SSE for the rest of the session."""


class ResponsesSocket:
    """The WebSocket transport.

    Args:
        url: the `ws(s)://…/responses` endpoint.
        api_key: sent as `Authorization: Bearer`; a placeholder is sent when None.
        max_size: largest frame accepted (the websockets default of 1 MiB is too small for a
            long `response.completed`).
        ping_interval / ping_timeout: keepalive; a dead peer is detected by a missing pong.
        open_timeout: limit for TCP + TLS + upgrade.
        idle_timeout: longest silence while a response is in flight (catches a server that
            stalls while still answering pings).
        max_age: rotate the socket when it is older than this at a request boundary.
        on_frame: called with every frame sent and received.
        compression: offer permessage-deflate. Off by default: the frames of a streamed response
            are small deltas that barely compress, and inflating each one costs client CPU
            (`bench/client_overhead.py` measures it).
    """

    name = "websocket"

    def __init__(
        self,
        url: str,
        api_key: str | None,
        *,
        extra_headers: dict[str, str] | None = None,
        max_size: int = 64 * 1024 * 1024,
        ping_interval: float | None = 20.0,
        ping_timeout: float | None = 60.0,
        open_timeout: float = 15.0,
        idle_timeout: float = 300.0,
        max_age: float = 55 * 60,
        on_frame: FrameHook | None = None,
        ssl_context: ssl.SSLContext | None = None,
        compression: bool = False,
    ) -> None:
        self.url = url
        self.compression = compression
        self.headers = {"Authorization": f"Bearer {api_key or 'codeassist-no-key'}", **(extra_headers or {})}
        self.max_size = max_size
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.open_timeout = open_timeout
        self.idle_timeout = idle_timeout
        self.max_age = max_age
        self.on_frame = on_frame
        self.ssl_context = ssl_context
        self.generation = 0
        """Incremented for every new connection: server-side state does not survive a reconnect."""
        self.connected_at: float | None = None
        self.last_close: str | None = None
        """Why the previous connection ended, for the stats panel."""
        self._ws: ClientConnection | None = None
        self._lock = asyncio.Lock()
        self._connect_lock = asyncio.Lock()
        self._abort_requested = False
        self._finished = FinishedResponses()
        """The responses this connection finished: their late events are skipped."""

    @property
    def connected(self) -> bool:
        return self._ws is not None and self._ws.state.name == "OPEN"

    @property
    def connection_name(self) -> str:
        return f"ws-{self.generation}"

    def age(self) -> float:
        """Seconds since the current connection opened (0 when not connected)."""
        return time.monotonic() - self.connected_at if self.connected_at is not None and self.connected else 0.0

    def needs_rotation(self) -> bool:
        return self.connected and self.age() >= self.max_age

    async def prepare(self, metrics: StreamMetrics, *, turn_start: bool) -> None:
        """Open the socket if needed; rotate an old one only at a turn start."""
        await self.ensure_connected(metrics, allow_rotation=turn_start)

    async def ensure_connected(self, metrics: StreamMetrics | None = None, *, allow_rotation: bool = True) -> bool:
        """Open the socket if needed, or rotate it when it is too old and `allow_rotation`.

        Returns True when a new connection was opened.

        Raises:
            AuthenticationFailed, WebSocketUnsupported, RateLimited, TransportError: the
            handshake failed.
        """
        async with self._connect_lock:
            if allow_rotation and self.needs_rotation():
                self.last_close = "rotated before the connection-age limit"
                await self.close()
            if self.connected:
                return False
            started = time.monotonic()
            await self._connect()
            self._finished = FinishedResponses()
            if metrics is not None:
                metrics.connect_s = time.monotonic() - started
            return True

    async def _connect(self) -> None:
        try:
            self._ws = await connect(
                self.url,
                additional_headers=self.headers,
                max_size=self.max_size,
                ping_interval=self.ping_interval,
                ping_timeout=self.ping_timeout,
                open_timeout=self.open_timeout,
                close_timeout=2,
                ssl=self.ssl_context if self.url.startswith("wss:") else None,
                user_agent_header="codeassist",
                compression="deflate" if self.compression else None,
            )
        except InvalidStatus as exc:
            raise self._handshake_error(exc) from None
        except InvalidURI as exc:
            raise TransportError(f"Invalid WebSocket URL {self.url}: {exc}", cause="invalid_url") from None
        except InvalidHandshake as exc:
            raise TransportError(
                f"WebSocket handshake with {self.url} failed: {exc}", cause="handshake_failed"
            ) from None
        except TimeoutError:
            raise TransportError(
                f"Timed out after {self.open_timeout:g}s opening {self.url}", cause="connect_timeout"
            ) from None
        except OSError as exc:
            raise TransportError(
                f"Cannot connect to {self.url}: {exc.strerror or exc}", cause="connect_failed"
            ) from None
        self.generation += 1
        self.connected_at = time.monotonic()

    def _handshake_error(self, exc: InvalidStatus) -> TransportError:
        status = exc.response.status_code
        retry_after = parse_retry_after(exc.response.headers.get("Retry-After"))
        detail = error_body_message(bytes(exc.response.body))
        if status == 401:
            return AuthenticationFailed(
                f"The endpoint refused the API key (HTTP 401){': ' + detail if detail else ''}. "
                "Check OPENAI_API_KEY or the api_key in your config."
            )
        if status == 429:
            return RateLimited(
                f"Rate limited on connect (HTTP 429){': ' + detail if detail else ''}", retry_after=retry_after
            )
        if status in FALLBACK_STATUSES:
            return WebSocketUnsupported(f"The endpoint does not offer WebSocket mode (HTTP {status}).", status=status)
        if status == 403:
            return UpgradeForbidden(f"The endpoint refused WebSocket (HTTP 403){': ' + detail if detail else ''}")
        error = TransportError(
            f"WebSocket upgrade refused with HTTP {status}{': ' + detail if detail else ''}",
            retry_after=retry_after,
            cause=f"http_{status}",
        )
        error.retryable = status >= 500
        return error

    async def stream(self, body: dict[str, Any], metrics: StreamMetrics) -> AsyncGenerator[dict[str, Any], None]:
        """Send one `response.create` and yield its events up to and including the terminal one.

        Events of responses that already ended (left in the buffer after their terminal event)
        are skipped and counted in `metrics.ignored_events` (`agent.wire.finished`). When the
        caller stops reading before the terminal event, the connection is dropped: the rest of
        that response must not be read as the next one's.

        Raises:
            StreamInterrupted: the socket closed before a terminal event.
            StreamStalled: nothing arrived within `idle_timeout`.
            FrameTooLarge: a frame over `max_size`.
            ProtocolViolation: a frame that is not a JSON event.
            TransportAborted: `abort()` was called.
        """
        async with self._lock:
            self._abort_requested = False
            await self.ensure_connected(metrics, allow_rotation=False)
            ws = self._ws
            assert ws is not None
            metrics.transport = self.name
            metrics.connection = self.connection_name
            frame = orjson.dumps({"type": "response.create", **body})
            metrics.mark_sent(len(frame))
            try:
                await ws.send(frame.decode())
            except ConnectionClosed as exc:
                raise self._closed(exc) from None
            if self.on_frame is not None:
                self.on_frame("sent", frame, metrics.sent_at or 0.0)
            watchdog = _IdleWatchdog(ws, self.idle_timeout)
            on_frame = self.on_frame
            finished = self._finished
            finished.begin()
            ended = False
            try:
                while True:
                    raw = await ws.recv(decode=False)
                    watchdog.last_activity = time.monotonic()
                    if isinstance(raw, str):  # a text frame when decode is not honoured
                        raw = raw.encode()
                    metrics.bytes_received += len(raw)
                    metrics.events += 1
                    if on_frame is not None:
                        on_frame("received", raw, watchdog.last_activity)
                    try:
                        event = decode_frame(raw)
                    except FrameDecodeError as exc:
                        await self._discard(f"protocol violation: {exc}")
                        raise ProtocolViolation(f"The server sent an invalid frame: {exc}") from None
                    if finished.stale(event):
                        metrics.ignored_events += 1
                        continue
                    if event["type"] in TERMINAL_EVENT_TYPES:
                        ended = True
                        finished.finish(event)
                        if event["type"] == ERROR:
                            code = ErrorEvent.lenient(event).error_code
                            if code in CONNECTION_LEVEL_ERRORS:
                                await self._discard(code or "connection-level error")
                        yield event
                        return
                    yield event
            except ConnectionClosed as exc:
                if watchdog.fired:
                    self._ws = None
                    self.last_close = "stalled"
                    raise StreamStalled(
                        f"No event for {self.idle_timeout:g}s while a response was in flight; the connection was reset."
                    ) from None
                raise self._closed(exc) from None
            finally:
                watchdog.stop()
                if not ended and self._ws is ws:
                    self._ws = None
                    self.last_close = "response abandoned"
                    ws.transport.abort()

    def _closed(self, exc: ConnectionClosed) -> TransportError:
        code = exc.rcvd.code if exc.rcvd is not None else (exc.sent.code if exc.sent is not None else 1006)
        self._ws = None
        self.last_close = f"closed by {'server' if exc.rcvd is not None else 'network'} ({code})"
        if self._abort_requested:
            self._abort_requested = False
            return TransportAborted("The response was abandoned.")
        if code == 1009:
            return FrameTooLarge(f"A frame exceeded the {self.max_size}-byte limit (close code 1009).")
        return StreamInterrupted(
            f"The connection closed before the response finished (code {code}).", cause=f"closed_{code}"
        )

    async def _discard(self, reason: str) -> None:
        ws, self._ws = self._ws, None
        self.last_close = reason
        if ws is not None:
            ws.transport.abort() if reason == "stalled" else await ws.close()

    async def abort(self) -> None:
        """Abandon the response in flight: close the socket now (there is no cancel event)."""
        ws = self._ws
        if ws is None:
            return
        self._abort_requested = self._lock.locked()
        self.last_close = "aborted (turn cancelled)"
        self._ws = None
        ws.transport.abort()

    async def close(self) -> None:
        """Close the socket normally."""
        ws, self._ws = self._ws, None
        if ws is not None:
            await ws.close()


class _IdleWatchdog:
    """Resets the connection when no frame arrives for `timeout` seconds.

    The per-frame cost is one assignment to `last_activity`; the timer re-arms itself only when
    it fires early (rescheduling a timer on every frame would cost more than decoding it).
    """

    def __init__(self, ws: ClientConnection, timeout: float) -> None:
        self.ws = ws
        self.timeout = timeout
        self.fired = False
        self.last_activity = time.monotonic()
        self._loop = asyncio.get_running_loop()
        self._handle = self._loop.call_later(timeout, self._check)

    def _check(self) -> None:
        idle = time.monotonic() - self.last_activity
        if idle < self.timeout:
            self._handle = self._loop.call_later(self.timeout - idle, self._check)
            return
        self.fired = True
        self.ws.transport.abort()

    def stop(self) -> None:
        self._handle.cancel()
