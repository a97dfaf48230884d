"""User settings: one pydantic model, loaded from the user's config file, the environment and flags.

Why this shape: the endpoint, the API key and (later) hooks decide where the workspace's code is
sent and what runs on this machine, so they must never come from a file an untrusted repository
can ship (`.env`, `codeassist.toml`, `.codeassist/config.toml`, ...). The only file ever read is
the user's own `$XDG_CONFIG_HOME/codeassist/config.toml`; nothing is looked up relative to the
current directory. Sources are applied in a fixed order, later wins:

1. the user config file (flat TOML, one key per field);
2. the environment: `OPENAI_API_KEY`, `OPENAI_BASE_URL`, then `CODEASSIST_<FIELD>` for every
   field (so `CODEASSIST_API_KEY` / `CODEASSIST_BASE_URL` beat the `OPENAI_*` ones);
3. command-line flags, where None means "not given".

Every problem surfaces as a `ConfigError` naming the file or variable and the field.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tempfile
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from agent.paths import config_dir

__all__ = [
    "DEFAULT_BASE_URL",
    "ENV_PREFIX",
    "FIELDS",
    "ConfigError",
    "Settings",
    "config_path",
    "load_settings",
    "require_credentials",
    "save_setting",
]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
"""The OpenAI API; without a key this endpoint cannot work, unlike a local or custom one."""

ENV_PREFIX = "CODEASSIST_"
"""Prefix of the per-field environment variables (`CODEASSIST_MODEL`, `CODEASSIST_MAX_STEPS`, ...)."""

_MIB = 1024 * 1024


class ConfigError(Exception):
    """Invalid or unusable configuration; the message is meant for the user, as is."""


class Settings(BaseModel):
    """Everything the user can configure; see the module docstring for where values come from."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, use_attribute_docstrings=True)

    model: str = Field("gpt-5.2", min_length=1)
    """Model name sent with every request."""

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

    theme: str = Field("codeassist-dark", min_length=1)
    """Name of the TUI theme (persisted by `/theme`)."""

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

    @field_validator("base_url", mode="before")
    @classmethod
    def _normalise_base_url(cls, value: object) -> object:
        if not isinstance(value, str):
            return value  # the str field itself reports the type error
        parts = urlsplit(value.strip())
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host, e.g. https://api.openai.com/v1")
        if parts.username is not None or parts.password is not None:
            raise ValueError("must not contain credentials; set api_key instead")
        if parts.query or parts.fragment:
            raise ValueError("must not have a query or fragment")
        try:
            _ = parts.port  # parsing the port is the check
        except ValueError as exc:
            raise ValueError(f"has an invalid port ({exc})") from None
        return urlunsplit((scheme, parts.netloc.lower(), parts.path.rstrip("/"), "", ""))

    @field_validator("api_key", mode="before")
    @classmethod
    def _blank_key_is_none(cls, value: object) -> object:
        if isinstance(value, str):
            return value.strip() or None
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
        return data


def _redact_key(key: str | None) -> str | None:
    if key is None:
        return None
    dash = key.find("-", 0, 8)
    prefix = key[: dash + 1] if dash >= 0 else ""
    # Short keys would be given away almost whole by their last four characters.
    tail = key[-4:] if len(key) >= 16 else ""
    return f"{prefix}…{tail}"


FIELDS: tuple[str, ...] = tuple(Settings.model_fields)
"""Every setting name, in declaration order (also the valid config-file keys)."""


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """The user config file: `config.toml` in `agent.paths.config_dir()`.

    That is `$XDG_CONFIG_HOME/codeassist/config.toml`; a relative `XDG_CONFIG_HOME` is ignored
    (it would resolve inside the workspace), and the fallback is `~/.config`.

    Args:
        environ: Environment to read; defaults to `os.environ`.

    Returns:
        The path, whether or not the file exists.
    """
    return config_dir(environ) / "config.toml"


