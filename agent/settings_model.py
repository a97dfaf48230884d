"""`Settings`: the pydantic model of the user's settings (see `agent.config` for where they come from).

It lives apart from `agent.config` so that reading settings for the app's first frame does not
build pydantic models: `agent.config.Settings` loads this module when first used.
"""

from __future__ import annotations

import ipaddress
import json
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from agent.config import DEFAULT_BASE_URL, DEFAULT_THEME, normalise_base_url
from agent.mcp.config import redacted
from agent.permissions import PermissionRule

_MIB = 1024 * 1024


class Settings(BaseModel):
    """Everything the user can configure; see the module docstring for where values come from."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, use_attribute_docstrings=True)

    model: str = Field("gpt-5.2", min_length=1)
    """Model name sent with every request."""

    models: dict[str, dict[str, Any]] = {}
    """Changes to the model catalogue, by model name: any of `context_window`, `max_output_tokens`,
    `input_per_mtok`, `cached_input_per_mtok`, `output_per_mtok` (dollars per million tokens),
    `reasoning`, `compaction`. A model the catalogue lacks is added (the default entry plus these
    fields). In the config file a `[models."NAME"]` table; in `CODEASSIST_MODELS`, JSON."""

    base_url: str = DEFAULT_BASE_URL
    """HTTP(S) base URL of a Responses-API host; `/responses` is appended, and the WebSocket URL
    uses ws(s). A trailing slash is dropped. Credentials do not belong in the URL."""

    api_key: SecretStr | None = None
    """API key sent as a bearer token. Optional for local or custom endpoints."""

    transport: Literal["websocket", "http"] = "websocket"
    """`websocket`: one persistent socket (WebSocket mode); `http`: HTTP/SSE per request."""

    approval: Literal["read-only", "ask", "auto-edit", "full-auto"] = "ask"
    """How tool calls are approved: never run edits or commands, ask each time, apply edits
    without asking, or run everything without asking."""

    max_steps: int = Field(50, ge=1)
    """Most model requests (steps) in one turn before the agent stops."""

    warmup: bool = True
    """Send a `generate: false` warm-up request when a session starts, to prime the server cache."""

    store: bool = False
    """Ask the server to store responses (`store: true`) beyond the connection-local cache."""

    trace_frames: bool = False
    """Also write every raw WebSocket frame or SSE event to `<session id>.trace` beside the
    session file (redacted; for debugging a server; the session record never holds frames)."""

    reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = "medium"
    """Reasoning effort sent to the model; `""` (None) leaves the `reasoning` effort out entirely,
    whereas `"none"` is the API's own value."""

    reasoning_summary: Literal["auto", "concise", "detailed"] | None = "auto"
    """Reasoning summary style; `""` or `"none"` (None) asks for no summaries."""

    theme: str = Field(DEFAULT_THEME, min_length=1)
    """Name of the TUI theme (persisted by `/theme`)."""

    sandbox: Literal["auto", "read-only", "workspace-write", "off"] = "auto"
    """Where shell commands run (see the README's Safety section): `workspace-write` lets them
    write only in the workspace and the temporary directories, with no network; `read-only` writes nothing;
    `off` runs them as you. `auto` is `read-only` under the read-only approval policy and
    `workspace-write` otherwise, when the sandbox works on this machine (bubblewrap on Linux)."""

    allow: list[str] = []
    """Rules for calls that run without asking, e.g. `["shell:pytest", "shell:git status",
    "edit_file:docs/*"]` (`tool` or `tool:command prefix or path glob`)."""

    ask: list[str] = []
    """Rules for calls that always ask, even under `full-auto` (e.g. `["shell:npm publish"]`)."""

    deny: list[str] = []
    """Rules for calls that are always refused (e.g. `["shell:git push", "read_file:*.pem"]`);
    deny wins over ask and allow."""

    notify: Literal["auto", "osc9", "bell", "off"] = "auto"
    """How the app calls you when a turn ends (after a long turn, or while the terminal is not
    focused): `osc9` a desktop notification (OSC 9), `bell` the terminal bell, `off` nothing;
    `auto` uses OSC 9 in terminals known to show it (iTerm2, WezTerm, ghostty, kitty) and the bell
    elsewhere."""

    ping_interval_s: float = Field(20.0, gt=0, allow_inf_nan=False)
    """Seconds between WebSocket keepalive pings."""

    ping_timeout_s: float = Field(60.0, gt=0, allow_inf_nan=False)
    """Seconds to wait for a pong before the socket is considered dead."""

    open_timeout_s: float = Field(15.0, gt=0, allow_inf_nan=False)
    """Seconds allowed for connecting and the WebSocket upgrade."""

    idle_timeout_s: float = Field(300.0, gt=0, allow_inf_nan=False)
    """Seconds without any server event, mid-response, before the stream is abandoned."""

    max_connection_age_s: float = Field(55 * 60.0, gt=0, allow_inf_nan=False)
    """Rotate the socket (between responses) once it is this old, before the server's
    60-minute connection limit."""

    max_retries: int = Field(5, ge=0)
    """Reconnects or resends allowed for one request before giving up."""

    max_frame_bytes: int = Field(64 * _MIB, ge=16 * _MIB)
    """Largest WebSocket frame accepted from the server, in bytes (at least 16 MiB)."""

    compact_threshold: int | None = Field(None, ge=0)
    """Tokens of context past which the conversation is compacted (sent as `context_management`;
    codeassist compacts itself where the endpoint refuses that field). Empty (the default): 80% of
    the model's context window from the catalogue; `0` or `"off"`: never automatically."""

    auto_commit: bool = False
    """Commit on the current branch after every turn that changed files (the message written from
    the turn, with the trailer `Assisted-by: codeassist`; files dirty before the session are left
    out)."""

    web_search: bool = False
    """Offer the model a `web_search` tool: each search (asked about like any network use) is
    answered by the endpoint's hosted web search, on a request of its own (OpenAI has it; other
    endpoints may not)."""

    checkpoint_max_file_mb: int = Field(10, ge=0)
    """Untracked files larger than this (MiB) are left out of checkpoints, and `/undo` never
    touches them."""

    mcp_servers: dict[str, dict[str, Any]] = {}
    """MCP servers whose tools the model may call, by name: `command` (with `args`, `env`, `cwd`)
    or `url` (with `headers`), and `enabled`, `start_timeout_s`, `call_timeout_s`,
    `trust_read_only_hint` (`agent.mcp.config`, docs/mcp.md). In the config file
    `[mcp_servers.NAME]` tables; in `CODEASSIST_MCP_SERVERS`, JSON."""

    @field_validator("base_url", mode="before")
    @classmethod
    def _normalise_base_url(cls, value: object) -> object:
        return normalise_base_url(value) if isinstance(value, str) else value  # the str field reports the type

    @field_validator("models", mode="before")
    @classmethod
    def _checked_models(cls, value: object) -> object:
        value = _tables_from_json(value, "model tables")
        if isinstance(value, dict):
            from agent.catalogue import user_catalogue

            user_catalogue(value)  # a bad entry raises, naming the model and the field
        return value

    @field_validator("mcp_servers", mode="before")
    @classmethod
    def _checked_mcp_servers(cls, value: object) -> object:
        from agent.mcp.config import parse_servers

        value = _tables_from_json(value, "server tables")
        parse_servers(value)  # a bad entry raises, naming the server and the key
        return value

    @field_validator("api_key", mode="before")
    @classmethod
    def _blank_key_is_none(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip() or None
        return value

    @field_validator("allow", "ask", "deny", mode="before")
    @classmethod
    def _rule_list(cls, value: object) -> object:
        if isinstance(value, str):  # an environment variable: comma-separated rules
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            for spec in value:
                if isinstance(spec, str):
                    PermissionRule.parse(spec, "allow")  # its PermissionRuleError is a ValueError
        return value

    @field_validator("compact_threshold", mode="before")
    @classmethod
    def _compact_threshold_words(cls, value: object) -> object:
        if isinstance(value, str) and value.strip().lower() in ("", "auto", "off"):
            return 0 if value.strip().lower() == "off" else None
        return value

    @field_validator("reasoning_effort", mode="before")
    @classmethod
    def _blank_effort_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("reasoning_summary", mode="before")
    @classmethod
    def _blank_summary_is_none(cls, value: object) -> object:
        return None if value in ("", "none") else value

    @property
    def responses_url(self) -> str:
        """The HTTP endpoint: base URL + `/responses`."""
        return f"{self.base_url}/responses"

    @property
    def websocket_url(self) -> str:
        """The WebSocket endpoint: base URL with http→ws / https→wss, + `/responses`."""
        parts = urlsplit(self.responses_url)
        return urlunsplit(("wss" if parts.scheme == "https" else "ws", *parts[1:]))

    @property
    def uses_default_endpoint(self) -> bool:
        """True when `base_url` is the OpenAI API (`DEFAULT_BASE_URL`)."""
        return self.base_url == DEFAULT_BASE_URL

    @property
    def is_local_endpoint(self) -> bool:
        """True when the host is localhost (or `*.localhost`), in 127.0.0.0/8, or ::1."""
        host = urlsplit(self.base_url).hostname or ""
        if host == "localhost" or host.endswith(".localhost"):
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False

    def api_key_value(self) -> str | None:
        """The API key in clear, or None when none is configured."""
        return self.api_key.get_secret_value() if self.api_key is not None else None

    def redacted_dict(self) -> dict[str, Any]:
        """All settings as plain values for display, with the API key shortened to `sk-…abcd`."""
        data = self.model_dump()
        data["api_key"] = _redact_key(self.api_key_value())
        data["mcp_servers"] = {name: redacted(table) for name, table in self.mcp_servers.items()}
        return data


def _redact_key(key: str | None) -> str | None:
    if key is None:
        return None
    dash = key.find("-", 0, 8)
    prefix = key[: dash + 1] if dash >= 0 else ""
    # Short keys would be given away almost whole by their last four characters.
    tail = key[-4:] if len(key) >= 16 else ""
    return f"{prefix}…{tail}"


def _tables_from_json(value: object, what: str) -> object:
    """An environment variable's value (a string) read as JSON; any other value as it is.

    Raises:
        ValueError: not JSON, or nested too deeply to read ("must be a JSON object of `what`").
    """
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except (ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise ValueError(f"must be a JSON object of {what} ({reason})") from None
