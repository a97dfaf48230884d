"""`POST /v1/responses` (SSE or JSON) and `GET /v1/responses/{id}` — the HTTP transport."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
from sse_starlette import EventSourceResponse
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agent.wire import encode_frame
from server.context_window import plan_context
from server.faulting import CloseConnection, RawFrame, StallConnection, with_fault
from server.faults import RESPONSE_FAULTS
from server.responder import ResponseRun
from server.state import RequestError, ServerState, resolve_parent, validate_body
from server.websocket import finish_run


def error_response(error: RequestError) -> JSONResponse:
    return JSONResponse(error.http_body(), status_code=error.status)


def unauthorized() -> JSONResponse:
    return error_response(RequestError("Incorrect API key provided.", code="invalid_api_key", status=401))


async def read_body(request: Request, state: ServerState) -> tuple[Any, Response | None]:
    """The JSON body of an authorised request, recorded as received; or the error response
    (unauthorised, too large, not JSON) in its place."""
    if not state.check_auth(request.headers.get("authorization")):
        return None, unauthorized()
    body = await request.body()
    connection = f"http-{request.client.port if request.client else 0}"
    if len(body) > state.config.max_frame_bytes:
        state.record(connection, "http", body, None)
        return None, error_response(
            RequestError(
                f"Body of {len(body)} bytes exceeds the limit of {state.config.max_frame_bytes} bytes.",
                code="request_too_large",
                status=413,
            )
        )
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        state.record(connection, "http", body, None)
        return None, error_response(RequestError(f"The body is not valid JSON: {exc}.", code="invalid_json"))
    state.record(connection, "http", body, data)
    return data, None


async def create_response(request: Request, state: ServerState) -> Response:
    """Handle one `POST /v1/responses`."""
    data, refused = await read_body(request, state)
    if refused is not None:
        return refused
    try:
        create = validate_body(data)
        parent = resolve_parent(create, None, state.store)
        plan = plan_context(state, create, parent)
    except RequestError as error:
        return error_response(error)

    run = ResponseRun(state, create, plan)
    fault = None if create.generate is False else state.faults.take(RESPONSE_FAULTS, run.turn, "http")
    if create.stream:
        return EventSourceResponse(_sse(run, fault, state), ping=15)
    return await _complete(run, fault, state)


async def _sse(run: ResponseRun, fault: Any, state: ServerState) -> AsyncIterator[dict[str, str]]:
    async for action in with_fault(run.events(), fault):
        match action:
            case CloseConnection():
                return
            case StallConnection():
                await asyncio.Event().wait()
            case RawFrame(text=text):
                yield {"data": text}
            case _:
                yield {"event": action["type"], "data": encode_frame(action)}
    finish_run(state, run, None)


async def _complete(run: ResponseRun, fault: Any, state: ServerState) -> Response:
    terminal: dict[str, Any] | None = None
    async for action in with_fault(run.events(), fault):
        match action:
            case CloseConnection():
                return error_response(
                    RequestError(
                        "Injected fault: the server closed the response.",
                        code="server_error",
                        status=500,
                        error_type="server_error",
                    )
                )
            case StallConnection():
                await asyncio.Event().wait()
            case RawFrame():
                continue
            case {"type": "error"}:
                status = int(action.get("status") or 500)
                return JSONResponse({"error": action.get("error") or action}, status_code=status)
            case _:
                terminal = action
    finish_run(state, run, None)
    assert terminal is not None
    return JSONResponse(terminal["response"])


async def retrieve_response(request: Request, state: ServerState) -> Response:
    """`GET /v1/responses/{id}`: a stored response."""
    if not state.check_auth(request.headers.get("authorization")):
        return unauthorized()
    response_id = request.path_params["response_id"]
    stored = state.store.get(response_id)
    if stored is None:
        return error_response(RequestError(f"No response found with id '{response_id}'.", code="not_found", status=404))
    return JSONResponse(stored.response)
