"""The git safety net's slash commands: `/undo`, `/redo`, `/diff [N]`, `/commit`, `/git-init`;
and, after a turn cancelled part-way, the offer to undo what it had changed.

Every turn that changes files is saved first as a checkpoint (`agent.checkpoints`): `/undo` puts
back the files of the last turn that changed some, `/redo` re-applies them, `/diff` shows what
the session (or one turn) changed, `/commit` commits the session's changes with a message the
user approves. A file changed by hand since is never overwritten without asking.

`tui.slash` imports this module to register the commands (so it is loaded before the first
frame): the session, the screens and the replay are imported only when a command runs.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from agent.config import ConfigError
from tui.slash import command
from tui.widgets.changes import count_files

if TYPE_CHECKING:
    from agent.events import AgentEvent, Committed, TurnChanges
    from agent.session import Session, SessionDiff, UndoPlan
    from tui.app import CodeassistApp
    from tui.screens.diff import DiffLoader

LISTED_CONFLICTS = 10
"""A question about files changed by hand names at most this many."""

UNDO_PARTIAL = "Undo this turn's partial changes"
KEEP_PARTIAL = "Keep them"
OVERWRITE = "Overwrite my edits"
CANCEL = "Cancel"


def _session(app: CodeassistApp, name: str) -> Session | None:
    """The live session if `/name` can run now: no turn running, checkpoints available (else it
    says why and returns None)."""
    session = app.session
    if session is None:
        raise ConfigError("No live session (replaying): /new starts one.")
    if app.running or app.drawing_history:
        app.say(f"A turn is running: /{name} once it has ended.", error=True)
        return None
    if not session.checkpoints_available:
        app.say(session.checkpoints_reason or "No checkpoints in this session.", error=True)
        return None
    return session


def _listed(paths: list[str]) -> str:
    lines = [f"  {path}" for path in paths[:LISTED_CONFLICTS]]
    if len(paths) > LISTED_CONFLICTS:
        lines.append(f"  … and {len(paths) - LISTED_CONFLICTS} more")
    return "\n".join(lines)


async def route(app: CodeassistApp, event: AgentEvent) -> None:
    """Draw an event a command returned, like the events of a turn; the header's dirty mark follows."""
    if app.router is not None:
        await app.router.route(event)
    app.refresh_header()


# ---- /undo and /redo -------------------------------------------------------------------------


@command("undo", "/undo", "undo the files of the last turn that changed some (again: the turn before)")
async def _undo(app: CodeassistApp, argument: str) -> None:
    await _plan_and_restore(app, redo=False)


@command("redo", "/redo", "re-apply the changes the last /undo took back")
async def _redo(app: CodeassistApp, argument: str) -> None:
    await _plan_and_restore(app, redo=True)


async def _plan_and_restore(app: CodeassistApp, *, redo: bool) -> None:
    session = _session(app, "redo" if redo else "undo")
    if session is None:
        return
    plan = await asyncio.to_thread(session.plan_redo if redo else session.plan_undo)
    if plan is None:
        app.say(session.why_nothing_to(undo=not redo))
        return
    confirm_and_restore(app, plan, redo=redo)


def confirm_and_restore(app: CodeassistApp, plan: UndoPlan, *, redo: bool) -> None:
    """Undo (or redo) `plan`'s turn; when files were changed by hand since, ask first, naming them."""
    if not plan.conflicts:
        restore(app, redo=redo, overwrite=False)
        return
    from tui.screens.picker import PickerRow, PickerScreen

    verb = "redo" if redo else "undo"
    since = " it was undone" if redo else ""
    picker = PickerScreen(
        f"{verb.capitalize()} turn {plan.turn}? You changed {count_files(len(plan.conflicts))} by hand since{since}",
        [
            PickerRow(CANCEL, "leave every file as it is"),
            PickerRow(OVERWRITE, f"{verb} turn {plan.turn} anyway: your edits are lost"),
        ],
        note=_listed(plan.conflicts),
        filterable=False,
    )
    app.push_screen(picker, lambda chosen: restore(app, redo=redo, overwrite=True) if chosen == OVERWRITE else None)


def restore(app: CodeassistApp, *, redo: bool, overwrite: bool) -> None:
    """Run the undo (or redo) in a worker; prompts sent meanwhile wait, as during a turn."""
    session = app.session
    if session is None:
        return
    app.running = True

    async def restoring() -> None:
        from agent.session import CheckpointConflict

        try:
            event = await (session.redo(overwrite=overwrite) if redo else session.undo(overwrite=overwrite))
        except CheckpointConflict:  # a file was edited between the question and now: ask again
            plan = await asyncio.to_thread(session.plan_redo if redo else session.plan_undo)
            if plan is not None:
                app.call_later(confirm_and_restore, app, plan, redo=redo)
        except (ValueError, OSError) as exc:
            app.say(str(exc), error=True)
        else:
            await route(app, event)
        finally:
            app.running = False
            app.refresh_bindings()
            app.send_queued()

    app.run_worker(restoring(), group="git-restore", exit_on_error=False)


