"""The models a session can switch to: the catalogue's entries plus what the endpoint lists.

`GET {base_url}/models` is the OpenAI list-models call (`{"object": "list", "data": [{"id",
"object": "model", "created", "owned_by", ...}]}`; `codeassist serve` adds `context_window`).
Many Responses servers do not offer it: any failure becomes a message in the listing, never an
exception, so a picker can show the catalogue and say why the endpoint's models are missing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from agent.catalogue import Catalogue, ModelInfo
from agent.conversation import RequestSettings

if TYPE_CHECKING:
    from agent.settings_model import Settings

__all__ = [
    "ModelChoice",
    "ModelListing",
    "available_models",
    "fetch_endpoint_models",
    "list_models",
    "model_notice",
    "with_model_and_reasoning",
]

Origin = Literal["catalogue", "endpoint", "both", "current"]


@dataclass(frozen=True)
class ModelChoice:
    """One model a user can pick."""

    name: str
    origin: Origin
    """Where it was found: the catalogue, the endpoint's list, both, or neither (`current`: the
    model in use, which is offered whatever lists it)."""
    context_window: int | None
    """Tokens the model holds: the endpoint's figure, else the catalogue's (None: unknown)."""
    reasoning: bool
    """Whether it takes a reasoning effort (the catalogue's entry, or its default)."""
    priced: bool
    """Whether the catalogue knows all its prices."""


@dataclass(frozen=True)
class ModelListing:
    """The models on offer, and why the endpoint's list is missing when it is."""

    choices: list[ModelChoice]
    endpoint_error: str | None = None
    """Why the endpoint's models could not be listed (None: they are among `choices`)."""


class ModelListError(Exception):
    """The endpoint's models could not be listed; the message is meant for the user."""


async def fetch_endpoint_models(
    base_url: str, api_key: str | None, *, verify: Any = True, timeout: float = 15.0
) -> list[dict[str, Any]]:
    """The entries of `GET {base_url}/models`, each a dict with a string `id`.

    Raises:
        ModelListError: the request failed, was refused, or answered something that is not a list.
    """
    import httpx

    headers = {"Authorization": f"Bearer {api_key or 'codeassist-no-key'}", "Accept": "application/json"}
    try:
        async with httpx.AsyncClient(timeout=timeout, verify=verify) as client:
            response = await client.get(f"{base_url}/models", headers=headers)
    except httpx.HTTPError as exc:
        raise ModelListError(f"cannot reach {base_url}/models ({type(exc).__name__}: {exc})") from None
    if response.status_code in (404, 405):
        raise ModelListError(f"the endpoint does not list its models (HTTP {response.status_code})")
    if response.status_code != 200:
        raise ModelListError(f"{base_url}/models answered HTTP {response.status_code}")
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        raise ModelListError(f"{base_url}/models did not answer JSON") from None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise ModelListError(f"{base_url}/models did not answer a list of models")
    return [entry for entry in data if isinstance(entry, dict) and isinstance(entry.get("id"), str) and entry["id"]]


async def available_models(
    catalogue: Catalogue, current: str, settings: Settings, *, verify: Any = True, endpoint: bool = True
) -> ModelListing:
    """The listing `/model` offers for `settings`' endpoint (see `Session.available_models`)."""
    if not endpoint:
        return ModelListing(list_models(catalogue, None, current))
    try:
        listed = await fetch_endpoint_models(
            settings.base_url, settings.api_key_value(), verify=verify, timeout=settings.open_timeout_s
        )
    except ModelListError as exc:
        return ModelListing(list_models(catalogue, None, current), endpoint_error=str(exc))
    return ModelListing(list_models(catalogue, listed, current))


def list_models(catalogue: Catalogue, endpoint: list[dict[str, Any]] | None, current: str) -> list[ModelChoice]:
    """The current model, then the catalogue's models, then the endpoint's others, each once.

    Entries that stand for a family of names (`patterns`, e.g. codeassist serve's scripted
    models) are offered only when the endpoint lists them or they are in use."""
    listed = {entry["id"]: entry for entry in endpoint or []}
    families = set(catalogue.patterns.values())
    names = [current, *(name for name in catalogue.models if name not in families), *listed]
    choices: list[ModelChoice] = []
    for name in dict.fromkeys(names):
        info = catalogue.lookup(name)
        in_catalogue = name in catalogue.models
        window = listed.get(name, {}).get("context_window")
        origin: Origin = (
            ("both" if name in listed else "catalogue") if in_catalogue else "endpoint" if name in listed else "current"
        )
        choices.append(
            ModelChoice(
                name=name,
                origin=origin,
                context_window=window if _positive_int(window) else info.context_window if info.known else None,
                reasoning=info.reasoning,
                priced=info.priced,
            )
        )
    return choices


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def model_notice(info: ModelInfo) -> str | None:
    """What to tell the user at start when the catalogue does not know the model (else None)."""
    if info.known:
        return None
    return (
        f"Model {info.name} is not in the model catalogue: using the default entry "
        f"(context window {info.context_window:,} tokens, prices unknown). "
        f'Give its figures in the config file\'s [models."{info.name}"] table.'
    )


def with_model_and_reasoning(
    settings: RequestSettings, model: str, reasoning: dict[str, Any] | None
) -> RequestSettings:
    """`settings` with another model and reasoning options, everything else kept as it was."""
    rebuilt = RequestSettings.build(model=model, instructions=None, tools=[], reasoning=reasoning, store=settings.store)
    return dataclasses.replace(settings, model=model, reasoning=rebuilt.reasoning, include=rebuilt.include)
