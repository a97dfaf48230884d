"""The endpoint flags shared by the commands that talk to a model, defined once.

`--model`, `--base-url`, `--transport`, `--approval`, `--sandbox` (and `--max-steps`, `--no-warmup`) mean the
same everywhere; their choices are the values the settings accept (`APPROVAL_POLICIES`,
`TRANSPORTS`), so a new policy or transport shows up in every command. A command asks for the flags it
needs, and `settings_overrides(args)` turns whatever was given into `load_settings` flags.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.config import APPROVAL_POLICIES, SANDBOX_MODES, TRANSPORTS, ConfigError, load_settings, require_credentials
from agent.terminal_text import safe_terminal_text

if TYPE_CHECKING:
    from agent.config import Settings

APPROVAL_CHOICES: tuple[str, ...] = APPROVAL_POLICIES
"""Every approval policy, least to most autonomous (the values of `agent.approvals.Policy`)."""

TRANSPORT_CHOICES: tuple[str, ...] = TRANSPORTS
"""Every transport the settings accept."""

_DEFAULT_TRANSPORT = TRANSPORTS[0]


def add_endpoint_arguments(
    parser: argparse.ArgumentParser,
    *,
    transport: bool = True,
    approval: bool = True,
    approval_help: str = "approval policy",
    steps: bool = False,
) -> None:
    """Add `--model` and `--base-url`, and the optional `--transport`, `--approval` and
    `--max-steps` / `--no-warmup` flags, to a command's parser."""
    parser.add_argument("--model", help="model name (default from config)")
    parser.add_argument("--base-url", help="Responses API base URL, e.g. http://127.0.0.1:8000/v1")
    if approval:
        parser.add_argument("--approval", choices=APPROVAL_CHOICES, help=approval_help)
        parser.add_argument(
            "--sandbox",
            choices=SANDBOX_MODES,
            help="where shell commands run: workspace-write (writes only in the workspace and /tmp, "
            "no network), read-only, or off; auto (default) picks read-only or workspace-write when bubblewrap works",
        )
    if transport:
        parser.add_argument("--transport", choices=TRANSPORT_CHOICES, help=f"transport (default {_DEFAULT_TRANSPORT})")
    if steps:
        parser.add_argument("--max-steps", type=int, help="responses per turn before stopping")
        parser.add_argument("--no-warmup", action="store_true", help="skip the generate:false warm-up request")


def command_name() -> str:
    """How the user can run codeassist again: `codeassist` when that is on the PATH and is this
    program, otherwise the path this one was started by (e.g. `.venv/bin/codeassist`)."""
    started = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    found = shutil.which("codeassist")
    if started is None or started.name != "codeassist":
        return "codeassist"
    if found is not None and Path(found).resolve() == started.resolve():
        return "codeassist"
    return str(started)


def endpoint_settings(args: argparse.Namespace, command: str) -> Settings | None:
    """The settings for a command that talks to a model (flags over environment over config), or
    None after telling the user on stderr why there are none (bad config, no credentials)."""
    try:
        settings = load_settings(settings_overrides(args))
        require_credentials(settings)
    except ConfigError as exc:
        print(f"codeassist {command}: {safe_terminal_text(str(exc))}", file=sys.stderr)
        return None
    return settings


def settings_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The `load_settings` flags for the endpoint flags present in `args` (None: not given)."""
    return {
        "model": getattr(args, "model", None),
        "base_url": getattr(args, "base_url", None),
        "approval": getattr(args, "approval", None),
        "sandbox": getattr(args, "sandbox", None),
        "transport": getattr(args, "transport", None),
        "max_steps": getattr(args, "max_steps", None),
        "warmup": False if getattr(args, "no_warmup", False) else None,
    }