def offer_undo_after_cancel(app: CodeassistApp, turn: int | None) -> None:
    """After a turn cancelled part-way (Esc): if it had changed files, ask whether to undo them."""
    session, router = app.session, app.router
    if session is None or router is None or turn is None or not session.checkpoints_available:
        return
    changes = router.turn_changes.get(turn)
    if not session.turn_had_checkpoint(turn) or (changes is not None and not changes.files):
        return
    from tui.screens.picker import PickerRow, PickerScreen
    from tui.widgets.changes import changed_summary, named

    what = "It had started changing files."
    if changes is not None:
        what = f"Before it was cancelled: {changed_summary(changes.files)} ({named([c.path for c in changes.files])})."
    picker = PickerScreen(
        f"Turn {turn} was cancelled part-way",
        [
            PickerRow(UNDO_PARTIAL, "files as before the turn"),
            PickerRow(KEEP_PARTIAL, "/undo can still undo them later"),
        ],
        note=what,
        filterable=False,
    )

    async def answered(chosen: str | None) -> None:
        if chosen != UNDO_PARTIAL or app.session is not session:
            return
        try:
            plan = await asyncio.to_thread(session.plan_undo)
        except ValueError as exc:  # the checkpoints cannot be read: said, nothing changes
            app.say(str(exc), error=True)
            return
        if plan is None or plan.turn != turn:
            app.say(f"Turn {turn} left no change to undo.")
            return
        confirm_and_restore(app, plan, redo=False)

    app.push_screen(picker, answered)


# ---- /diff -----------------------------------------------------------------------------------


@command("diff", "/diff [N]", "show what this session changed, per file and as a patch (N: only turn N)")
async def _diff(app: CodeassistApp, argument: str) -> None:
    if argument and not argument.isdigit():
        raise ValueError("usage: /diff for the whole session, /diff N for turn N")
    turn = int(argument) if argument else None
    if app.session is None and app.replay is not None:
        _replayed_diff(app, turn)
        return
    session = app.session
    if session is None:
        raise ConfigError("No live session.")
    if not session.checkpoints_available:
        app.say(session.checkpoints_reason or "No checkpoints in this session.", error=True)
        return
    show_diff(app, f"Turn {turn}" if turn is not None else "This session", lambda: session.diff(turn))


def show_diff(app: CodeassistApp, title: str, load: DiffLoader) -> None:
    """Open the diff screen; `load` reads the diff while it shows."""
    from tui.screens.diff import DiffScreen

    app.push_screen(DiffScreen(title, load))


def open_turn_diff(app: CodeassistApp, turn: int) -> None:
    """Turn `turn`'s diff: the live session's, or the recorded one in a replay (Enter or `d` on a
    turn's changes line)."""
    if app.session is None and app.replay is not None:
        _replayed_diff(app, turn)
        return
    session = app.session
    if session is not None:
        show_diff(app, f"Turn {turn}", lambda: session.diff(turn))


def _replayed_diff(app: CodeassistApp, turn: int | None) -> None:
    """A recorded turn's diff, read from the repository's checkpoints (`agent.replay.turn_diff`);
    without `turn`: the one turn that changed files, or a choice among them."""
    recorded = app.router.turn_changes if app.router is not None else {}
    changed = {number: event for number, event in recorded.items() if event.files}
    if turn is None and len(changed) != 1:
        if not changed:
            app.say("No turn replayed so far has changed a file.")
            return
        from tui.screens.picker import PickerRow, PickerScreen
        from tui.widgets.changes import changed_summary

        rows = [PickerRow(f"Turn {number}", changed_summary(event.files)) for number, event in sorted(changed.items())]
        picker = PickerScreen("Which turn's changes?", rows)
        app.push_screen(picker, lambda chosen: _replayed_diff(app, int(chosen.split()[-1])) if chosen else None)
        return
    number = turn if turn is not None else next(iter(changed))
    event = changed.get(number)
    if event is None:
        app.say(f"Turn {number} changed no file (or has not been replayed yet).", error=True)
        return
    header = app.replay.header

    async def load(event: TurnChanges = event) -> SessionDiff:
        from agent.replay import turn_diff

        return await asyncio.to_thread(turn_diff, header, event)

    show_diff(app, f"Turn {number}", load)


# ---- /commit and /git-init -------------------------------------------------------------------


@command(
    "commit",
    "/commit [--include-dirty] [MESSAGE]",
    "commit this session's changes (the model drafts the message; you edit and approve it)",
)
async def _commit(app: CodeassistApp, argument: str) -> None:
    from agent.session import Session
    from tui.screens.commit import CommitScreen

    include_dirty = argument == "--include-dirty" or argument.startswith("--include-dirty ")
    message = argument.removeprefix("--include-dirty").strip() if include_dirty else argument
    if message.startswith("--"):
        raise ValueError(f"no option {message.split()[0]}; usage: /commit [--include-dirty] [MESSAGE]")
    session = _session(app, "commit")
    if session is None:
        return
    repo = Session.repository(app.cwd)
    screen = CommitScreen(
        lambda: session.draft_commit(include_dirty=include_dirty, message=message or None),
        session.commit,
        branch=repo.branch if repo is not None else None,
        message=message,
    )

    async def committed(event: Committed | None) -> None:
        if event is not None:
            await route(app, event)

    app.push_screen(screen, committed)


@command("git-init", "/git-init", "make this folder a git repository, so that turns can be undone")
async def _git_init(app: CodeassistApp, argument: str) -> None:
    session = app.session
    if session is None:
        raise ConfigError("No live session.")
    if app.running:
        app.say("A turn is running: /git-init once it has ended.", error=True)
        return
    app.say(await session.init_repository())
    app.refresh_header()