def load_settings(
    flags: Mapping[str, object] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    path: Path | None = None,
) -> Settings:
    """Load settings from the user config file, then the environment, then flags (later wins).

    Only `path` (default `config_path(environ)`) is read; a missing file means defaults. No file
    in the current directory or workspace is consulted, whatever it contains. Empty environment
    variables count as unset. Unknown `CODEASSIST_*` variables are ignored; unknown keys in the
    file or in `flags` are errors.

    Args:
        flags: Command-line overrides keyed by field name; None values mean "not given".
        environ: Environment to read; defaults to `os.environ`.
        path: Config file to read instead of the default one.

    Returns:
        The validated settings.

    Raises:
        ConfigError: the file is unreadable or not valid TOML, has unknown keys, or any source
            has a bad value; the message names the file, variable or flag and the field.
    """
    env = os.environ if environ is None else environ
    file = config_path(env) if path is None else path
    stored = _read_file(file)
    given = {key: value for key, value in (flags or {}).items() if value is not None}
    layers: list[tuple[dict[str, Any], dict[str, str]]] = [
        (stored, dict.fromkeys(stored, str(file))),
        _env_layer(env),
        (given, {key: f"flag --{key.replace('_', '-')}" for key in given}),
    ]
    problems = [problem for data, sources in layers for problem in _problems(data, sources)]
    if problems:
        raise ConfigError("\n".join(problems))
    merged = {key: value for data, _ in layers for key, value in data.items()}
    return Settings.model_validate(merged)


def require_credentials(settings: Settings, *, environ: Mapping[str, str] | None = None) -> None:
    """Fail early when requests could not possibly authenticate.

    A missing key is only fatal with the default OpenAI endpoint; a local or custom server is
    used without one (requests then carry a placeholder key).

    Args:
        settings: The loaded settings.
        environ: Environment used to show the config file path; defaults to `os.environ`.

    Raises:
        ConfigError: no API key and `base_url` is the OpenAI default; the message lists the
            three ways forward.
    """
    if settings.api_key is not None or not settings.uses_default_endpoint:
        return
    raise ConfigError(
        f"No API key for {DEFAULT_BASE_URL}. Any one of these gets you going:\n"
        f"  1. set OPENAI_API_KEY in your environment (or api_key in {config_path(environ)});\n"
        "  2. point --base-url at a compatible or local server, e.g. start `codeassist serve`\n"
        "     and pass the URL it prints (--base-url http://127.0.0.1:<port>/v1);\n"
        "  3. run `codeassist demo` to try codeassist offline with a scripted model."
    )


def save_setting(
    key: str,
    value: object,
    *,
    environ: Mapping[str, str] | None = None,
    path: Path | None = None,
) -> Path:
    """Persist one setting in the user config file (e.g. the theme chosen with `/theme`).

    The file is re-read, the key set to its validated value and the file replaced atomically
    (temporary file in the same directory, then `os.replace`); other keys, and comments where
    possible, are kept as they were. The file is written with mode 0600; directories created
    for it get 0700. `api_key` is only written when it is the key being saved. A None value
    removes the key if its default is None and is written as `""` otherwise.

    Args:
        key: Field name, e.g. `"theme"`.
        value: New value, validated through `Settings`.
        environ: Environment used to locate the file; defaults to `os.environ`.
        path: Config file to update instead of the default one.

    Returns:
        The path written.

    Raises:
        ConfigError: unknown key, invalid value, an existing file that is invalid, or a
            write failure.
    """
    file = config_path(environ) if path is None else path
    if file.is_symlink():
        file = file.resolve()
    if key not in FIELDS:
        raise ConfigError(f"cannot save unknown setting {key!r}; valid keys: {', '.join(FIELDS)}")
    existing = _read_text(file)
    data = _parse(existing, file) if existing is not None else {}
    sources = dict.fromkeys(data, str(file)) | {key: f"new value for {key}"}
    problems = _problems({**data, key: value}, sources)
    if problems:
        raise ConfigError("\n".join(problems))

    canonical = getattr(Settings.model_validate({key: value}), key)
    if isinstance(canonical, SecretStr):
        canonical = canonical.get_secret_value()
    expected = dict(data)
    if canonical is None and Settings.model_fields[key].default is None:
        expected.pop(key, None)
        line = None
    else:
        expected[key] = "" if canonical is None else canonical
        line = f"{key} = {_toml_value(expected[key])}"

    text = _edit_in_place(existing, key, line) if existing is not None else None
    if text is None or _loads_or_none(text) != expected:
        text = "".join(f"{name} = {_toml_value(expected[name])}\n" for name in FIELDS if name in expected)
    _write_private(file, text)
    return file


