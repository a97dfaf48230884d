"""Side requests: one plain `POST …/responses` to the session's endpoint, beside the main chain.

Not streamed, `store: false`, no `previous_response_id`, sent through the session's HTTP
transport (its pooled connections, credentials and TLS settings), so the WebSocket's connection
cache, which holds the main chain, is never evicted. The commit message draft
(`agent.commit_message`) and web search (`agent.web_search`) are side requests; a standalone
compaction (`agent.compaction.CompactEndpoint`) uses the same channel for its own endpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
from pydantic import TypeAdapter, ValidationError

from agent.conversation import Conversation, RequestSettings
from agent.terminal_text import safe_line
from agent.wire import Item
from agent.wire.errors import error_body_payload
from agent.wire.items import assistant_text

_ITEMS: TypeAdapter[list[Item]] = TypeAdapter(list[Item])
ERROR_TEXT_LIMIT = 300
"""Characters of an endpoint's error message quoted in a failure."""


class SideRequestFailed(Exception):
    """A side request that gave no answer; the message says why, in words for a person or model."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        """The HTTP status of a refused request (None: no HTTP answer, or a failed response)."""
        self.code = code
        """The endpoint's error code, when it gave one."""


@dataclass(frozen=True)
class SideAnswer:
    """A side request's completed response."""

    output: list[Item]
    """The response's output items (hosted tool calls are `UnknownItem`s, every field kept)."""
    data: dict[str, Any] = field(default_factory=dict)
    """The response object as received."""

    @property
    def text(self) -> str:
        """The assistant's text in the output."""
        return assistant_text(self.output)


def side_body(
    settings: RequestSettings,
    *,
    instructions: str,
    input: Sequence[Item],
    tools: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """A side request's body: the session's model and reasoning, `instructions`, `input`, the
    given `tools` only (none: no `tools` field), not streamed, not stored."""
    body: dict[str, Any] = {
        "model": settings.model,
        "instructions": instructions,
        "input": [item.model_dump(mode="json") for item in input],
        "stream": False,
        "store": False,
    }
    if tools:
        body["tools"] = list(tools)
    if settings.reasoning:
        body["reasoning"] = orjson.loads(settings.reasoning)
    return body


async def post_response(http: object, body: dict[str, Any], *, timeout: float) -> SideAnswer:
    """Send `body` through the HTTP transport's `post` and read the completed response.

    Raises:
        SideRequestFailed: no such transport, the request failed or timed out, the endpoint
            answered with an HTTP error, or with something that is not a completed response.
    """
    post = getattr(http, "post", None)
    if post is None:  # a transport without plain requests (tests' scripted transport)
        raise SideRequestFailed("this session's connection cannot send a request of its own")
    try:
        response = await post("", body, timeout=timeout)
    except httpx.TimeoutException:
        raise SideRequestFailed(f"the endpoint gave no answer within {timeout:g} s") from None
    except (httpx.HTTPError, OSError) as exc:
        raise SideRequestFailed(
            f"the request failed: {safe_line(str(exc) or type(exc).__name__, ERROR_TEXT_LIMIT)}"
        ) from None
    status = getattr(response, "status_code", None)
    content = getattr(response, "content", b"")
    if status != 200:
        payload = error_body_payload(content)
        message = payload.message if payload is not None else content.decode(errors="replace")
        code = payload.code if payload is not None else None
        raise SideRequestFailed(
            f"the endpoint answered HTTP {status}: {safe_line(message, ERROR_TEXT_LIMIT) or '(no message)'}",
            status=status,
            code=code,
        )
    try:
        data = orjson.loads(content)
    except orjson.JSONDecodeError:
        raise SideRequestFailed("the endpoint's answer is not JSON") from None
    if not isinstance(data, dict):
        raise SideRequestFailed("the endpoint's answer is not a response object")
    if data.get("status") == "failed":
        error = data.get("error")
        error = error if isinstance(error, dict) else {}
        code = error.get("code") if isinstance(error.get("code"), str) else None
        message = error.get("message")
        said = safe_line(message, ERROR_TEXT_LIMIT) if isinstance(message, str) else ""
        raise SideRequestFailed(f"the response failed: {said or code or 'no reason given'}", code=code)
    try:
        output = _ITEMS.validate_python(data.get("output") or [])
    except ValidationError:
        raise SideRequestFailed("the endpoint's answer has output items that cannot be read") from None
    return SideAnswer(output=output, data=data)


@dataclass(frozen=True)
class SideChannel:
    """Where a tool's side requests go: the session's HTTP transport, with the conversation's
    request settings (model, reasoning) as they are when a request is sent (after `/model`, say)."""

    http: object
    conversation: Conversation

    async def send(self, body: Callable[[RequestSettings], dict[str, Any]], *, timeout: float) -> SideAnswer:
        """Build the body from the current settings and send it (see `post_response`).

        Raises:
            SideRequestFailed: as `post_response`.
        """
        return await post_response(self.http, body(self.conversation.settings), timeout=timeout)
