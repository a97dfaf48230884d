"""`POST /v1/responses/compact`: the standalone compaction pass (HTTP only).

The answer is the complete replacement window: the context's user messages verbatim, then one
`compaction` item standing for everything (assistant messages, tool calls and outputs,
reasoning). A client passes it as is as the input of its next request.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agent.wire import Message
from server.context_window import check_compaction_items, compaction_item, item_tokens, prefix_tokens
from server.http import error_response, read_body
from server.state import RequestError, ServerState, resolve_parent, validate_body

NO_COMPACTION = RequestError(
    "Unknown endpoint: POST /v1/responses/compact (this endpoint has no compaction).", code="not_found", status=404
)


async def compact_response(request: Request, state: ServerState) -> Response:
    """Handle one `POST /v1/responses/compact`."""
    data, refused = await read_body(request, state)
    if refused is not None:
        return refused
    if not state.limits.compaction:
        return error_response(NO_COMPACTION)
    try:
        create = validate_body(data)
        if not create.model:
            raise RequestError("Missing required parameter: 'model'.", code="missing_required_parameter", param="model")
        input_items = create.input_items()
        check_compaction_items(state, input_items)
        parent = resolve_parent(create, None, state.store)
    except RequestError as error:
        return error_response(error)

    context = [*(parent.context if parent else []), *input_items]
    item = compaction_item(state, context)
    kept = [entry for entry in context if isinstance(entry, Message) and entry.role == "user"]
    output = [*kept, item]
    input_tokens = prefix_tokens(create) + item_tokens(context)
    output_tokens = item_tokens([item])
    cached = parent.context_tokens if parent else 0
    return JSONResponse(
        {
            "id": state.ids.new("resp"),
            "object": "response.compaction",
            "created_at": int(time.time()),
            "output": [entry.model_dump(mode="json") for entry in output],
            "usage": {
                "input_tokens": input_tokens,
                "input_tokens_details": {"cached_tokens": cached},
                "output_tokens": output_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": input_tokens + output_tokens,
            },
        }
    )
