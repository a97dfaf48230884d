"""The ASGI application of `codeassist serve` (Starlette), and its debugging routes."""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from server.compact import compact_response
from server.faults import Fault
from server.guard import AccessPolicy, HostOriginGuard
from server.http import create_response, retrieve_response, unauthorized
from server.models import list_models, retrieve_model
from server.state import ServerState
from server.websocket import WebSocketSession

_FAULTS = TypeAdapter(Fault | list[Fault])


def build_app(state: ServerState, bound_host: str = "127.0.0.1") -> Starlette:
    """The Starlette app serving `state`: the Responses API plus `/_codeassist/*` controls.

    Every route, WebSocket included, answers only requests whose `Host` and `Origin` the
    `AccessPolicy` for `bound_host` and the configured allowances accepts (`server.guard`).

    Routes:
    - `GET /v1/responses` (WebSocket), `POST /v1/responses`, `GET /v1/responses/{id}`;
    - `POST /v1/responses/compact`; `GET /v1/models`, `GET /v1/models/{id}`;
    - `GET /_codeassist/health`; `GET|DELETE /_codeassist/received` (requests as received, the
      newest up to `received_max_bytes`; `X-Codeassist-Received-*` headers give the figures);
      `POST|DELETE /_codeassist/faults` (arm or clear faults at run time).
    """

    async def websocket_endpoint(websocket: WebSocket) -> None:
        await WebSocketSession(websocket, state).run()

    async def post_responses(request: Request) -> Response:
        return await create_response(request, state)

    async def get_response(request: Request) -> Response:
        return await retrieve_response(request, state)

    async def post_compact(request: Request) -> Response:
        return await compact_response(request, state)

    async def get_models(request: Request) -> Response:
        return await list_models(request, state)

    async def get_model(request: Request) -> Response:
        return await retrieve_model(request, state)

    async def health(request: Request) -> Response:
        return JSONResponse(
            {
                "ok": True,
                "model": state.engine.model,
                "connections": state.connections_opened,
                "received": state.received.stats().as_json(),
            }
        )

    async def received(request: Request) -> Response:
        if not state.check_auth(request.headers.get("authorization")):
            return unauthorized()
        if request.method == "DELETE":
            state.received.clear()
            return JSONResponse({"cleared": True})
        entries, stats = state.received.snapshot()
        body = orjson.dumps([entry.as_json() for entry in entries])
        return Response(body, media_type="application/json", headers=stats.headers())

    async def faults(request: Request) -> Response:
        if not state.check_auth(request.headers.get("authorization")):
            return unauthorized()
        if request.method == "DELETE":
            state.faults.clear()
            return JSONResponse({"cleared": True})
        try:
            parsed: Any = _FAULTS.validate_python(orjson.loads(await request.body()))
        except (orjson.JSONDecodeError, ValidationError) as exc:
            return JSONResponse({"error": {"type": "invalid_request_error", "message": str(exc)}}, 400)
        armed = parsed if isinstance(parsed, list) else [parsed]
        for fault in armed:
            state.faults.add(fault)
        return JSONResponse({"armed": len(armed)})

    policy = AccessPolicy.build(bound_host, state.config.allowed_hosts, state.config.allowed_origins)
    return Starlette(
        middleware=[Middleware(HostOriginGuard, policy=policy)],
        routes=[
            WebSocketRoute("/v1/responses", websocket_endpoint),
            Route("/v1/responses", post_responses, methods=["POST"]),
            Route("/v1/responses/compact", post_compact, methods=["POST"]),
            Route("/v1/responses/{response_id}", get_response, methods=["GET"]),
            Route("/v1/models", get_models, methods=["GET"]),
            Route("/v1/models/{model_id:path}", get_model, methods=["GET"]),
            Route("/_codeassist/health", health, methods=["GET"]),
            Route("/_codeassist/received", received, methods=["GET", "DELETE"]),
            Route("/_codeassist/faults", faults, methods=["POST", "DELETE"]),
        ],
    )
