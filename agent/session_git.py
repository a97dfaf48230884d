"""The safety-net part of `Session` (see `agent.session`): per-turn checkpoints, `/undo`,
`/redo`, `/diff`, `/commit` and `/git-init`, over `agent.checkpoints`.

Every method that changes something records its event (`ChangesUndone`, `ChangesRedone`,
`Committed`) in the session log and returns it, for the UI to draw like any other event. A
command that cannot be done raises `CheckpointUnavailable` (a `ValueError`) whose message is for
the user; undo and redo raise its subclass `CheckpointConflict` when files were changed by hand
since, until they are called with `overwrite=True`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.checkpoints import (
    NOT_A_REPOSITORY,
    CheckpointUnavailable,
    CommitDraft,
    SessionDiff,
    TurnCheckpoints,
    UndoPlan,
)
from agent.commit_message import TurnSummary, draft_request, model_draft, named
from agent.config import Settings
from agent.events import AgentEvent, ChangesRedone, ChangesUndone, Committed, GitBaseline, TurnChanges
from agent.loop import Agent

if TYPE_CHECKING:
    from agent.checkpoint_store import CheckpointStore
    from agent.git import RepoInfo

MIB = 1024 * 1024


class SessionCheckpoints:
    """Checkpoints, undo/redo, diff and commit (mixed into `Session`)."""

    agent: Agent
    settings: Settings
    workspace: Path
    id: str
    checkpoints: TurnCheckpoints

    @property
    def checkpoints_available(self) -> bool:
        """Whether turns take checkpoints (False outside git)."""
        return self.checkpoints.store is not None

    @property
    def checkpoints_reason(self) -> str | None:
        """Why there are no checkpoints, for the user (None when there are)."""
        return None if self.checkpoints_available else self.checkpoints.unavailable_message()

    def plan_undo(self) -> UndoPlan | None:
        """What `/undo` would undo: the last turn that changed files, its files, and those changed by
        hand since (None: nothing to undo, or no checkpoints). Runs git: call it from a thread
        (`asyncio.to_thread`).

        Raises:
            CheckpointUnavailable: the turn's checkpoints cannot be read.
        """
        return self.checkpoints.plan_undo()

    async def undo(self, *, overwrite: bool = False) -> ChangesUndone:
        """Put the files of the last turn that changed any back as they were before it (created
        files removed, deleted ones back, modes kept); repeat to go back turn by turn. The model
        hears what was undone with the next prompt.

        Raises:
            CheckpointConflict: files changed by hand since (its `conflicts`); call again with
                `overwrite=True` once the user agreed.
            CheckpointUnavailable: nothing to undo, no checkpoints, a turn is running, git failed.
        """
        return await self.checkpoints.undo(overwrite=overwrite)

    def plan_redo(self) -> UndoPlan | None:
        """What `/redo` would re-apply (see `plan_undo`)."""
        return self.checkpoints.plan_redo()

    def why_nothing_to(self, *, undo: bool) -> str:
        """Why `plan_undo` (or `plan_redo`) found nothing: every changing turn is undone already, or
        none changed a file since checkpoints began (`undo` False: nothing was undone)."""
        return self.checkpoints.why_nothing_to(undo=undo)

    async def redo(self, *, overwrite: bool = False) -> ChangesRedone:
        """Apply the most recently undone turn's changes again (raises as `undo`)."""
        return await self.checkpoints.redo(overwrite=overwrite)

    def turn_had_checkpoint(self, turn: int) -> bool:
        """Whether `turn` took a checkpoint: after Esc, whether its partial changes can be undone."""
        return self.checkpoints.turn_had_checkpoint(turn)

    async def diff(self, turn: int | None = None) -> SessionDiff:
        """The changes of turn `turn` (`/diff N`), or of the whole session so far (`/diff`).

        Raises:
            CheckpointUnavailable: no checkpoints, the turn changed no files, git failed.
        """
        return await self.checkpoints.diff(turn)

    async def draft_commit(self, *, include_dirty: bool = False, message: str | None = None) -> CommitDraft:
        """The commit `/commit` proposes for approval: the files the session changed since its last
        commit (those dirty before it started left out unless `include_dirty`) and a message: the
        user's own (`/commit MESSAGE`, no model request), else one the model drafts on a side
        request (HTTP, so the WebSocket's cached chain stays), or one written from the prompts,
        the plan and the tool log when the model cannot be reached.

        Raises:
            CheckpointUnavailable: no checkpoints, nothing to commit, git failed.
        """

        async def drafter(turns: list[TurnSummary], patch: str) -> str | None:
            body = draft_request(self.agent.conversation.settings, turns, patch)
            return await model_draft(self.agent.client.http, body)

        return await self.checkpoints.draft_commit(include_dirty=include_dirty, message=message, drafter=drafter)

    async def commit(self, message: str, files: list[str]) -> Committed:
        """Commit `files` as they are now on the current branch with `message` (ending with the
        trailer `Assisted-by: codeassist`); only those paths' entries of the index change.

        Raises:
            CheckpointUnavailable: no checkpoints, no files, git failed.
        """
        return await self.checkpoints.commit(message, files)

    async def init_repository(self) -> str:
        """`/git-init`: run `git init` in the workspace; checkpoints start with the next turn. The
        message for the user.

        Raises:
            CheckpointUnavailable: git init failed.
        """
        return await git_init(self.checkpoints, self.workspace, self.id, self.settings.checkpoint_max_file_mb * MIB)

    def checkpoint_notices(self) -> list[str]:
        """The start notices about checkpoints (see `Session.start_notices`); told once."""
        return start_notices(self.checkpoints)


