"""What each slash command does (the palette runs the same functions)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from agent.approvals import Policy
from agent.config import ConfigError
from agent.session_log import list_sessions, sessions_root
from tui.commands import BY_NAME, COMMANDS, complete

if TYPE_CHECKING:
    from tui.app import CodeassistApp


async def run_command(app: CodeassistApp, text: str) -> None:
    """Run one `/command args` line."""
    name, _, rest = text.lstrip("/").partition(" ")
    argument = rest.strip()
    if name not in BY_NAME:
        matches = complete(name)
        hint = f" Did you mean {', '.join('/' + m for m in matches)}?" if matches else " Try /help."
        app.say(f"Unknown command /{name}.{hint}", error=True)
        return
    try:
        await HANDLERS[name](app, argument)
    except (ConfigError, ValueError, OSError) as exc:
        app.say(f"/{name}: {exc}", error=True)


async def _help(app: CodeassistApp, argument: str) -> None:
    from tui.app import KEYS_HELP

    lines = [f"{command.usage:<48} {command.help}" for command in COMMANDS]
    app.say("\n".join(lines) + "\n\n" + KEYS_HELP)


async def _new(app: CodeassistApp, argument: str) -> None:
    await app.action_new_session()


async def _model(app: CodeassistApp, argument: str) -> None:
    if not argument:
        app.say(f"model: {app.settings.model}")
        return
    app.set_model(argument)
    app.say(f"model is now {argument}; the next request resends the conversation (model changed)")


async def _approval(app: CodeassistApp, argument: str) -> None:
    if not argument:
        app.say(f"approval policy: {app.settings.approval} (choose from {', '.join(p.value for p in Policy)})")
        return
    app.set_policy(argument)
    app.say(f"approval policy is now {argument}")


async def _sessions(app: CodeassistApp, argument: str) -> None:
    summaries = list_sessions(sessions_root())[:20]
    if not summaries:
        app.say("No saved sessions yet.")
        return
    lines = [
        f"{str(s.wall)[:16]:<17} {s.id:<24} {Path(s.cwd or '').name[:16]:<16} {s.turns:>3} turns "
        f"{s.total_tokens:>7} tok  {(s.first_prompt or '')[:40]}"
        for s in summaries
    ]
    app.say("\n".join(lines) + "\n\n/resume ID or /replay ID to open one")


async def _resume(app: CodeassistApp, argument: str) -> None:
    from agent.session import find_session, latest_session

    path = find_session(sessions_root(), argument) if argument else latest_session(sessions_root(), app.cwd)
    if path is None:
        app.say("No saved session to resume.", error=True)
        return
    await app.close_session()
    await _clear(app)
    app.start_session(resume=path)


async def _replay(app: CodeassistApp, argument: str) -> None:
    from agent.session import find_session

    if argument:
        path = find_session(sessions_root(), argument)
    elif app.session is not None and app.session.log is not None:
        app.session.log.flush(fsync=True)
        path = app.session.log.path
    else:
        app.say("Nothing to replay: name a session.", error=True)
        return
    await app.close_session()
    await _clear(app)
    app.start_replay(path)


async def _export(app: CodeassistApp, argument: str) -> None:
    from agent.export import export_session

    fmt = argument or "markdown"
    if fmt not in ("markdown", "json"):
        raise ValueError("choose markdown or json")
    if app.session is None or app.session.log is None:
        app.say("This session is not being recorded, so there is nothing to export.", error=True)
        return
    app.session.log.flush(fsync=True)
    written = export_session(app.session.log.path, fmt, None)
    app.say(f"exported to {written}")


async def _copy(app: CodeassistApp, argument: str) -> None:
    app.action_copy_answer()


async def _stats(app: CodeassistApp, argument: str) -> None:
    app.action_toggle_stats()


async def _theme(app: CodeassistApp, argument: str) -> None:
    if not argument:
        app.say(f"theme: {app.theme}; available: {', '.join(sorted(app.available_themes))}")
        return
    if argument not in app.available_themes:
        raise ValueError(f"no theme named {argument!r}")
    saved = app.set_theme(argument)
    app.say(f"theme is now {argument}" + (f" (saved in {saved})" if saved else ""))


async def _quit(app: CodeassistApp, argument: str) -> None:
    app.exit()


async def _clear(app: CodeassistApp) -> None:
    from tui.widgets.stats_panel import StatsPanel
    from tui.widgets.transcript import Transcript

    await app.query_one(Transcript).remove_children()
    app.query_one(StatsPanel).clear()


HANDLERS = {
    "help": _help,
    "new": _new,
    "model": _model,
    "approval": _approval,
    "sessions": _sessions,
    "resume": _resume,
    "replay": _replay,
    "export": _export,
    "copy": _copy,
    "stats": _stats,
    "theme": _theme,
    "quit": _quit,
}
