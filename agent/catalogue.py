"""The model catalogue: each model's context window, output limit, prices and abilities.

The data lives in `agent/data/models.json` (with where the figures come from and when they were
checked); an entry may also name `patterns` (shell-style, e.g. `scripted*`) for the model names it
stands for. The user's config (its `models` table, `Settings.models`) can add models or change any
field of one. A model the catalogue does not know gets the default entry, marked `known=False`, so
the caller can say so.

Plain dataclasses and `json`, no pydantic: the status line reads the context window early.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from fnmatch import fnmatchcase
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["APPLY_PATCH_FORMATS", "Catalogue", "ModelInfo", "PriceTable", "catalogue", "user_catalogue"]

APPLY_PATCH_FORMATS = ("function", "freeform")
"""The values of `ModelInfo.apply_patch_format`."""


@dataclass(frozen=True)
class ModelInfo:
    """What codeassist knows of one model. Prices are US dollars per million tokens (None: unknown)."""

    name: str
    context_window: int
    """Tokens of input plus output the model can hold."""
    max_output_tokens: int
    input_per_mtok: float | None = None
    cached_input_per_mtok: float | None = None
    """The price of input tokens the server had cached (the discount WebSocket chaining earns)."""
    output_per_mtok: float | None = None
    reasoning: bool = True
    """Whether the model takes a reasoning effort."""
    compaction: bool = True
    """Whether the endpoint accepts `context_management` compaction for this model."""
    apply_patch_format: str = "function"
    """How apply_patch is offered: `function` (JSON arguments) or `freeform` (a custom tool whose
    input is the patch, held to a grammar; for models that take custom tools with grammars)."""
    known: bool = True
    """False when the catalogue did not know the model and this is the default entry."""

    @property
    def priced(self) -> bool:
        """Whether every price is known (else no cost can be given)."""
        return None not in (self.input_per_mtok, self.cached_input_per_mtok, self.output_per_mtok)

    def with_fields(self, changes: Mapping[str, Any]) -> ModelInfo:
        """A copy with `changes` applied (unknown keys are refused).

        Raises:
            ValueError: a key that is not a field, or a value of the wrong kind.
        """
        names = {field.name for field in fields(self)} - {"name", "known"}
        unknown = sorted(set(changes) - names)
        if unknown:
            raise ValueError(f"unknown model field(s): {', '.join(unknown)}")
        checked: dict[str, Any] = {}
        for key, value in changes.items():
            if key in ("context_window", "max_output_tokens"):
                if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                    raise ValueError(f"{key} must be a positive whole number of tokens")
            elif key in ("reasoning", "compaction"):
                if not isinstance(value, bool):
                    raise ValueError(f"{key} must be true or false")
            elif key == "apply_patch_format":
                if value not in APPLY_PATCH_FORMATS:
                    raise ValueError(f"{key} must be one of {', '.join(map(repr, APPLY_PATCH_FORMATS))}")
            elif value is not None and (isinstance(value, bool) or not isinstance(value, int | float) or value < 0):
                raise ValueError(f"{key} must be a price in dollars per million tokens, or null")
            checked[key] = float(value) if key.endswith("_per_mtok") and value is not None else value
        return replace(self, **checked)


@dataclass(frozen=True)
class PriceTable:
    """Where the catalogue's figures come from and when they were last checked."""

    source: str
    checked: str


class Catalogue:
    """The known models, the default entry, and the provenance of the figures."""

    def __init__(
        self,
        models: Mapping[str, ModelInfo],
        default: ModelInfo,
        provenance: PriceTable,
        patterns: Mapping[str, str] | None = None,
    ) -> None:
        self.models = dict(models)
        self.default = default
        self.provenance = provenance
        self.patterns = dict(patterns or {})
        """Lower-case shell-style patterns of model names, each with the entry it stands for."""

    def lookup(self, name: str) -> ModelInfo:
        """The entry of `name` (exact, then case-insensitive, then by pattern, under the name
        asked for), else the default marked unknown."""
        key = self._key(name)
        if key is not None:
            return self.models[key]
        lowered = name.lower()
        for pattern, entry in self.patterns.items():
            if fnmatchcase(lowered, pattern) and entry in self.models:
                return replace(self.models[entry], name=name)
        return replace(self.default, name=name, known=False)

    def _key(self, name: str) -> str | None:
        """The catalogue's own spelling of `name` (exact, else case-insensitive), if it has one."""
        if name in self.models:
            return name
        return next((key for key in self.models if key.lower() == name.lower()), None)

    def with_overrides(self, overrides: Mapping[str, Mapping[str, Any]]) -> Catalogue:
        """A catalogue with the user's entries applied: a known model's fields changed, or a new
        model added (from the default entry plus the given fields).

        Raises:
            ValueError: an entry with unknown fields or wrong values (the message names the model).
        """
        models = dict(self.models)
        for name, changes in overrides.items():
            if not isinstance(changes, Mapping):
                raise ValueError(f"model {name!r}: must be a table of fields, e.g. {{ context_window = 128000 }}")
            key = self._key(name) or name
            found = self.lookup(name)
            base = models.get(key) or (found if found.known else replace(self.default, name=name))
            try:
                models[key] = replace(base.with_fields(changes), name=key, known=True)
            except ValueError as exc:
                raise ValueError(f"model {name!r}: {exc}") from None
        return Catalogue(models, self.default, self.provenance, self.patterns)


@cache
def catalogue() -> Catalogue:
    """The catalogue shipped with codeassist (read once)."""
    data = json.loads(resources.files("agent").joinpath("data/models.json").read_text(encoding="utf-8"))
    default = ModelInfo(name="default", **data["default"])
    models: dict[str, ModelInfo] = {}
    patterns: dict[str, str] = {}
    for name, entry in data["models"].items():
        for pattern in entry.pop("patterns", ()):
            patterns[pattern.lower()] = name
        models[name] = ModelInfo(name=name, **entry)
    return Catalogue(models, default, PriceTable(source=data["source"], checked=data["checked"]), patterns)


def user_catalogue(overrides: Mapping[str, Mapping[str, Any]] | None) -> Catalogue:
    """The shipped catalogue with the user's `models` table (`Settings.models`) applied.

    Raises:
        ValueError: a bad entry (the message names the model and the field).
    """
    return catalogue().with_overrides(overrides) if overrides else catalogue()