def open_checkpoints(
    workspace: Path,
    session_id: str,
    *,
    max_file_bytes: int,
    record: Callable[[AgentEvent], None],
    history: Iterable[AgentEvent] = (),
    mutating: Iterable[str] = (),
    auto_commit: bool = False,
    plan: Callable[[], list[dict[str, str]]] = list,
    repo: RepoInfo | None = None,
) -> TurnCheckpoints:
    """The checkpoints of a session in `workspace`: its store (None outside git), the state a
    resumed session's `history` holds, and — the first time — its `GitBaseline` recorded (from
    `repo`, the repository as the session read it, when given)."""
    from agent.checkpoint_store import CheckpointError, CheckpointStore
    from agent.paths import data_dir

    reason: str | None = None
    try:
        store = CheckpointStore.open(
            workspace, session_id, index_dir=data_dir() / "checkpoints", max_file_bytes=max_file_bytes
        )
    except (CheckpointError, OSError) as exc:
        store, reason = None, str(exc) or type(exc).__name__
    if store is None and reason is None:
        reason = NOT_A_REPOSITORY
    checkpoints = TurnCheckpoints(
        store, reason=reason, record=record, mutating=mutating, auto_commit=auto_commit, plan=plan
    )
    for event in history:
        checkpoints.observe(event)
    checkpoints.resumed()
    if checkpoints.baseline is None:
        checkpoints.recorded_baseline = baseline(store, reason, repo)
        checkpoints.record(checkpoints.recorded_baseline)
        checkpoints.baseline_told = False
    return checkpoints


def baseline(store: CheckpointStore | None, reason: str | None, repo: RepoInfo | None = None) -> GitBaseline:
    """The `GitBaseline` of a session starting now (`repo`: the repository, when already read)."""
    from agent.checkpoint_store import CheckpointError
    from agent.git import repo_info

    if store is None:
        return GitBaseline(head=None, branch=None, dirty=[], available=False, reason=reason)
    info = repo if repo is not None and repo.root.resolve() == store.root.resolve() else repo_info(store.root)
    try:
        dirty = store.dirty_files()
    except CheckpointError:
        dirty = []
    return GitBaseline(
        head=info.head if info else None, branch=info.branch if info else None, dirty=dirty, available=True
    )


