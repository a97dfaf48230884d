"""`GET /v1/responses` in WebSocket mode: one connection, FIFO requests, a local cache.

Every frame the client sends is queued in arrival order and answered one at a time, bad frames
included, so an error for a bad frame can never be mistaken for the end of another response.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from starlette.responses import JSONResponse
from starlette.websockets import WebSocket

from agent.wire import FrameDecodeError, decode_frame, encode_frame
from server.context_window import plan_context
from server.faulting import CloseConnection, RawFrame, StallConnection, with_fault
from server.faults import RESPONSE_FAULTS
from server.responder import ResponseRun
from server.state import ConnectionCache, RequestError, ServerState, resolve_parent, validate_create

CONNECTION_LIMIT_MESSAGE = (
    "Responses websocket connection limit reached ({minutes:g} minutes). Create a new websocket connection to continue."
)


def finish_run(state: ServerState, run: ResponseRun, cache: ConnectionCache | None) -> None:
    """Keep a finished response for chaining, or evict its parent when it failed."""
    if run.stored is not None:
        if cache is not None:
            cache.latest = run.stored
        if run.request.store is not False:
            state.store.put(run.stored)
    elif cache is not None:
        cache.evict(run.request.previous_response_id)


class WebSocketSession:
    """One WebSocket connection of `codeassist serve`."""

    def __init__(self, websocket: WebSocket, state: ServerState) -> None:
        self.ws = websocket
        self.state = state
        self.cache = ConnectionCache()
        self.name = ""
        self.disconnected = asyncio.Event()

    async def run(self) -> None:
        """Handshake (auth and upgrade faults), then serve requests until either side closes."""
        state = self.state
        if not state.check_auth(self.ws.headers.get("authorization")):
            await self.ws.send_denial_response(
                JSONResponse(
                    RequestError(
                        "Incorrect API key provided.",
                        code="invalid_api_key",
                        status=401,
                        error_type="invalid_request_error",
                    ).http_body(),
                    status_code=401,
                )
            )
            return
        fault = state.faults.take({"reject_upgrade"}, transport="websocket")
        if fault is not None:
            headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
            error = RequestError(
                f"Injected fault: upgrade refused with HTTP {fault.status}.",
                code="upgrade_refused",
                status=fault.status,
                error_type="rate_limit_error" if fault.status == 429 else "invalid_request_error",
            )
            await self.ws.send_denial_response(JSONResponse(error.http_body(), fault.status, headers=headers))
            return

        await self.ws.accept()
        state.connections_opened += 1
        self.name = f"ws-{state.connections_opened}"
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        reader = asyncio.create_task(self._read(queue))
        try:
            await self._serve(queue, time.monotonic() + state.config.max_connection_minutes * 60)
        finally:
            reader.cancel()
            self.cache.latest = None

    async def _read(self, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        try:
            while True:
                message = await self.ws.receive()
                if message["type"] == "websocket.disconnect":
                    break
                queue.put_nowait(dict(message))
        except Exception:  # the transport is gone in some way; the server must not crash
            pass
        finally:
            self.disconnected.set()
            queue.put_nowait(None)

    async def _serve(self, queue: asyncio.Queue[dict[str, Any] | None], deadline: float) -> None:
        while True:
            remaining = deadline - time.monotonic()
            try:
                message = await asyncio.wait_for(queue.get(), remaining) if remaining > 0 else None
            except TimeoutError:
                message = None
            if message is None and not self.disconnected.is_set():
                await self._expire()
                return
            if message is None:
                return
            if time.monotonic() >= deadline:
                await self._expire()
                return
            if not await self._handle(message):
                return

    async def _expire(self) -> None:
        minutes = self.state.config.max_connection_minutes
        error = RequestError(
            CONNECTION_LIMIT_MESSAGE.format(minutes=minutes), code="websocket_connection_limit_reached"
        )
        if await self._send(error.event()):
            await self._close(1000)

    async def _send(self, event: dict[str, Any]) -> bool:
        try:
            await self.ws.send_text(encode_frame(event))
        except Exception:  # the client went away mid-send
            return False
        return True

    async def _close(self, code: int) -> None:
        with contextlib.suppress(Exception):  # already closed by the peer
            await self.ws.close(code)

    def _decode(self, message: dict[str, Any]) -> dict[str, Any] | RequestError:
        """A frame's JSON object, or the error that answers the frame; either way recorded as received."""
        limit = self.state.config.max_frame_bytes
        text = message.get("text")
        raw: bytes = (message.get("bytes") or b"") if text is None else text.encode()
        decoded: dict[str, Any] | RequestError
        if text is None:
            decoded = RequestError("Binary frames are not supported; send JSON text frames.", code="invalid_frame")
        elif len(raw) > limit:
            decoded = RequestError(
                f"Frame of {len(raw)} bytes exceeds the limit of {limit} bytes.", code="frame_too_large"
            )
        else:
            try:
                decoded = decode_frame(text)
            except FrameDecodeError as exc:
                decoded = RequestError(f"Invalid frame: {exc}.", code="invalid_json")
        self.state.record(self.name, "websocket", raw, decoded)
        return decoded

    async def _handle(self, message: dict[str, Any]) -> bool:
        """Answer one frame; False when the connection must end."""
        state = self.state
        data = self._decode(message)
        if isinstance(data, RequestError):
            return await self._send(data.event())
        if data["type"] != "response.create":
            return await self._send(
                RequestError(
                    f"Unsupported event type '{data['type'][:100]}'. Supported: 'response.create'.",
                    code="unsupported_event_type",
                    param="type",
                ).event()
            )
        try:
            request = validate_create(data)
            if request.previous_response_id and state.faults.take({"forget"}) is not None:
                self.cache.latest = None
            parent = resolve_parent(request, self.cache, state.store)
            plan = plan_context(state, request, parent)
        except RequestError as error:
            if data.get("previous_response_id") and error.code != "previous_response_not_found":
                self.cache.evict(data.get("previous_response_id"))
            return await self._send(error.event())
        return await self._respond(ResponseRun(state, request, plan))

    async def _respond(self, run: ResponseRun) -> bool:
        fault = (
            None if run.request.generate is False else self.state.faults.take(RESPONSE_FAULTS, run.turn, "websocket")
        )
        async for action in with_fault(run.events(), fault):
            match action:
                case CloseConnection(code=code):
                    await self._close(code)
                    return False
                case StallConnection():
                    await self.disconnected.wait()
                    return False
                case RawFrame(text=text):
                    try:
                        await self.ws.send_text(text)
                    except Exception:  # the client went away mid-send
                        return False
                case _:
                    if not await self._send(action):
                        return False
        finish_run(self.state, run, self.cache)
        return True
