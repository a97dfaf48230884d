"""The client's `response.create` event (reference §2.1).

Over WebSocket the body of `POST /v1/responses` travels flat next to `"type"`; over HTTP it is
the same object without `type`. Unknown fields are kept and passed on untouched.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict

from agent.wire._base import CompactWireModel
from agent.wire.items import Item, user_message


class ResponseCreate(CompactWireModel):
    """`response.create`: start one model response.

    Fields mirror `POST /v1/responses`; `generate=False` asks for a warm-up that produces no
    output but a chainable response id. Serialised without the fields left as None.
    """

    model_config = ConfigDict(extra="allow", strict=True)

    type: Literal["response.create"] = "response.create"
    model: str | None = None
    input: str | list[Item] | None = None
    instructions: str | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    previous_response_id: str | None = None
    store: bool | None = None
    reasoning: dict[str, Any] | None = None
    include: list[str] | None = None
    text: dict[str, Any] | None = None
    max_output_tokens: int | None = None
    max_tool_calls: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_logprobs: int | None = None
    truncation: str | None = None
    metadata: dict[str, str] | None = None
    prompt_cache_key: str | None = None
    prompt_cache_retention: str | None = None
    service_tier: str | None = None
    safety_identifier: str | None = None
    user: str | None = None
    prompt: dict[str, Any] | None = None
    conversation: str | dict[str, Any] | None = None
    context_management: list[dict[str, Any]] | None = None
    stream: bool | None = None
    stream_options: dict[str, Any] | None = None
    background: bool | None = None
    stream_id: str | None = None
    generate: bool | None = None
    client_metadata: dict[str, Any] | None = None

    def input_items(self) -> list[Item]:
        """The input as a list of items; a bare string becomes one user message."""
        if self.input is None:
            return []
        if isinstance(self.input, str):
            return [user_message(self.input)]
        return list(self.input)

    def http_body(self) -> dict[str, Any]:
        """The JSON body of the equivalent `POST /v1/responses` (no `type`)."""
        body = self.model_dump(mode="json")
        body.pop("type", None)
        return body
