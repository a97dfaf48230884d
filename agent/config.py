"""User settings: one pydantic model (`Settings`, in `agent.settings_model`, built on first use),
loaded from the user's config file, the environment and flags.

Why this shape: the endpoint, the API key and (later) hooks decide where the workspace's code is
sent and what runs on this machine, so they must never come from a file an untrusted repository
can ship (`.env`, `codeassist.toml`, `.codeassist/config.toml`, ...). The only file ever read is
the user's own `$XDG_CONFIG_HOME/codeassist/config.toml`; nothing is looked up relative to the
current directory. Sources are applied in a fixed order, later wins:

1. the user config file (TOML, one key per field; `models` and `mcp_servers` are tables of tables);
2. the environment: `OPENAI_API_KEY`, `OPENAI_BASE_URL`, then `CODEASSIST_<FIELD>` for every
   field (so `CODEASSIST_API_KEY` / `CODEASSIST_BASE_URL` beat the `OPENAI_*` ones);
3. command-line flags, where None means "not given".

Every problem surfaces as a `ConfigError` naming the file or variable and the field.

Start-up: importing this module builds no pydantic model; `draft_settings` gives the app what its
first frame needs (a `SettingsDraft`) when the values are certain to pass, and the app validates
them into `Settings` right after that frame.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from agent.paths import config_dir

if TYPE_CHECKING:
    from agent.settings_model import Settings

__all__ = [
    "APPROVAL_POLICIES",
    "DEFAULT_BASE_URL",
    "ENV_PREFIX",
    "FIELDS",
    "NOTIFY_MODES",
    "SANDBOX_MODES",
    "TRANSPORTS",
    "ConfigError",
    "Settings",
    "SettingsDraft",
    "config_path",
    "draft_settings",
    "load_settings",
    "require_credentials",
    "save_setting",
]

DEFAULT_BASE_URL = "https://api.openai.com/v1"
"""The OpenAI API; without a key this endpoint cannot work, unlike a local or custom one."""

ENV_PREFIX = "CODEASSIST_"
"""Prefix of the per-field environment variables (`CODEASSIST_MODEL`, `CODEASSIST_MAX_STEPS`, ...)."""


class ConfigError(Exception):
    """Invalid or unusable configuration; the message is meant for the user, as is."""


def normalise_base_url(value: str) -> str:
    """`value` as a base URL: scheme and host lower-cased, no trailing slash.

    Raises:
        ValueError: not an http(s) URL with a host, or it holds credentials, a query, a fragment
            or a bad port (the message completes "base_url ...").
    """
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


def __getattr__(name: str) -> Any:
    """`Settings` is built (pydantic) on first use, not when this module is imported."""
    if name == "Settings":
        from agent.settings_model import Settings

        return Settings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


FIELDS: tuple[str, ...] = (
    "model",
    "models",
    "base_url",
    "api_key",
    "transport",
    "approval",
    "max_steps",
    "warmup",
    "store",
    "trace_frames",
    "reasoning_effort",
    "reasoning_summary",
    "theme",
    "sandbox",
    "allow",
    "ask",
    "deny",
    "notify",
    "ping_interval_s",
    "ping_timeout_s",
    "open_timeout_s",
    "idle_timeout_s",
    "max_connection_age_s",
    "max_retries",
    "max_frame_bytes",
    "compact_threshold",
    "auto_commit",
    "web_search",
    "checkpoint_max_file_mb",
    "mcp_servers",
)
"""Every setting name, in declaration order (also the valid config-file keys); `Settings` has
exactly these fields (a test holds them together)."""

TRANSPORTS: tuple[str, ...] = ("websocket", "http")
"""The values of `Settings.transport`, the default first."""

APPROVAL_POLICIES: tuple[str, ...] = ("read-only", "ask", "auto-edit", "full-auto")
"""The values of `Settings.approval` (least to most autonomous)."""

SANDBOX_MODES: tuple[str, ...] = ("auto", "read-only", "workspace-write", "off")
"""The values of `Settings.sandbox`, the default first."""

NOTIFY_MODES: tuple[str, ...] = ("auto", "osc9", "bell", "off")
"""The values of `Settings.notify`, the default first."""

DEFAULT_THEME = "codeassist-dark"
"""The default of `Settings.theme`."""


class SettingsDraft:
    """Settings read from the config file, the environment and flags, not yet built into
    `Settings`: what the app needs for its first frame, without building pydantic models.

    `draft_settings` makes one only when every value given is one a cheap check can vouch for,
    so `validate()` cannot fail for it; `validate()` builds the `Settings` (the app does that
    right after its first frame).
    """

    def __init__(self, values: Mapping[str, str]) -> None:
        self.values = dict(values)

    @property
    def theme(self) -> str:
        """Name of the TUI theme."""
        return self.values.get("theme", DEFAULT_THEME)

    @property
    def uses_default_endpoint(self) -> bool:
        """True when `base_url` is the OpenAI API (`DEFAULT_BASE_URL`)."""
        return normalise_base_url(self.values.get("base_url", DEFAULT_BASE_URL)) == DEFAULT_BASE_URL

    def api_key_value(self) -> str | None:
        """The API key in clear, or None when none is configured."""
        return self.values.get("api_key", "").strip() or None

    def validate(self) -> Settings:
        """The validated settings."""
        return _validated(self.values)


_DRAFTABLE: dict[str, Callable[[str], bool]] = {
    "model": bool,
    "theme": bool,
    "api_key": lambda value: True,
    "base_url": lambda value: _valid_base_url(value),
    "transport": lambda value: value in TRANSPORTS,
    "approval": lambda value: value in APPROVAL_POLICIES,
    "notify": lambda value: value in NOTIFY_MODES,
    "sandbox": lambda value: value in SANDBOX_MODES,
}
"""The string settings a draft may hold, each with the check that makes `Settings` accept it."""


def _draftable(key: str, value: object) -> bool:
    """Whether a draft may hold `value` for `key`: a cheap check vouches that `Settings` accepts it."""
    if key == "models":  # the catalogue is plain data (no pydantic): checking it is cheap
        from agent.catalogue import user_catalogue

        try:
            user_catalogue(value)  # type: ignore[arg-type]
        except (TypeError, ValueError, AttributeError):
            return False
        return isinstance(value, dict) and all(isinstance(name, str) for name in value)
    if key == "mcp_servers":  # plain data too: the servers start after the first frame
        from agent.mcp.config import parse_servers

        try:
            parse_servers(value)
        except ValueError:
            return False
        return isinstance(value, dict)
    return isinstance(value, str) and key in _DRAFTABLE and _DRAFTABLE[key](value)


def _valid_base_url(value: str) -> bool:
    try:
        normalise_base_url(value)
    except ValueError:
        return False
    return True


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
    layers = _layers(flags, environ, path)
    problems = [problem for data, sources in layers for problem in _problems(data, sources)]
    if problems:
        raise ConfigError("\n".join(problems))
    return _validated({key: value for data, _ in layers for key, value in data.items()})


def draft_settings(
    flags: Mapping[str, object] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    path: Path | None = None,
) -> Settings | SettingsDraft:
    """`load_settings`, but without building `Settings` when it is certain to succeed.

    When every value the sources give is a model name, theme, key, base URL, transport or
    approval policy that passes a cheap check, the result is a `SettingsDraft` (the app builds
    the `Settings` after its first frame); otherwise it is `load_settings`'s result, so a bad
    value is reported exactly as `load_settings` reports it.

    Raises:
        ConfigError: as `load_settings`.
    """
    layers = _layers(flags, environ, path)
    merged = {key: value for data, _ in layers for key, value in data.items()}
    if all(_draftable(key, value) for key, value in merged.items()):
        return SettingsDraft(merged)
    return load_settings(flags, environ=environ, path=path)


def _layers(
    flags: Mapping[str, object] | None, environ: Mapping[str, str] | None, path: Path | None
) -> list[tuple[dict[str, Any], dict[str, str]]]:
    """The values of the config file, the environment and the flags, each with where it came from."""
    env = os.environ if environ is None else environ
    file = config_path(env) if path is None else path
    stored = _read_file(file)
    given = {key: value for key, value in (flags or {}).items() if value is not None}
    return [
        (stored, dict.fromkeys(stored, str(file))),
        _env_layer(env),
        (given, {key: f"flag --{key.replace('_', '-')}" for key in given}),
    ]


def _validated(values: Mapping[str, object]) -> Settings:
    from agent.settings_model import Settings

    return Settings.model_validate(values)


def require_credentials(settings: Settings | SettingsDraft, *, environ: Mapping[str, str] | None = None) -> None:
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
    if settings.api_key_value() is not None or not settings.uses_default_endpoint:
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

    from pydantic import SecretStr

    from agent.settings_model import Settings

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
    from pydantic import ValidationError

    from agent.settings_model import Settings

    try:
        Settings.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            field = str(error["loc"][0]) if error["loc"] else "?"
            message = str(error["ctx"]["error"]) if error["type"] == "value_error" else error["msg"]
            scalar = not isinstance(error["input"], dict | list)  # a table's own fields are named in `message`
            shown = f" (got {_short_repr(error['input'])})" if scalar and field != "api_key" else ""
            problems.append(f"{sources[field]}: invalid {field}: {message}{shown}")
    return problems


def _short_repr(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def _toml_value(value: object) -> str:
    """`value` as a TOML literal, for the scalars, lists of strings and tables `Settings` holds."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)  # shortest round-trip form; inf/nan never pass validation
    if isinstance(value, str):
        return '"' + "".join(_toml_char(char) for char in value) + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, dict):  # an inline table
        return "{ " + ", ".join(f"{_toml_value(str(key))} = {_toml_value(item)}" for key, item in value.items()) + " }"
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
    table = re.search(r"^[ \t]*\[", text, re.MULTILINE)
    if table is not None:  # a top-level key goes before the first table (e.g. `[models."x"]`)
        return text[: table.start()] + replacement + text[table.start() :]
    return text + ("" if not text or text.endswith("\n") else "\n") + replacement


def _loads_or_none(text: str) -> dict[str, Any] | None:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return None


def _write_private(file: Path, text: str) -> None:
    import tempfile

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
