"""The Response object and its usage block (reference §3.2)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from agent.wire._base import WireModel
from agent.wire.items import Item

ResponseStatus = Literal["completed", "failed", "in_progress", "cancelled", "queued", "incomplete"]


class InputTokensDetails(WireModel):
    cached_tokens: int = 0


class OutputTokensDetails(WireModel):
    reasoning_tokens: int = 0


class Usage(WireModel):
    """Token accounting of one response; `cached_tokens` is the part the server did not re-process."""

    input_tokens: int = 0
    input_tokens_details: InputTokensDetails | None = None
    output_tokens: int = 0
    output_tokens_details: OutputTokensDetails | None = None
    total_tokens: int = 0

    @property
    def cached_tokens(self) -> int:
        """Cached input tokens, 0 when the server sent no details."""
        return self.input_tokens_details.cached_tokens if self.input_tokens_details else 0

    @property
    def cache_ratio(self) -> float:
        """Share of the input that came from the cache, 0.0 for an empty input."""
        return self.cached_tokens / self.input_tokens if self.input_tokens else 0.0


class ResponseError(WireModel):
    code: str | None = None
    message: str = ""


class IncompleteDetails(WireModel):
    reason: str | None = None


class Response(WireModel):
    """A model response as carried by lifecycle events and `POST /v1/responses`."""

    id: str
    object: Literal["response"] = "response"
    created_at: float | int = 0
    status: ResponseStatus | str = "in_progress"
    model: str | None = None
    output: list[Item] = Field(default_factory=list)
    instructions: str | list[Any] | None = None
    tools: list[dict[str, Any]] = Field(default_factory=list)
    tool_choice: Any = "auto"
    parallel_tool_calls: bool = True
    previous_response_id: str | None = None
    store: bool | None = None
    reasoning: dict[str, Any] | None = None
    text: dict[str, Any] | None = None
    temperature: float | None = None
    top_p: float | None = None
    truncation: str | None = None
    max_output_tokens: int | None = None
    metadata: dict[str, Any] | None = None
    prompt_cache_key: str | None = None
    service_tier: str | None = None
    background: bool | None = None
    error: ResponseError | None = None
    incomplete_details: IncompleteDetails | None = None
    completed_at: float | int | None = None
    usage: Usage | None = None