def _env_layer(env: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    """Values from the environment and, for each field, the variable it came from."""
    aliases = {"api_key": "OPENAI_API_KEY", "base_url": "OPENAI_BASE_URL"}
    data: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for field in FIELDS:
        for name in (aliases.get(field), ENV_PREFIX + field.upper()):
            if name and env.get(name):
                data[field] = env[name]
                sources[field] = f"environment variable {name}"
    return data, sources


def _read_text(file: Path) -> str | None:
    try:
        return file.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the config file ({exc.strerror or exc})") from None


def _parse(text: str, file: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: invalid TOML: {exc}") from None


def _read_file(file: Path) -> dict[str, Any]:
    text = _read_text(file)
    return {} if text is None else _parse(text, file)


def _problems(data: Mapping[str, object], sources: Mapping[str, str]) -> list[str]:
    """One user-facing line per bad key or value in `data`, attributed through `sources`."""
    problems = [
        f"{sources[key]}: unknown key {key!r}; valid keys: {', '.join(FIELDS)}" for key in data if key not in FIELDS
    ]
    if problems:
        return problems
    try:
        Settings.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            message = str(error["ctx"]["error"]) if error["type"] == "value_error" else error["msg"]
            shown = "" if field == "api_key" else f" (got {_short_repr(error['input'])})"
            problems.append(f"{sources[field]}: invalid {field}: {message}{shown}")
    return problems


def _short_repr(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def _toml_value(value: object) -> str:
    """`value` as a TOML literal, for the flat scalars `Settings` holds."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # shortest round-trip form; inf/nan never pass validation
    if isinstance(value, str):
        return '"' + "".join(_toml_char(char) for char in value) + '"'
    raise TypeError(f"cannot write {type(value).__name__} to TOML")


_TOML_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}


def _toml_char(char: str) -> str:
    if char in _TOML_ESCAPES:
        return _TOML_ESCAPES[char]
    if ord(char) < 0x20 or ord(char) == 0x7F:
        return f"\\u{ord(char):04x}"
    return char


def _edit_in_place(text: str, key: str, line: str | None) -> str:
    """`text` with the top-level `key = ...` line replaced by `line` (or removed), else appended."""
    pattern = re.compile(rf"""^[ \t]*(?:{key}|"{key}"|'{key}')[ \t]*=.*(?:\n|\Z)""", re.MULTILINE)
    replacement = "" if line is None else line + "\n"
    edited, count = pattern.subn(lambda _: replacement, text, count=1)
    if count or line is None:
        return edited
    return text + ("" if not text or text.endswith("\n") else "\n") + replacement


def _loads_or_none(text: str) -> dict[str, Any] | None:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None


def _write_private(file: Path, text: str) -> None:
    directory = file.parent
    try:
        if not directory.is_dir():
            directory.parent.mkdir(parents=True, exist_ok=True)
            directory.mkdir(mode=0o700, exist_ok=True)
            os.chmod(directory, 0o700)
        fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{file.name}.", suffix=".tmp")
    except OSError as exc:
        raise ConfigError(f"{file}: cannot write the config file ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, 0o600)
        os.replace(temp, file)
    except OSError as exc:
        Path(temp).unlink(missing_ok=True)
        raise ConfigError(f"{file}: cannot write the config file ({exc.strerror or exc})") from None
