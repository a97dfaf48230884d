"""Scenario files for the scripted engine (JSON or TOML; documented in the README).

A scenario lists the model's turns in order. Turn *n* answers the request whose context holds
*n* earlier model outputs, so a client that reconnects and resends the full history, chains with
`previous_response_id`, or switches to HTTP gets the same turn again — and several sessions can
share one server. A turn may list alternative continuations, chosen by what the request's newest
input holds (a denied or aborted tool call, say), and a scenario may answer a request that fits
none of them with a fixed message rather than a failure (`off_script_text`).
"""

from __future__ import annotations

import json
import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from server.faults import Fault


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ScriptedCitation(_Strict):
    """A `url_citation` annotation of a message's text."""

    url: str
    title: str = ""
    cites: str | None = None
    """The span of the message's text it annotates (its first occurrence); None: the whole text."""


class ScriptedMessage(_Strict):
    """Assistant text, streamed as one `output_text` part (with its `url_citation` annotations)."""

    type: Literal["message"] = "message"
    text: str
    citations: list[ScriptedCitation] = []


class ScriptedReasoning(_Strict):
    """A reasoning item with summary parts (and optional opaque `encrypted_content`)."""

    type: Literal["reasoning"] = "reasoning"
    summary: list[str] = []
    encrypted_content: str | None = None


class ScriptedFunctionCall(_Strict):
    """A function call; `arguments` may be a JSON object or the raw JSON string."""

    type: Literal["function_call"] = "function_call"
    name: str
    arguments: dict[str, Any] | str = Field(default_factory=dict)
    call_id: str | None = None

    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments, ensure_ascii=False)


class ScriptedCustomToolCall(_Strict):
    """A freeform (custom) tool call with raw text input."""

    type: Literal["custom_tool_call"] = "custom_tool_call"
    name: str
    input: str
    call_id: str | None = None


class ScriptedWebSearchCall(_Strict):
    """A hosted web search the endpoint ran (`web_search_call`): a `search` action for `query`
    (listing `sources`), or, with `url` instead, an `open_page` action."""

    type: Literal["web_search_call"] = "web_search_call"
    query: str | None = None
    url: str | None = None
    sources: list[str] = []
    status: Literal["completed", "failed"] = "completed"


ScriptedOutput = Annotated[
    ScriptedMessage | ScriptedReasoning | ScriptedFunctionCall | ScriptedCustomToolCall | ScriptedWebSearchCall,
    Field(discriminator="type"),
]


class Expectation(_Strict):
    """Something the newest input items (those after the model's last output) must contain.

    Every given field must match one item: `type` exactly, `role`, `call_id` and `name` exactly,
    `contains` as a substring of the item's text (message text or tool output), `images` as the
    number of `input_image` parts the item carries (in a message's content or a tool output).
    """

    type: str
    role: str | None = None
    call_id: str | None = None
    name: str | None = None
    contains: str | None = None
    images: int | None = Field(default=None, ge=0)


class ScriptedTurn(_Strict):
    """One model response."""

    expect: list[Expectation] = []
    output: list[ScriptedOutput] = []
    fail: dict[str, str] | None = None
    """End with `response.failed` and this `{code, message}` instead of producing output."""
    incomplete: str | None = None
    """End with `response.incomplete` and this reason after producing the output."""
    tokens_per_second: float | None = Field(default=None, ge=0)
    """Streaming pace for this turn; None uses the scenario's."""
    fault: Fault | None = None
    """A fault for this turn (its `turn` is filled in)."""
    alternatives: list[ScriptedTurn] = []
    """Other continuations, tried in order when this turn's `expect` is not met: the first whose
    own `expect` is met is played instead (e.g. the answer to a denied or aborted tool call).
    An alternative's own `alternatives` and `fault` are not used."""


class Scenario(_Strict):
    """A scripted model: metadata, pacing, turns and faults."""

    name: str = "scenario"
    description: str = ""
    model: str = "scripted"
    tokens_per_second: float = Field(default=0, ge=0)
    """Delta pace; 0 streams as fast as possible."""
    turns: list[ScriptedTurn] = []
    faults: list[Fault] = []
    on_exhausted: Literal["message", "fail"] = "message"
    """What a request past the last turn gets: a fixed assistant message, or `response.failed`."""
    exhausted_text: str = "The scripted model has no more turns in this scenario."
    off_script_text: str | None = None
    """When set, a request that meets neither its turn's `expect` nor any alternative's gets this
    assistant message instead of `response.failed` (`scenario_mismatch`)."""
    context_window: int | None = Field(default=None, gt=0)
    """The server's context window in (approximate) tokens; None is unlimited. `GET /v1/models`
    reports it (or the catalogue's window for the model when None)."""
    compaction: bool = True
    """Whether the endpoint has compaction: false refuses the `context_management` field, the
    `compaction` item and `POST /v1/responses/compact`, like an endpoint without the feature."""
    reject_over_window: bool = True
    """Answer a request whose context is over `context_window` with `context_length_exceeded`
    (false: answer it anyway)."""
    web_search: bool = True
    """Whether the endpoint has the hosted `web_search` tool: false refuses a request offering it
    (HTTP 400 `invalid_value`), like an endpoint without hosted search."""

    def all_faults(self) -> list[Fault]:
        """Scenario-level faults plus each turn's fault bound to its turn index."""
        bound = [
            turn.fault.model_copy(update={"turn": index})
            for index, turn in enumerate(self.turns)
            if turn.fault is not None
        ]
        return [*self.faults, *bound]


class ScenarioError(ValueError):
    """A scenario file that cannot be read or does not match the format."""


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario from a `.json` or `.toml` file.

    Raises:
        ScenarioError: missing file, bad syntax, or fields that do not match the format.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"cannot read scenario {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode()) if path.suffix == ".toml" else json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"scenario {path} is not valid {path.suffix.lstrip('.') or 'JSON'}: {exc}") from None
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(f"scenario {path} does not match the format:\n{exc}") from None


def bundled_scenario_path(name: str = "demo") -> Path:
    """Path of a scenario shipped with the package (`demo`, …)."""
    return Path(str(resources.files("server") / "scenarios" / f"{name}.json"))
