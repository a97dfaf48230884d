"""`ResponsesHTTP`: `POST /v1/responses` with `stream: true`, read as server-sent events.

The fallback when WebSocket mode is refused or keeps failing, and the baseline arm of the
benchmark. It yields exactly the event dicts the WebSocket transport yields; an HTTP error
status with a JSON error body becomes the same `error` event the socket would have sent.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator
from typing import Any

import httpx
import orjson
from httpx_sse import EventSource, SSEError

from agent.transport.base import (
    AuthenticationFailed,
    FrameHook,
    ProtocolViolation,
    StreamInterrupted,
    StreamMetrics,
    StreamStalled,
    TransportAborted,
)
from agent.wire import TERMINAL_EVENT_TYPES, FrameDecodeError, decode_frame
from agent.wire.errors import error_body_payload, parse_retry_after
from agent.wire.finished import FinishedResponses


class ResponsesHTTP:
    """The HTTP/SSE transport over one keep-alive `httpx.AsyncClient`.

    Args:
        url: the `http(s)://…/responses` endpoint.
        api_key: sent as `Authorization: Bearer`.
        open_timeout: connect timeout; idle_timeout: longest wait for the next bytes.
        keepalive_expiry: how long an idle pooled connection is kept (httpx's default is 5 s).
        on_frame: called with every request body sent and every event received.
    """

    name = "http"
    max_age = 0.0

    def __init__(
        self,
        url: str,
        api_key: str | None,
        *,
        extra_headers: dict[str, str] | None = None,
        open_timeout: float = 15.0,
        idle_timeout: float = 300.0,
        keepalive_expiry: float = 5.0,
        on_frame: FrameHook | None = None,
        verify: Any = True,
    ) -> None:
        self.url = url
        self.on_frame = on_frame
        self.generation = 1
        self._headers = {
            "Authorization": f"Bearer {api_key or 'codeassist-no-key'}",
            "Content-Type": "application/json",
            "Accept": "text/event-stream",
            **(extra_headers or {}),
        }
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(connect=open_timeout, read=idle_timeout, write=60.0, pool=open_timeout),
            limits=httpx.Limits(max_keepalive_connections=4, keepalive_expiry=keepalive_expiry),
            verify=verify,
        )
        self._response: httpx.Response | None = None
        self._aborted = False

    async def prepare(self, metrics: StreamMetrics, *, turn_start: bool) -> None:
        """Nothing to do: the connection pool opens connections as requests need them."""

    def age(self) -> float:
        """Pooled connections are not tracked: always 0."""
        return 0.0

    async def stream(self, body: dict[str, Any], metrics: StreamMetrics) -> AsyncGenerator[dict[str, Any], None]:
        """POST one request and yield its events up to and including the terminal one.

        Raises:
            AuthenticationFailed: HTTP 401.
            StreamInterrupted: the body ended, or the connection failed, before a terminal event.
            StreamStalled: no bytes within the idle timeout.
            ProtocolViolation: an event that is not JSON.
            TransportAborted: `abort()` was called.
        """
        self._aborted = False
        finished = False
        # Each response has its own stream: only its own repeats can come after its terminal event.
        ended = FinishedResponses()
        metrics.transport = self.name
        metrics.connection = "http"
        payload = orjson.dumps({**body, "stream": True})
        metrics.mark_sent(len(payload))
        if self.on_frame is not None:
            self.on_frame("sent", payload, metrics.sent_at or 0.0)
        try:
            async with self._client.stream("POST", self.url, content=payload, headers=self._headers) as response:
                self._response = response
                if response.status_code != 200:
                    yield await self._error_event(response, metrics)
                    return
                async for sse in EventSource(response).aiter_sse():
                    data = sse.data
                    if not data or data == "[DONE]":
                        continue
                    if finished:  # read the body to its end so the keep-alive connection is reused
                        metrics.ignored_events += 1
                        continue
                    raw = data.encode()
                    metrics.bytes_received += len(raw)
                    metrics.events += 1
                    if self.on_frame is not None:
                        self.on_frame("received", raw, time.monotonic())
                    try:
                        event = decode_frame(raw)
                    except FrameDecodeError as exc:
                        raise ProtocolViolation(f"The server sent an invalid event: {exc}") from None
                    if ended.stale(event):
                        metrics.ignored_events += 1
                        continue
                    finished = event["type"] in TERMINAL_EVENT_TYPES
                    if finished and event["type"] != "error":
                        ended.finish(event)
                    yield event
                if finished:
                    return
        except httpx.ReadTimeout:
            if finished:
                return  # the response is complete; only the connection's reuse is lost
            raise StreamStalled("No data within the idle timeout while a response was in flight.") from None
        except (httpx.TransportError, httpx.StreamError, SSEError) as exc:
            if finished:
                return
            if self._aborted:
                raise TransportAborted("The response was abandoned.") from None
            raise StreamInterrupted(
                f"HTTP stream failed: {exc or type(exc).__name__}", cause="connection_failed"
            ) from None
        finally:
            self._response = None
        if self._aborted:
            raise TransportAborted("The response was abandoned.")
        raise StreamInterrupted("The HTTP stream ended before the response finished.")

    async def _error_event(self, response: httpx.Response, metrics: StreamMetrics) -> dict[str, Any]:
        body = await response.aread()
        metrics.bytes_received += len(body)
        payload = error_body_payload(body)
        if payload is not None:
            error = payload.model_dump(mode="json")
        else:
            error = {
                "type": "server_error" if response.status_code >= 500 else "invalid_request_error",
                "code": None,
                "message": body[:300].decode(errors="replace") or response.reason_phrase,
            }
        if response.status_code == 401:
            raise AuthenticationFailed(
                f"The endpoint refused the API key (HTTP 401): {error.get('message', '')}. "
                "Check OPENAI_API_KEY or the api_key in your config."
            )
        headers = {}
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        if retry_after is not None:
            headers["retry-after"] = str(retry_after)
        return {"type": "error", "status": response.status_code, "error": error, "headers": headers}

    async def abort(self) -> None:
        """Abandon the response in flight by closing its connection."""
        response = self._response
        if response is not None:
            self._aborted = True
            await response.aclose()

    async def post(self, suffix: str, body: dict[str, Any], *, timeout: float) -> httpx.Response:
        """POST `body` as JSON to `url + suffix` (e.g. `/compact`) on the same pooled connections,
        credentials and TLS settings, and read the whole answer.

        Raises:
            httpx.HTTPError: the request failed.
        """
        headers = {**self._headers, "Accept": "application/json"}
        return await self._client.post(self.url + suffix, content=orjson.dumps(body), headers=headers, timeout=timeout)

    async def close(self) -> None:
        await self._client.aclose()
