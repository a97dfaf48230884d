"""Per-turn checkpoints: the session's safety net over git.

Right before a turn's first file-changing call (a file tool or `shell`) runs, the workspace is
snapshotted into a commit no branch points to (`agent.checkpoint_store`); when the turn ends, it
is snapshotted again and what changed is recorded (`CheckpointCreated`, then `TurnChanges` before
`TurnEnded`). `/undo` puts the files of the last turn that changed any back as they were before
it, turn by turn; `/redo` applies them again; a file edited by hand since is a conflict the user
must confirm. `/diff` shows a turn's or the session's changes, `/commit` commits the session's
changes on the current branch (files dirty before the session started left out unless asked).

`TurnCheckpoints` holds the state (turn → before/after commits, undone turns, the files dirty at
the start) as a fold over the session's events (`observe`), so a resumed session rebuilds it from
its record and its checkpoints stay usable. The loop calls it as its hook (`Agent.checkpoints`).
Every git command runs off the event loop (`asyncio.to_thread`); the store is used by one thread
at a time (a lock).
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from agent.commit_message import TurnSummary, named, offline_draft, undo_note, with_trailer
from agent.conversation import Conversation
from agent.events import (
    AgentEvent,
    ChangesRedone,
    ChangesUndone,
    CheckpointCreated,
    Committed,
    FileChangeSummary,
    GitBaseline,
    Notice,
    ToolCallReady,
    ToolFinished,
    TurnChanges,
    TurnEnded,
    TurnStarted,
)
from agent.tools import describe_call
from agent.wire import InputText, Message

if TYPE_CHECKING:
    from agent.checkpoint_store import CheckpointStore, FileChange

T = TypeVar("T")

NOT_A_REPOSITORY = "not a git repository"


class CheckpointUnavailable(ValueError):
    """A checkpoint command cannot be done (outside git, nothing to undo, a turn running, a git
    failure); the message is for the user."""


class CheckpointConflict(CheckpointUnavailable):
    """Files changed by hand since: undo/redo would overwrite them (pass `overwrite=True`)."""

    def __init__(self, message: str, conflicts: list[str]) -> None:
        super().__init__(message)
        self.conflicts = conflicts


@dataclass(frozen=True)
class UndoPlan:
    """What `/undo` (or `/redo`) would do: the turn, its files, and those changed by hand since."""

    turn: int
    files: list[str]
    conflicts: list[str]


@dataclass(frozen=True)
class SessionDiff:
    """A turn's or the session's changes: per-file stats and the raw unified diff (the UI makes
    it safe for the terminal)."""

    title: str
    files: list[FileChangeSummary]
    patch: str


@dataclass(frozen=True)
class CommitDraft:
    """A commit to show for approval: the message, the files, and the files left out because
    they were dirty before the session started."""

    message: str
    files: list[str]
    left_out: list[str]
    drafted_by: Literal["model", "offline", "user"]
    """Who wrote the message: the model, codeassist from the turns (offline), or the user."""


def summaries(changes: Iterable[FileChange]) -> list[FileChangeSummary]:
    """The store's file changes as event fields."""
    return [
        FileChangeSummary(
            path=change.path,
            status=change.status,
            old_path=change.old_path,
            added=change.added,
            removed=change.removed,
            binary=change.binary,
        )
        for change in changes
    ]


def recorded_diffs(header: Mapping[str, Any], events: Sequence[TurnChanges]) -> dict[int, SessionDiff]:
    """The diffs of recorded turns (replay, export), by turn (`agent.session_git.recorded_diffs`)."""
    from agent.session_git import recorded_diffs as read

    return read(header, events)


@dataclass
class _Turn:
    number: int
    prompt: str = ""
    before: str | None = None
    skipped: list[str] = field(default_factory=list)
    """Paths its checkpoint left out."""
    after: str | None = None
    files: list[FileChangeSummary] = field(default_factory=list)
    undone: bool = False
    committed: bool = False
    tools: list[str] = field(default_factory=list)


