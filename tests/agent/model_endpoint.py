"""A small Starlette endpoint that lists models (`GET /v1/models`) and fails to (`/broken/v1`),
on a loopback port in a background thread: what many Responses servers look like."""

from __future__ import annotations

import asyncio
import socket
import threading

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

LISTED = [
    {"id": "local-coder", "object": "model", "created": 0, "owned_by": "me", "context_window": 32768},
    {"id": "gpt-5.2", "object": "model", "created": 0, "owned_by": "openai"},
    {"object": "model"},
]
"""What `/v1/models` lists (the last entry, without an id, is skipped)."""


class ModelEndpoint:
    """The endpoint, running: `base_url` lists `LISTED`, `seen` holds each request's Authorization."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        app = Starlette(routes=[Route("/v1/models", self._models), Route("/broken/v1/models", self._broken)])
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{self.socket.getsockname()[1]}/v1"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="error", lifespan="off"))
        self.thread = threading.Thread(target=lambda: asyncio.run(self.server.serve(sockets=[self.socket])))

    async def _models(self, request: Request) -> Response:
        self.seen.append(request.headers.get("authorization", ""))
        return JSONResponse({"object": "list", "data": LISTED})

    async def _broken(self, request: Request) -> Response:
        return PlainTextResponse("nope", status_code=500)

    def __enter__(self) -> ModelEndpoint:
        self.thread.start()
        while not self.server.started and self.thread.is_alive():
            self.thread.join(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.socket.close()