async def git_init(checkpoints: TurnCheckpoints, workspace: Path, session_id: str, max_file_bytes: int) -> str:
    """`/git-init`: `git init` in the workspace and checkpoints from the next turn on; the message
    for the user."""
    from agent.checkpoint_store import CheckpointError, CheckpointStore, init_repository
    from agent.paths import data_dir

    if checkpoints.store is not None:
        return f"{checkpoints.store.root} is a git repository already: checkpoints are on."
    await checkpoints.settled()  # not while a turn runs: its first half would have no checkpoint

    def work() -> CheckpointStore | None:
        init_repository(workspace)
        return CheckpointStore.open(
            workspace, session_id, index_dir=data_dir() / "checkpoints", max_file_bytes=max_file_bytes
        )

    try:
        store = await asyncio.to_thread(work)
    except (CheckpointError, OSError) as exc:
        raise CheckpointUnavailable(f"git init failed: {exc}") from None
    if store is None:
        raise CheckpointUnavailable(f"git init ran, but {workspace} is still not a repository codeassist can use.")
    checkpoints.store, checkpoints.reason = store, None
    checkpoints.record(await asyncio.to_thread(baseline, store, None))
    return f"Initialised an empty git repository in {workspace}: checkpoints start with the next turn."


def start_notices(checkpoints: TurnCheckpoints) -> list[str]:
    """Told once when the session starts: no checkpoints outside git (with the offer of
    `/git-init`), and a working tree that was dirty, with its files."""
    if checkpoints.baseline_told:
        return []
    checkpoints.baseline_told = True
    if checkpoints.store is None:
        return [
            checkpoints.unavailable_message().replace("No checkpoints:", "No checkpoints in this session:", 1)
            + " Without them /undo, /redo, /diff and /commit cannot work; checkpoints start with the next turn after /git-init."
        ]
    dirty = checkpoints.baseline.dirty if checkpoints.baseline is not None else []
    if not dirty:
        return []
    from agent.checkpoint_store import DIRTY_FILES_LIMIT

    count = f"{len(dirty)}{'+' if len(dirty) >= DIRTY_FILES_LIMIT else ''} file{'s' if len(dirty) != 1 else ''}"
    return [
        f"The working tree has uncommitted changes ({count}): {named(dirty)}. "
        "/commit leaves them out unless you ask (/commit --include-dirty)."
    ]


def recorded_diffs(header: Mapping[str, Any], events: Sequence[TurnChanges]) -> dict[int, SessionDiff]:
    """The diffs of recorded turns (replay, export), by turn, read from the checkpoints the session
    left in its repository (`header`: the session file's `workspace` and `id`). Where the
    repository or a turn's checkpoints are gone, the recorded per-file stats with a note in
    place of the patch. Runs git."""
    from agent.checkpoint_store import CheckpointError, CheckpointStore
    from agent.paths import data_dir

    workspace, session_id = header.get("workspace"), header.get("id")
    store = None
    if isinstance(workspace, str) and workspace and isinstance(session_id, str) and session_id:
        try:
            store = CheckpointStore.open(Path(workspace), session_id, index_dir=data_dir() / "checkpoints", owner=False)
        except (CheckpointError, OSError):
            store = None
    diffs = {}
    for event in events:
        title, files = f"Turn {event.turn}", list(event.files)
        if store is None:
            diffs[event.turn] = SessionDiff(title, files, f"(the repository {workspace} cannot be read here)")
            continue
        try:
            if store.exists(event.before) and store.exists(event.after):
                diffs[event.turn] = SessionDiff(title, files, store.patch(event.before, event.after))
            else:
                diffs[event.turn] = SessionDiff(
                    title, files, "(this turn's checkpoints are no longer in the repository)"
                )
        except CheckpointError as exc:
            diffs[event.turn] = SessionDiff(title, files, f"(the diff cannot be read: {exc})")
    if store is not None:
        store.close()
    return diffs