class TurnCheckpoints:
    """One session's checkpoints (see the module docstring).

    Args:
        store: the repository's checkpoint store (None outside git).
        reason: why there is no store (for the user).
        record: writes an event into the session record (and nothing else).
        mutating: names of the tools that change files (their calls make the tool log).
        auto_commit: commit after every turn that changed files.
        plan: the model's current plan (for messages written without the model).
    """

    def __init__(
        self,
        store: CheckpointStore | None,
        *,
        reason: str | None,
        record: Callable[[AgentEvent], None],
        mutating: Iterable[str] = (),
        auto_commit: bool = False,
        plan: Callable[[], list[dict[str, str]]] = list,
    ) -> None:
        self.store = store
        self.reason = reason if store is None else None
        self.auto_commit = auto_commit
        self.baseline: GitBaseline | None = None
        self.recorded_baseline: GitBaseline | None = None
        """The `GitBaseline` this run recorded (None for a resumed session that has one)."""
        self.baseline_told = True
        """Whether the start notice about the baseline was given (False once it is recorded)."""
        self._record_event = record
        self._mutating = frozenset(mutating)
        self._plan = plan
        self._turns: dict[int, _Turn] = {}
        self._redo: list[int] = []
        self._notes: list[str] = []
        self._running: int | None = None
        self._calls: dict[str, str] = {}
        self._failed: set[int] = set()
        self._lock = threading.Lock()
        self._serial = asyncio.Lock()
        """Undo, redo and commit one at a time (each decides what to do from the state it finds)."""

    # ---- the fold --------------------------------------------------------------------------

    def observe(self, event: AgentEvent) -> None:
        """Follow one event of the session (live, or recorded when resuming)."""
        if isinstance(event, GitBaseline):
            self.baseline = event
        elif isinstance(event, TurnStarted):
            self._turns[event.turn] = _Turn(event.turn, event.prompt)
            self._running, self._notes, self._calls = event.turn, [], {}
        elif isinstance(event, TurnEnded):
            self._running = None
        elif isinstance(event, ToolCallReady) and event.final and event.name in self._mutating:
            self._calls[event.call_id] = f"{event.name} {describe_call(event.name, event.arguments).summary}".strip()
        elif isinstance(event, ToolFinished) and event.call_id in self._calls:
            line = self._calls.pop(event.call_id)
            if event.status in ("ok", "error") and self._running is not None:
                self._turn(self._running).tools.append(line)
        elif isinstance(event, CheckpointCreated):
            self._turn(event.turn).before, self._turn(event.turn).skipped = event.commit, list(event.skipped)
        elif isinstance(event, TurnChanges):
            turn = self._turn(event.turn)
            turn.before, turn.after, turn.files = event.before, event.after, list(event.files)
            if event.files:
                self._redo.clear()
        elif isinstance(event, ChangesUndone | ChangesRedone):
            self._turn(event.turn).undone = isinstance(event, ChangesUndone)
            if isinstance(event, ChangesUndone):
                self._redo.append(event.turn)
            elif event.turn in self._redo:
                self._redo.remove(event.turn)
            self._notes.append(undo_note(event))
        elif isinstance(event, Committed):
            last = self._last_changed()
            for turn in self._turns.values():  # an undone turn's changes are not in the commit
                if turn.after is not None and not turn.undone and (not event.auto or turn.number == last):
                    turn.committed = True

    def _turn(self, number: int) -> _Turn:
        return self._turns.setdefault(number, _Turn(number))

    def resumed(self) -> None:
        """The recorded events were all observed: a turn they leave open was interrupted (its
        process ended), it is not running now."""
        self._running, self._calls = None, {}

    def _last_changed(self) -> int | None:
        changed = [turn.number for turn in self._turns.values() if turn.after is not None and turn.files]
        return max(changed, default=None)

    def record(self, event: AgentEvent) -> AgentEvent:
        """Write `event` into the session record and follow it."""
        self._record_event(event)
        self.observe(event)
        return event

    # ---- the loop's hook -------------------------------------------------------------------

    def take_note(self) -> str | None:
        """What to tell the model with the next prompt about files undone or redone since the last
        turn (None: nothing); told once."""
        notes, self._notes = self._notes, []
        return "\n\n".join(notes) if notes else None

    def add_note(self, conversation: Conversation) -> None:
        """Put `take_note()` into `conversation` (a developer message before the next prompt)."""
        note = self.take_note()
        if note:
            conversation.add(Message(role="developer", content=[InputText(text=note)]))

    async def before_mutation(self, turn: int) -> list[AgentEvent]:
        """Right before a file-changing call of `turn` runs: its checkpoint, the first time (a
        `Notice` when none can be taken; the call still runs)."""
        store = self.store
        if store is None or self._turn(turn).before is not None or turn in self._failed:
            return []
        settled: list[AgentEvent] = []
        try:
            settled = await self._settle(except_turn=turn)
            snapshot = await self._thread(lambda: store.snapshot(f"{turn}-before", f"codeassist: before turn {turn}"))
        except Exception as exc:  # a git failure (or a defect): the call runs without a checkpoint
            self._failed.add(turn)
            return [*settled, Notice(message=f"No checkpoint for turn {turn}, so /undo cannot undo it: {exc}")]
        self._turn(turn).before, self._turn(turn).skipped = snapshot.commit, list(snapshot.skipped)
        return [
            *settled,
            CheckpointCreated(turn=turn, commit=snapshot.commit, ref=snapshot.ref, skipped=list(snapshot.skipped)),
        ]

    async def after_turn(self, turn: int) -> list[AgentEvent]:
        """Before `turn`'s `TurnEnded`: what it changed (when it has a checkpoint), and the commit
        `auto_commit` makes of it."""
        state = self._turn(turn)
        if self.store is None or state.before is None or state.after is not None:
            return []
        try:
            changes, left_out = await self._thread(lambda: self._changes_since(turn, state.before or ""))
        except Exception as exc:  # the turn still ends
            return [Notice(message=f"The changes of turn {turn} cannot be read: {exc}")]
        state.after, state.files = changes.after, list(changes.files)
        events: list[AgentEvent] = [changes]
        if left_out:  # told before the changes, which come right before the turn's end
            notice = f"Left out of turn {turn}'s checkpoint, so /undo will not touch them: {named(left_out)}."
            events.insert(0, Notice(message=notice))
        if self.auto_commit and changes.files:
            events += await self._auto_commit(state, changes)
        return events

    def _changes_since(self, turn: int, before: str) -> tuple[TurnChanges, list[str]]:
        """(In a worker thread.) Snapshot `turn`'s end and diff it against its checkpoint; also the
        paths this snapshot left out that its checkpoint did not (with why)."""
        assert self.store is not None
        after = self.store.snapshot(f"{turn}-after", f"codeassist: after turn {turn}")
        files = summaries(self.store.changes(before, after.commit))
        known = set(self._turn(turn).skipped)
        left_out = [
            f"{p} ({why})" for p, why in zip(after.skipped, after.skipped_reasons, strict=True) if p not in known
        ]
        return TurnChanges(turn=turn, before=before, after=after.commit, files=files), left_out

    async def _auto_commit(self, state: _Turn, changes: TurnChanges) -> list[AgentEvent]:
        summary = TurnSummary(state.number, state.prompt, list(changes.files), list(state.tools))
        message = offline_draft([summary])
        try:
            files, _ = await self._thread(lambda: self._commit_paths([state], include_dirty=False))
            if not files:
                return [
                    Notice(
                        message=f"auto_commit: turn {state.number} only changed files that were dirty before the session; nothing committed."
                    )
                ]
            committed = await self._commit(message, files, auto=True)
        except Exception as exc:  # a git failure (or a defect): the turn still ends
            return [Notice(message=f"auto_commit: turn {state.number} was not committed: {exc}")]
        return [committed]

    async def _settle(self, except_turn: int | None = None) -> list[AgentEvent]:
        """Give every finished turn that has a checkpoint but no end snapshot (its process ended
        mid-turn) its `TurnChanges` now; the events."""
        pending = [
            turn
            for turn in self._turns.values()
            if turn.before is not None and turn.after is None and turn.number not in (except_turn, self._running)
        ]
        events: list[AgentEvent] = []
        for turn in pending:
            changes, _ = await self._thread(functools.partial(self._changes_since, turn.number, turn.before or ""))
            events.append(changes)
        return events

    async def settled(self) -> None:
        """Settle pending turns, recording their changes (for the commands between turns)."""
        if self._running is not None:
            raise CheckpointUnavailable("A turn is running: wait for it to end (or press Esc).")
        for event in await self._settle():
            self.record(event)

    async def _thread(self, work: Callable[[], T]) -> T:
        """Run `work` with the store in a worker thread; a git failure becomes `CheckpointUnavailable`."""
        return await asyncio.to_thread(self._locked, work)

    def _locked(self, work: Callable[[], T]) -> T:
        from agent.checkpoint_store import CheckpointError

        with self._lock:
            try:
                return work()
            except CheckpointError as exc:
                raise CheckpointUnavailable(str(exc)) from None

    # ---- undo and redo ---------------------------------------------------------------------

    def turn_had_checkpoint(self, turn: int) -> bool:
        """Whether `turn` took a checkpoint and changed files (so its changes, partial ones
        included, can be undone; a turn still running counts when it took one)."""
        state = self._turns.get(turn)
        return state is not None and state.before is not None and (state.after is None or bool(state.files))

    def _store(self) -> CheckpointStore:
        if self.store is None:
            raise CheckpointUnavailable(self.unavailable_message())
        return self.store

    def unavailable_message(self) -> str:
        """Why there are no checkpoints, for the user."""
        if self.reason == NOT_A_REPOSITORY or self.reason is None:
            return "No checkpoints: the workspace is not a git repository (/git-init makes one)."
        return f"No checkpoints in this session: {self.reason}"

    def _undoable(self) -> _Turn | None:
        """The last turn that changed files and is not undone; a turn that ended without its end
        snapshot (cancelled, or its process died) counts, as undo settles it first."""
        candidates = [
            t
            for t in self._turns.values()
            if not t.undone
            and (
                (t.after is not None and t.files)
                or (t.before is not None and t.after is None and t.number != self._running)
            )
        ]
        return max(candidates, key=lambda t: t.number, default=None)

    def _redoable(self) -> _Turn | None:
        return self._turns[self._redo[-1]] if self._redo else None

    def plan_undo(self) -> UndoPlan | None:
        """What `/undo` would do (None: nothing to undo). Runs git: call it from a thread."""
        return self._plan_of(self._undoable(), undo=True)

    def plan_redo(self) -> UndoPlan | None:
        """What `/redo` would do (None: nothing to redo). Runs git: call it from a thread."""
        return self._plan_of(self._redoable(), undo=False)

    def _plan_of(self, turn: _Turn | None, *, undo: bool) -> UndoPlan | None:
        if turn is None or self.store is None:
            return None
        paths, conflicts = self._locked(lambda: self._conflicts(turn, undo=undo))
        return UndoPlan(turn.number, paths, conflicts)

    def _conflicts(self, turn: _Turn, *, undo: bool) -> tuple[list[str], list[str]]:
        """(Locked.) The paths `turn` changed, and those whose content is no longer what the turn
        left (undo) or what undo left (redo)."""
        store = self._store()
        before, after = turn.before or "", turn.after
        if after is None:  # not settled yet (plan_undo): the turn's changes are those until now
            after = store.snapshot(None, f"codeassist: turn {turn.number} so far").commit
        for commit in (before, after):
            if not store.exists(commit):
                raise CheckpointUnavailable(
                    f"The checkpoints of turn {turn.number} are no longer in the repository (were refs/codeassist removed?)."
                )
        paths = store.changed_paths(before, after)
        return paths, store.differing(after if undo else before, paths)

    async def undo(self, *, overwrite: bool = False) -> ChangesUndone:
        """Put the files of the last turn that changed any back as they were before it.

        Raises:
            CheckpointConflict: files were changed by hand since (pass `overwrite=True`).
            CheckpointUnavailable: nothing to undo, outside git, a turn running, a git failure.
        """
        event = await self._step(undo=True, overwrite=overwrite)
        assert isinstance(event, ChangesUndone)
        return event

    async def redo(self, *, overwrite: bool = False) -> ChangesRedone:
        """Apply the most recently undone turn's changes again (see `undo`)."""
        event = await self._step(undo=False, overwrite=overwrite)
        assert isinstance(event, ChangesRedone)
        return event

    async def _step(self, *, undo: bool, overwrite: bool) -> ChangesUndone | ChangesRedone:
        async with self._serial:  # a second /undo given meanwhile undoes the turn before
            await self.settled()
            turn = self._undoable() if undo else self._redoable()
            if turn is None:
                self._store()
                raise CheckpointUnavailable(self.why_nothing_to(undo=undo))
            return await self._restore(turn, undo=undo, overwrite=overwrite)

    def why_nothing_to(self, *, undo: bool) -> str:
        """Why `/undo` (or `/redo`) has nothing to do, for the user."""
        if not undo:
            return "Nothing to redo: /redo re-applies what /undo took back, and nothing was undone since the last turn."
        if any(turn.files for turn in self._turns.values()):
            return "Nothing to undo: every turn that changed files is undone already (/redo re-applies the last one)."
        return "Nothing to undo: no turn of this session has changed a file since it took a checkpoint."

    async def _restore(self, turn: _Turn, *, undo: bool, overwrite: bool) -> ChangesUndone | ChangesRedone:
        store = self._store()

        def work() -> tuple[list[str], list[str], list[str]]:
            paths, conflicts = self._conflicts(turn, undo=undo)
            if conflicts and not overwrite:
                raise CheckpointConflict(
                    f"Changed since turn {turn.number} {'made' if undo else 'was undone'}: {named(conflicts)}. "
                    "Overwrite them?",
                    conflicts,
                )
            result = store.restore((turn.before if undo else turn.after) or "", paths)
            return sorted({*result.written, *result.deleted}), conflicts, list(result.problems)

        files, conflicts, problems = await self._thread(work)
        kind = ChangesUndone if undo else ChangesRedone
        event = kind(turn=turn.number, files=files, overwritten=conflicts, problems=problems)
        self.record(event)
        return event

    # ---- diff ------------------------------------------------------------------------------

    async def diff(self, turn: int | None = None) -> SessionDiff:
        """One turn's changes (`/diff N`) or the whole session's so far (`/diff`).

        Raises:
            CheckpointUnavailable: outside git, the turn took no checkpoint, a git failure.
        """
        store = self._store()
        await self.settled()
        if turn is not None:
            state = self._turns.get(turn)
            if state is None or state.before is None or state.after is None:
                why = "its checkpoint could not be taken" if turn in self._failed else "it has no checkpoint"
                raise CheckpointUnavailable(f"Turn {turn} has no changes to show ({why}).")
            before, after = state.before, state.after
            return await self._thread(
                lambda: SessionDiff(f"Turn {turn}", summaries(store.changes(before, after)), store.patch(before, after))
            )
        turns = sorted(
            (t for t in self._turns.values() if t.before is not None and t.after is not None), key=lambda t: t.number
        )
        if not turns:
            raise CheckpointUnavailable(
                "Nothing to show yet: no turn of this session has changed files since its checkpoints began."
            )
        span = f"turn {turns[0].number}" if len(turns) == 1 else f"turns {turns[0].number}–{turns[-1].number}"
        title = f"This session ({span})"

        def work() -> SessionDiff:
            start = turns[0].before or ""
            paths = sorted({path for t in turns for path in store.changed_paths(t.before or "", t.after or "")})
            if not paths:
                return SessionDiff(title, [], "")
            now = store.snapshot(None, "codeassist: diff").commit
            return SessionDiff(title, summaries(store.changes(start, now, paths)), store.patch(start, now, paths))

        return await self._thread(work)

    # ---- commit ----------------------------------------------------------------------------

    def _pending_commit(self) -> list[_Turn]:
        return sorted(
            (t for t in self._turns.values() if t.after is not None and t.files and not t.undone and not t.committed),
            key=lambda t: t.number,
        )

    def _commit_paths(self, turns: list[_Turn], *, include_dirty: bool) -> tuple[list[str], list[str]]:
        """(Locked.) The files to commit for `turns` and those left out as dirty before the session."""
        from agent.checkpoint_store import DIRTY_FILES_LIMIT, CheckpointError

        store = self._store()
        paths = sorted({path for t in turns for path in store.changed_paths(t.before or "", t.after or "")})
        dirty = set(self.baseline.dirty) if self.baseline is not None else set()
        first = min((t for t in self._turns.values() if t.before), key=lambda t: t.number, default=None)
        if not include_dirty and len(dirty) >= DIRTY_FILES_LIMIT and first is not None and first.before:
            try:  # the baseline names only the first files: what the first checkpoint has beyond HEAD
                dirty.update(store.changed_paths(f"{first.before}^", first.before))
            except CheckpointError:  # no HEAD then: every file was new
                dirty.update(paths)
        left_out = [] if include_dirty else [path for path in paths if path in dirty]
        return [path for path in paths if path not in left_out], left_out

    async def draft_commit(
        self,
        *,
        include_dirty: bool = False,
        message: str | None = None,
        drafter: Callable[[list[TurnSummary], str], Awaitable[str | None]],
    ) -> CommitDraft:
        """The commit `/commit` proposes: the session's changed files (since its last commit) and
        `message` when given, else one `drafter` gets from the model, or one written offline.

        Raises:
            CheckpointUnavailable: outside git, nothing to commit, a git failure.
        """
        store = self._store()
        await self.settled()
        turns = self._pending_commit()
        if not turns:
            raise CheckpointUnavailable("Nothing to commit: this session has changed no files since its last commit.")
        files, left_out = await self._thread(lambda: self._commit_paths(turns, include_dirty=include_dirty))
        if not files:
            raise CheckpointUnavailable(
                f"Nothing to commit: the session only changed files dirty before it started ({named(left_out)}); "
                "/commit --include-dirty commits them too."
            )

        def patch() -> str:
            now = store.snapshot(None, "codeassist: commit draft").commit
            return store.patch(turns[0].before or "", now, files)

        if message is not None and message.strip():
            return CommitDraft(with_trailer(message), files, left_out, "user")
        summary = [TurnSummary(t.number, t.prompt, list(t.files), list(t.tools)) for t in turns]
        drafted = await drafter(summary, await self._thread(patch))
        if drafted is not None:
            return CommitDraft(drafted, files, left_out, "model")
        return CommitDraft(offline_draft(summary, self._plan()), files, left_out, "offline")

    async def commit(self, message: str, files: list[str]) -> Committed:
        """Commit `files` (as they are in the worktree) on the current branch with `message` (the
        trailer added when missing).

        Raises:
            CheckpointUnavailable: outside git, no files, a git failure.
        """
        self._store()
        if not files:
            raise CheckpointUnavailable("Nothing to commit: no files were chosen.")
        async with self._serial:
            await self.settled()
            try:
                return await self._commit(message, files, auto=False)
            except CheckpointUnavailable as exc:
                raise CheckpointUnavailable(f"Nothing was committed: {exc}") from None

    async def _commit(self, message: str, files: list[str], *, auto: bool) -> Committed:
        store = self._store()
        text = with_trailer(message)
        result = await self._thread(lambda: store.commit(files, text))
        event = Committed(commit=result.commit, branch=result.branch, files=list(result.files), message=text, auto=auto)
        if not auto:  # an auto commit is yielded by the loop, which records it
            self.record(event)
        else:
            self.observe(event)
        return event

    # ---- start and git init ----------------------------------------------------------------

    def close(self) -> None:
        """Let go of the repository (the checkpoints stay in it)."""
        if self.store is not None:
            with self._lock:
                self.store.close()
