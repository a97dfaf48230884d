"""`GET /v1/models` and `GET /v1/models/{id}`: the one model the server plays, with its window."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agent.catalogue import catalogue
from server.http import error_response, unauthorized
from server.state import RequestError, ServerState

OWNER = "codeassist"


def model_entry(state: ServerState) -> dict[str, Any]:
    """The model object of the scenario's model: its window is the scenario's, else the catalogue's."""
    model = state.engine.model
    window = state.limits.context_window or catalogue().lookup(model).context_window
    return {"id": model, "object": "model", "created": state.created_at, "owned_by": OWNER, "context_window": window}


async def list_models(request: Request, state: ServerState) -> Response:
    """`GET /v1/models`."""
    if not state.check_auth(request.headers.get("authorization")):
        return unauthorized()
    return JSONResponse({"object": "list", "data": [model_entry(state)]})


async def retrieve_model(request: Request, state: ServerState) -> Response:
    """`GET /v1/models/{id}`: the scenario's model, or 404 `model_not_found`."""
    if not state.check_auth(request.headers.get("authorization")):
        return unauthorized()
    wanted = request.path_params["model_id"]
    if wanted != state.engine.model:
        return error_response(
            RequestError(
                f"The model '{wanted[:200]}' does not exist or you do not have access to it.",
                code="model_not_found",
                param="model",
                status=404,
            )
        )
    return JSONResponse(model_entry(state))
