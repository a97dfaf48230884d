"""Slash commands and the command palette: two doors to the same actions."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider

if TYPE_CHECKING:
    from tui.app import CodeassistApp


@dataclass(frozen=True)
class SlashCommand:
    name: str
    usage: str
    help: str


COMMANDS = (
    SlashCommand("help", "/help", "show commands and keys"),
    SlashCommand("new", "/new", "start a new session"),
    SlashCommand("model", "/model NAME", "switch the model (the next request resends everything)"),
    SlashCommand("approval", "/approval read-only|ask|auto-edit|full-auto", "change the approval policy"),
    SlashCommand("sessions", "/sessions", "list saved sessions"),
    SlashCommand("resume", "/resume [ID]", "reopen a saved session (default: the latest here)"),
    SlashCommand("replay", "/replay [ID|FILE]", "replay a saved session (default: this one)"),
    SlashCommand("export", "/export [markdown|json]", "write this session's transcript to a file"),
    SlashCommand("copy", "/copy", "copy the last answer to the clipboard"),
    SlashCommand("stats", "/stats", "show or hide the stats panel"),
    SlashCommand("theme", "/theme [NAME]", "switch the theme (remembered in the config)"),
    SlashCommand("quit", "/quit", "leave codeassist"),
)
BY_NAME = {command.name: command for command in COMMANDS}


def complete(prefix: str) -> list[str]:
    """Slash-command names starting with `prefix` (without the slash)."""
    return [command.name for command in COMMANDS if command.name.startswith(prefix)]


class SlashCommands(Provider):
    """Offers every slash command in the command palette (Ctrl+P)."""

    async def discover(self) -> Hits:
        for command in COMMANDS:
            yield DiscoveryHit(f"/{command.name}", partial(self._run, command.name), help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in COMMANDS:
            score = matcher.match(f"/{command.name} {command.help}")
            if score > 0:
                yield Hit(
                    score, matcher.highlight(f"/{command.name}"), partial(self._run, command.name), help=command.help
                )

    async def _run(self, name: str) -> None:
        app: CodeassistApp = self.app  # type: ignore[assignment]
        await app.run_slash_command(f"/{name}")
