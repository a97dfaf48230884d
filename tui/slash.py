"""Slash commands: each one's name, usage, help and handler in one registry entry.

The prompt (`/name args`), the command palette (Ctrl+P) and `/help` all read `COMMANDS`; `/help`
lists the key bindings from the widgets that declare them, so neither list is written twice.

Startup: the app imports this module before the first frame, so the handlers import the session
(and everything behind it) only when they run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from textual.binding import Binding, BindingType
from textual.command import DiscoveryHit, Hit, Hits, Provider

from agent.config import ConfigError

if TYPE_CHECKING:
    from agent.session import ModelChoice
    from tui.app import CodeassistApp
    from tui.screens.picker import PickerRow

Handler = Callable[["CodeassistApp", str], Awaitable[None]]


@dataclass(frozen=True)
class SlashCommand:
    """One slash command: how it is typed, what it does, and the function that does it."""

    name: str
    usage: str
    help: str
    handler: Handler


COMMANDS: dict[str, SlashCommand] = {}
"""Every slash command by name, in the order `/help` lists them."""


def command(name: str, usage: str, help: str) -> Callable[[Handler], Handler]:
    """Register the decorated handler as `/name`."""

    def register(handler: Handler) -> Handler:
        COMMANDS[name] = SlashCommand(name, usage, help, handler)
        return handler

    return register


def complete(prefix: str) -> list[str]:
    """Slash-command names starting with `prefix` (without the slash)."""
    return [name for name in COMMANDS if name.startswith(prefix)]


def matching_commands(typed: str) -> list[SlashCommand]:
    """Commands for the `/` list: names starting with `typed` first, then names containing it."""
    starting = [entry for entry in COMMANDS.values() if entry.name.startswith(typed)]
    containing = [entry for entry in COMMANDS.values() if typed in entry.name and entry not in starting]
    return starting + containing


async def run_command(app: CodeassistApp, text: str) -> None:
    """Run one `/command args` line; unknown names get a hint."""
    name, _, rest = text.lstrip("/").partition(" ")
    argument = rest.strip()
    found = COMMANDS.get(name)
    if found is None:
        matches = complete(name)
        hint = f" Did you mean {', '.join('/' + m for m in matches)}?" if matches else " Try /help."
        app.say(f"Unknown command /{name}.{hint}", error=True)
        return
    try:
        await found.handler(app, argument)
    except (ConfigError, ValueError, OSError) as exc:
        app.say(f"/{name}: {exc}", error=True)


# ---- /help: the commands and the keys --------------------------------------------------------


def key_help() -> str:
    """The keys of the app, the prompt and its completion lists, transcript blocks, approval cards
    and replay, from their bindings."""
    from textual.app import App

    from tui.app import CodeassistApp
    from tui.blocks import BLOCK_ACTIONS
    from tui.screens.commit import CommitScreen
    from tui.screens.diff import DiffScreen
    from tui.screens.picker import PickerScreen
    from tui.widgets.approval import ApprovalCard
    from tui.widgets.prompt import PromptInput

    app_bindings = [*CodeassistApp.BINDINGS, *App.BINDINGS]
    replay = {"replay_pause", "replay_speed"}
    blocks = {"select_block", "show_diff", *BLOCK_ACTIONS}
    sections = [
        ("Prompt", [*PromptInput.TYPED_KEYS, *_described(PromptInput.BINDINGS)]),
        ("Completion lists", list(PromptInput.COMPLETION_KEYS)),
        ("Transcript blocks", _described(binding for binding in app_bindings if _action(binding) in blocks)),
        (
            "App",
            [
                *_described(binding for binding in app_bindings if _action(binding) not in replay | blocks),
                (App.COMMAND_PALETTE_BINDING, "Commands"),
            ],
        ),
        ("Approvals", _described(ApprovalCard.BINDINGS)),
        ("Pickers (/model, /effort)", [("typing", "Filter"), ("enter", "Choose"), *_described(PickerScreen.BINDINGS)]),
        ("Diff (/diff)", [("up", "Previous file"), ("down", "Next file"), *_described(DiffScreen.BINDINGS)]),
        ("Commit (/commit)", _described(CommitScreen.BINDINGS)),
        ("Replay", _described(binding for binding in app_bindings if _action(binding) in replay)),
    ]
    return "\n".join(f"{title}: " + " · ".join(_merged(keys)) for title, keys in sections)


def _merged(keys: list[tuple[str, str]]) -> list[str]:
    """`Key description` entries, keys with the same description joined (`Up/k Previous block`)."""
    by_description: dict[str, list[str]] = {}
    for key, description in keys:
        by_description.setdefault(description, []).append(_key_label(key))
    return [f"{'/'.join(labels)} {description}" for description, labels in by_description.items()]


def _action(binding: BindingType) -> str:
    action = binding.action if isinstance(binding, Binding) else binding[1]
    return action.split("(")[0]


def _described(bindings: Iterable[BindingType]) -> list[tuple[str, str]]:
    """(key, description) of each binding that has a description."""
    found = []
    for binding in bindings:
        if isinstance(binding, Binding):
            key, description = binding.key, binding.description
        else:
            key, description = binding[0], binding[2] if len(binding) > 2 else ""
        if description:
            found.append((key, description))
    return found


def _key_label(keys: str) -> str:
    """`ctrl+b` → `Ctrl+B`; `plus,equals_sign` → `+/=`; `escape` → `Esc`; `y` → `y`."""
    names = {
        **{"escape": "Esc", "plus": "+", "minus": "-", "equals_sign": "=", "space": "Space", "tab": "Tab"},
        **{"pageup": "PageUp", "pagedown": "PageDown"},
    }
    labels = []
    for key in keys.split(","):
        if key in names or len(key) == 1:
            labels.append(names.get(key, key))
        else:
            labels.append("+".join(part.capitalize() if len(part) > 1 else part.upper() for part in key.split("+")))
    return "/".join(labels)


@command("help", "/help", "show commands and keys")
async def _help(app: CodeassistApp, argument: str) -> None:
    lines = [f"{entry.usage:<48} {entry.help}" for entry in COMMANDS.values()]
    app.say("\n".join(lines) + "\n\n" + key_help())


# ---- sessions --------------------------------------------------------------------------------


@command("new", "/new", "start a new session")
async def _new(app: CodeassistApp, argument: str) -> None:
    await app.action_new_session()


@command("model", "/model NAME", "switch the model (no NAME: pick one); the next request resends everything")
async def _model(app: CodeassistApp, argument: str) -> None:
    from tui.screens.picker import PickerScreen

    if app.session is None:
        raise ConfigError("No live session.")
    if argument:
        _switch_model(app, argument)
        return
    session = app.session

    async def load() -> tuple[list[PickerRow], str | None]:
        listing = await session.available_models()
        error = f"endpoint models not listed: {listing.endpoint_error}" if listing.endpoint_error else None
        return _model_rows(listing.choices), error

    shown = await session.available_models(endpoint=False)
    picker = PickerScreen(
        f"Model (now {session.model})",
        _model_rows(shown.choices),
        current=session.model,
        load=load,
        loading="asking the endpoint for its models…",
        free_text=True,
    )
    app.push_screen(picker, lambda chosen: _switch_model(app, chosen) if chosen else None)


def _switch_model(app: CodeassistApp, model: str) -> None:
    if app.session is not None and model == app.session.model:
        app.say(f"model is still {model}")
        return
    app.set_model(model)
    app.say(f"model is now {model}; the next request resends the conversation (model changed)")


def _model_rows(choices: Iterable[ModelChoice]) -> list[PickerRow]:
    from tui.screens.picker import PickerRow

    rows = []
    for choice in choices:
        window = f"{_tokens(choice.context_window)} window" if choice.context_window else "window unknown"
        where = {"both": "catalogue+endpoint", "current": "in use"}.get(choice.origin, choice.origin)
        traits = [
            window,
            "reasoning" if choice.reasoning else "no reasoning",
            "priced" if choice.priced else "price unknown",
        ]
        rows.append(PickerRow(choice.name, f"{' · '.join(traits)} · {where}"))
    return rows


def _tokens(count: int) -> str:
    """`400000` → `400k`, `1050000` → `1.05M`, `32768` → `32.8k`."""
    return f"{count / 1e6:.3g}M" if count >= 1_000_000 else f"{count / 1e3:.3g}k"


@command(
    "effort", "/effort LEVEL", "set the reasoning effort (no LEVEL: pick one); the next request resends everything"
)
async def _effort(app: CodeassistApp, argument: str) -> None:
    from tui.screens.picker import PickerRow, PickerScreen

    session = app.session
    if session is None:
        raise ConfigError("No live session.")
    if not session.model_info.reasoning:
        raise ValueError(f"{session.model} takes no reasoning effort (its catalogue entry says reasoning = false)")
    if argument:
        _switch_effort(app, argument)
        return
    rows = [PickerRow(level, "now" if level == session.effort else "") for level in session.EFFORT_LEVELS]
    picker = PickerScreen(f"Reasoning effort for {session.model}", rows, current=session.effort)
    app.push_screen(picker, lambda chosen: _switch_effort(app, chosen) if chosen else None)


def _switch_effort(app: CodeassistApp, level: str) -> None:
    try:
        app.set_effort(level)
    except ValueError as exc:
        app.say(f"/effort: {exc}", error=True)
        return
    app.say(f"reasoning effort is now {level}; the next request resends the conversation (reasoning settings changed)")


@command("compact", "/compact [FOCUS]", "compact the conversation now (FOCUS: what the summary must keep)")
async def _compact(app: CodeassistApp, argument: str) -> None:
    from contextlib import aclosing

    from tui.widgets.status_line import StatusLine

    session, router = app.session, app.router
    if session is None or router is None:
        raise ConfigError("No live session.")
    if app.running or app.drawing_history:
        app.say("A turn is running: /compact once it has ended.", error=True)
        return
    app.running = True  # prompts sent meanwhile are queued

    async def compacting() -> None:
        try:
            async with aclosing(session.compact(argument or None)) as events:
                async for event in events:
                    await router.route(event)
        finally:
            app.running = False
            for status in app.query(StatusLine):
                status.idle()
            app.refresh_bindings()
            app.send_queued()

    app.run_worker(compacting(), group="agent-turn", exclusive=True, exit_on_error=False)


@command("approval", "/approval read-only|ask|auto-edit|full-auto", "change the approval policy")
async def _approval(app: CodeassistApp, argument: str) -> None:
    from agent.session import Policy

    if not argument:
        app.say(f"approval policy: {app.settings.approval} (choose from {', '.join(p.value for p in Policy)})")
        return
    app.set_policy(argument)
    app.say(f"approval policy is now {argument}")


@command("sandbox", "/sandbox [auto|read-only|workspace-write|off]", "show or change where shell commands run")
async def _sandbox(app: CodeassistApp, argument: str) -> None:
    from agent.config import SANDBOX_MODES

    if app.session is None:
        raise ConfigError("No live session.")
    if not argument:
        app.say(f"{app.session.safety_summary()}\n(choose from {', '.join(SANDBOX_MODES)})")
        return
    if argument not in SANDBOX_MODES:
        raise ValueError(f"no sandbox mode {argument!r}; choose from {', '.join(SANDBOX_MODES)}")
    app.say(f"from the next command: {app.set_sandbox(argument)}", error=app.session.sandbox.missing)


@command(
    "permissions",
    "/permissions [revoke N | save N]",
    "list the allow/ask/deny rules in force; revoke one for this session, or save one in the config",
)
async def _permissions(app: CodeassistApp, argument: str) -> None:
    if app.session is None:
        raise ConfigError("No live session.")
    order = {"session": 0, "config": 1, "built-in": 2}  # the user's own rules first
    rules = sorted(app.session.permission_rules(), key=lambda rule: order.get(rule.source, 3))
    verb, _, number = argument.partition(" ")
    if not verb:
        lines = [f"{index:>3}. {rule.effect:<5} {rule.spec}  ({rule.source})" for index, rule in enumerate(rules, 1)]
        app.say(
            "\n".join(lines or ["no rules"])
            + "\n\ndeny wins over ask, ask over allow; /permissions revoke N or /permissions save N"
        )
        return
    if verb not in ("revoke", "save") or not number.strip().isdigit() or not 1 <= int(number) <= len(rules):
        raise ValueError(f"usage: /permissions revoke N or /permissions save N, N from 1 to {len(rules)}")
    rule = rules[int(number) - 1]
    if verb == "revoke":
        app.session.revoke_rule(rule)
        kept = " (it returns with the next session unless removed from the config)" if rule.source != "session" else ""
        app.say(f"revoked {rule.effect} {rule.spec} for this session{kept}")
    else:
        app.say(f"saved {rule.effect} {rule.spec} in {app.session.save_rule(rule)}")


@command("mcp", "/mcp", "show the MCP servers: their status, why one failed, their tools (r restarts one)")
async def _mcp(app: CodeassistApp, argument: str) -> None:
    from tui.screens.mcp import McpScreen

    session = app.session
    if session is None:
        raise ConfigError("No live session.")
    session.start_mcp()
    app.push_screen(McpScreen(session.mcp_servers, session.restart_mcp_server))


@command("sessions", "/sessions", "list saved sessions")
async def _sessions(app: CodeassistApp, argument: str) -> None:
    from agent.session import Session

    summaries = Session.saved_sessions(20)
    if not summaries:
        app.say("No saved sessions yet.")
        return
    lines = [
        f"{str(s.wall)[:16]:<17} {s.id:<24} {Path(s.cwd or '').name[:16]:<16} {s.turns:>3} turns "
        f"{s.total_tokens:>7} tok  {(s.first_prompt or '')[:40]}"
        for s in summaries
    ]
    app.say("\n".join(lines) + "\n\n/resume ID or /replay ID to open one")


@command("resume", "/resume [ID]", "reopen a saved session (default: the latest here)")
async def _resume(app: CodeassistApp, argument: str) -> None:
    from agent.session import Session

    path = Session.find_saved(argument) if argument else Session.latest_saved(app.cwd)
    if path is None:
        app.say("No saved session to resume.", error=True)
        return
    await app.close_session()
    await _clear(app)
    app.start_session(resume=path)


@command("replay", "/replay [ID|FILE]", "replay a saved session (default: this one)")
async def _replay(app: CodeassistApp, argument: str) -> None:
    from agent.session import Session

    if argument:
        path: Path | None = Session.find_saved(argument)
    else:
        path = app.session.flush() if app.session is not None else None
    if path is None:
        app.say("Nothing to replay: name a session.", error=True)
        return
    await app.close_session()
    await _clear(app)
    app.start_replay(path)


@command("export", "/export [markdown|json]", "write this session's transcript to a file")
async def _export(app: CodeassistApp, argument: str) -> None:
    fmt = argument or "markdown"
    if fmt not in ("markdown", "json"):
        raise ValueError("choose markdown or json")
    if app.session is None or app.session.log_path is None:
        app.say("This session is not being recorded, so there is nothing to export.", error=True)
        return
    written = app.session.export("json" if fmt == "json" else "markdown")
    app.say(f"exported to {written}")


@command("cost", "/cost", "what the session cost: each turn, cached and uncached input, output, what the cache saved")
async def _cost(app: CodeassistApp, argument: str) -> None:
    if app.session is None:
        raise ConfigError("No live session.")
    lines = app.session.cost_report().lines()
    if app.running:
        lines.insert(0, "(the running turn is added when it ends)")
    lines.append(app.session.context_usage().label() + " of the window")
    app.say("\n".join(lines))


# ---- the git safety net: /undo, /redo, /diff, /commit, /git-init (listed here by /help) ------

import tui.slash_git  # noqa: E402, F401

# ---- the screen ------------------------------------------------------------------------------


@command("copy", "/copy", "copy the last answer to the clipboard")
async def _copy(app: CodeassistApp, argument: str) -> None:
    app.action_copy_answer()


@command("stats", "/stats", "show or hide the stats panel")
async def _stats(app: CodeassistApp, argument: str) -> None:
    app.action_toggle_stats()


@command("theme", "/theme [NAME]", "switch the theme (remembered in the config)")
async def _theme(app: CodeassistApp, argument: str) -> None:
    if not argument:
        app.say(f"theme: {app.theme}; available: {', '.join(sorted(app.available_themes))}")
        return
    if argument not in app.available_themes:
        raise ValueError(f"no theme named {argument!r}")
    saved = app.set_theme(argument)
    app.say(f"theme is now {argument}" + (f" (saved in {saved})" if saved else ""))


@command("quit", "/quit", "leave codeassist")
async def _quit(app: CodeassistApp, argument: str) -> None:
    app.exit()


async def _clear(app: CodeassistApp) -> None:
    from tui.widgets.stats_panel import StatsPanel
    from tui.widgets.transcript import Transcript

    await app.query_one(Transcript).remove_children()
    app.query_one(StatsPanel).clear()


# ---- the command palette ---------------------------------------------------------------------


class SlashCommands(Provider):
    """Offers every slash command in the command palette (Ctrl+P)."""

    async def discover(self) -> Hits:
        for entry in COMMANDS.values():
            yield DiscoveryHit(f"/{entry.name}", partial(self._run, entry.name), help=entry.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for entry in COMMANDS.values():
            score = matcher.match(f"/{entry.name} {entry.help}")
            if score > 0:
                yield Hit(score, matcher.highlight(f"/{entry.name}"), partial(self._run, entry.name), help=entry.help)

    async def _run(self, name: str) -> None:
        app: CodeassistApp = self.app  # type: ignore[assignment]
        await app.run_slash_command(f"/{name}")
