"""Rebuilding a conversation from its session record, and finding the session to reopen.

Resume is "concatenate the items, answer unanswered calls as interrupted": the conversation the
model saw is the items the session record holds, in file order (see `agent.session_record`;
version-1 files are converted by `agent.session_v1`). A tool call that has no output where its
turn ends — the process died, or the file ends — gets the synthetic `INTERRUPTED_OUTPUT` there;
it is never run again. The turns (prompt, items, tool calls with their approvals and results,
response stats) come from the recorded events. Nothing here executes anything or touches the
network.

The log is redacted, so a secret the original conversation held comes back as its placeholder.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from agent.conversation import is_compaction
from agent.events import (
    AgentEvent,
    ApprovalDecided,
    ApprovalRequested,
    ChangesRedone,
    ChangesUndone,
    Committed,
    Compacted,
    ResponseFinished,
    RulesChanged,
    ToolFinished,
    TurnChanges,
    TurnEnded,
    TurnStarted,
)
from agent.git import repo_info
from agent.session_log import LoadedSession, SessionLogError, SessionSummary, header_of, list_sessions
from agent.session_record import Entry, EventEntry, ItemsEntry, SessionReading, read_session, validated_items
from agent.stats import ResponseStats, TurnStats
from agent.wire import CustomToolCall, CustomToolCallOutput, FunctionCall, FunctionCallOutput, Item, Message

if TYPE_CHECKING:
    from agent.loop import Agent
    from agent.recorder import SessionRecorder

__all__ = [
    "INTERRUPTED_OUTPUT",
    "RestoredSession",
    "SessionLookupError",
    "ToolCallRecord",
    "TurnRecord",
    "conversation_items",
    "find_session",
    "in_workspace",
    "latest_session",
    "previous_turn_stats",
    "read_header",
    "resume_record",
    "session_turns",
    "workspace_of",
]

INTERRUPTED_OUTPUT = "interrupted — outcome unknown; it was not re-run"
"""The output given to a tool call whose result was never recorded."""


class SessionLookupError(ValueError):
    """No session, or more than one, matches what the user asked for; the message says which."""


@dataclass
class ToolCallRecord:
    """One tool call of a turn, as the session file tells it."""

    call_id: str
    name: str
    arguments: str
    """The raw arguments (JSON text) or freeform input, as the model sent them."""
    approval_request: dict[str, Any] | None = None
    """The `ApprovalRequest` fields when someone was asked (summary, diff, command, …)."""
    approval: dict[str, Any] | None = None
    """`decision`, `rule`, `reason` and `waited_s` when a decision was recorded."""
    status: str | None = None
    """`ok`, `error`, `denied`, `invalid` or `aborted`; None when the call was interrupted."""
    output: str | None = None
    """What the model received (`INTERRUPTED_OUTPUT` for an interrupted call)."""
    duration_s: float | None = None
    interrupted: bool = False
    """The result was never recorded; the call was not run again."""


@dataclass
class TurnRecord:
    """One user turn rebuilt from the session file."""

    turn: int
    prompt: str
    items: list[Item] = field(default_factory=list)
    """The conversation items the turn added: the user message, outputs, tool outputs."""
    tool_calls: list[ToolCallRecord] = field(default_factory=list)
    responses: list[ResponseStats] = field(default_factory=list)
    stats: TurnStats | None = None
    """From `turn_ended`; None when the log ends (or the session was resumed) before it."""
    reason: str | None = None
    """Why the turn ended (`completed`, `cancelled`, …); None when it never ended."""
    message: str | None = None
    changes: TurnChanges | None = None
    """What the turn changed in the workspace (when it took a checkpoint)."""
    afterwards: list[ChangesUndone | ChangesRedone | Committed] = field(default_factory=list)
    """`/undo`, `/redo` and `/commit` done after this turn, before the next one (a resumption
    in between included)."""


Source = Path | str | LoadedSession | SessionReading


def session_turns(source: Source) -> list[TurnRecord]:
    """Fold a session into its turns, in order, reading it once.

    Items before the first user message (a warm-up) belong to no turn. Unreadable records are
    skipped: the file is untrusted input.

    Raises:
        SessionLogError: `source` is a path that cannot be read as a session.
    """
    reading = source if isinstance(source, SessionReading) else read_session(source)
    folder = _Turns()
    folder.fold(reading.entries)
    return folder.turns


def conversation_items(source: Source) -> list[Item]:
    """The complete transcript of a session, ready to put into a new `Conversation`.

    Every tool call in it has exactly one output: its recorded one, or `INTERRUPTED_OUTPUT`
    placed where its turn ends (before the next user message).
    """
    return [item for turn in session_turns(source) for item in turn.items]


def previous_turn_stats(turns: list[TurnRecord]) -> list[TurnStats]:
    """One `TurnStats` per turn number from 1 to the highest, for `Agent.turns` on resume.

    A turn that never ended gets stats from its recorded responses, and a missing number an
    empty `TurnStats`, so the next turn is numbered after the highest one in the file.
    """
    by_number = {turn.turn: turn.stats or TurnStats(turn=turn.turn, responses=turn.responses) for turn in turns}
    highest = max(by_number, default=0)
    return [by_number.get(number) or TurnStats(turn=number) for number in range(1, highest + 1)]


@dataclass
class RestoredSession:
    """A saved session read for resuming: its header, format version and turns."""

    path: Path
    header: dict[str, Any]
    format_version: int
    turns: list[TurnRecord]
    history: list[AgentEvent]
    """The session's events as `agent.replay.history_events` gives them: what to draw."""
    window: tuple[list[Item], int] | None = None
    """Where the latest compaction left the conversation's window: the replacement items of a
    standalone or client-side compaction, and the index of the first transcript item after them
    (None: never compacted; the whole transcript is the window)."""

    def restore(self, agent: Agent, recorder: SessionRecorder | None, *, resumed_fields: dict[str, Any]) -> None:
        """Put the transcript into a fresh agent and mark the resumption in the record.

        The items go into the conversation without being recorded again (they are in the file
        already); the next request resends everything. A version-1 session is continued in a new
        file of the current format, which first receives the old file's content, converted.
        """
        agent.conversation.restore([item for turn in self.turns for item in turn.items])
        if self.window is not None:
            agent.conversation.restore_window(*self.window)
        agent.compactor.compactions = sum(isinstance(event, Compacted) for event in self.history)
        agent.conversation.break_chain("resumed session")
        agent.turns = previous_turn_stats(self.turns)
        for rule in session_rules_from(self.history):
            agent.approvals.permissions.add_session_rule(rule)
        if recorder is None:
            return
        if self.format_version == 1:
            recorder.copy_entries(read_session(self.path).entries)
        ended = [turn.stats for turn in self.turns if turn.stats is not None]
        recorder.continue_totals(len(ended), sum(s.input_tokens + s.output_tokens for s in ended))
        interrupted = [call.call_id for turn in self.turns for call in turn.tool_calls if call.interrupted]
        recorder.resumed(**resumed_fields, turns=len(agent.turns), interrupted=interrupted)


def session_rules_from(events: Iterable[AgentEvent]) -> list[str]:
    """The "approve always" rules a recorded session ended with: each `approve_always` answer to
    a request with a rule key adds its rule, each `RulesChanged` sets the list, in order."""
    keys: dict[str, str | None] = {}
    rules: list[str] = []
    for event in events:
        if isinstance(event, ApprovalRequested):
            keys[event.request.call_id] = event.request.rule_key
        elif isinstance(event, ApprovalDecided) and event.decision == "approve_always":
            key = keys.get(event.call_id)
            if key is not None and key not in rules:
                rules.append(key)
        elif isinstance(event, RulesChanged):
            rules = list(event.session_rules)
    return rules


def resume_record(path: Path) -> RestoredSession:
    """Read a session file for `Session.open(resume=…)`: its turns and its history to draw, in
    one streaming pass.

    Raises:
        SessionLogError: The file cannot be read, is not a session, or is from a newer version.
    """
    from agent.replay import Timeline, whole_runs  # replay imports this module

    reading = read_session(path)
    turns, timeline = _Turns(), Timeline()
    for entry in reading.entries:
        turns.feed(entry)
        timeline.feed(entry)
    turns.close_turn()
    timeline.close_turn()
    version = reading.header.get("v")
    return RestoredSession(
        Path(path),
        reading.header,
        version if isinstance(version, int) else 0,
        turns.turns,
        whole_runs(timed.event for timed in timeline.out),
        turns.window,
    )


def _readable_items(items: list[dict[str, Any]]) -> list[Item]:
    """The items as models; one that does not read as an item (the file is untrusted) is left out."""
    try:
        return validated_items(items)
    except ValidationError:
        readable = []
        for item in items:
            with contextlib.suppress(ValidationError):
                readable += validated_items([item])
        return readable


class _Turns:
    """Folds entries into turns: items by turn, tool calls with their approvals and results."""

    def __init__(self) -> None:
        self.turns: list[TurnRecord] = []
        self.turn: TurnRecord | None = None
        self.started = False
        """The open turn has had its `TurnStarted` (it may have been opened by its user message)."""
        self.calls: dict[str, FunctionCall | CustomToolCall] = {}
        """Committed tool calls of the open turn that have no output yet."""
        self.records: dict[str, ToolCallRecord] = {}
        self.window: tuple[list[Item], int] | None = None
        """The latest compaction's window (see `RestoredSession.window`)."""

    def position(self) -> int:
        """How many transcript items the folded entries hold so far."""
        return sum(len(turn.items) for turn in self.turns) + (len(self.turn.items) if self.turn else 0)

    def fold(self, entries: Iterable[Entry]) -> None:
        for entry in entries:
            self.feed(entry)
        self.close_turn()

    def feed(self, entry: Entry) -> None:
        if isinstance(entry, ItemsEntry):
            self.items(entry)
        elif isinstance(entry, EventEntry):
            self.event(entry)
        else:
            self.close_turn()

    def open_turn(self, number: int | None, prompt: str) -> TurnRecord:
        self.close_turn()
        if number is None:
            number = (self.turns[-1].turn if self.turns else 0) + 1
        self.turn = TurnRecord(turn=number, prompt=prompt)
        return self.turn

    def items(self, entry: ItemsEntry) -> None:
        for item in _readable_items(entry.items):
            if isinstance(item, Message) and item.role == "user":
                if self.turn is None or self.turn.items or self.turn.tool_calls:
                    self.open_turn(None, item.text())
                    self.started = False
            elif self.turn is None:
                continue  # before the first prompt: a warm-up
            turn = self.turn
            assert turn is not None
            if is_compaction(item):
                self.window = ([], self.position())
            turn.items.append(item)
            if isinstance(item, FunctionCall | CustomToolCall):
                self.calls[item.call_id] = item
                self.call_record(item.call_id, item.name, item.raw_input)
            elif isinstance(item, FunctionCallOutput | CustomToolCallOutput):
                self.calls.pop(item.call_id, None)

    def event(self, entry: EventEntry) -> None:
        event = entry.event
        if isinstance(event, Compacted) and event.window is not None:
            self.window = (_readable_items(event.window), self.position())
            return
        if isinstance(event, TurnStarted):
            if self.turn is not None and not self.started and not self.turn.tool_calls:
                self.turn.turn, self.turn.prompt = event.turn, event.prompt  # opened by its user message
            else:
                self.open_turn(event.turn, event.prompt)
            self.started = True
            return
        if isinstance(event, ChangesUndone | ChangesRedone | Committed):
            follows = self.turn if self.turn is not None else (self.turns[-1] if self.turns else None)
            if follows is not None:  # after a resumption the turn it follows is closed already
                follows.afterwards.append(event)
            return
        turn = self.turn
        if turn is None:
            return
        if isinstance(event, ResponseFinished):
            turn.responses.append(event.stats)
        elif isinstance(event, ApprovalRequested):
            self.call_record(event.request.call_id).approval_request = event.request.model_dump(mode="json")
        elif isinstance(event, ApprovalDecided):
            fields = event.model_dump(mode="json", exclude={"type", "call_id"})
            self.call_record(event.call_id).approval = fields
        elif isinstance(event, ToolFinished):
            record = self.call_record(event.call_id, event.name)
            record.status, record.output, record.duration_s = event.status, event.output, event.duration_s
        elif isinstance(event, TurnEnded):
            turn.stats, turn.reason, turn.message = event.stats, event.reason, event.message
        elif isinstance(event, TurnChanges):
            turn.changes = event

    def call_record(self, call_id: str, name: str = "", arguments: str = "") -> ToolCallRecord:
        record = self.records.get(call_id)
        if record is None:
            record = self.records[call_id] = ToolCallRecord(call_id=call_id, name=name, arguments=arguments)
            assert self.turn is not None
            self.turn.tool_calls.append(record)
        return record

    def close_turn(self) -> None:
        """End the open turn, answering every call that has no recorded output."""
        turn = self.turn
        if turn is None:
            return
        for call_id, call in self.calls.items():
            record = self.call_record(call_id, call.name)
            record.output, record.interrupted = INTERRUPTED_OUTPUT, True
            output_type = CustomToolCallOutput if isinstance(call, CustomToolCall) else FunctionCallOutput
            turn.items.append(output_type(call_id=call_id, output=INTERRUPTED_OUTPUT))
        self.turns.append(turn)
        self.turn, self.calls, self.records, self.started = None, {}, {}, False


# ---- finding a session --------------------------------------------------------------------


def workspace_of(cwd: Path) -> Path:
    """The repository root containing `cwd`, or `cwd` itself outside git (resolved)."""
    repo = repo_info(cwd)
    return (repo.root if repo else cwd).resolve()


def read_header(path: Path) -> dict[str, Any]:
    """The header of a session file (`session_log.header_of`); empty when it is unreadable or
    not a session this version reads. Cheap for listings: it reads one line."""
    try:
        with open(path, "rb") as file:
            return header_of(file.readline(), path)
    except (OSError, SessionLogError):
        return {}


def in_workspace(summary: SessionSummary, workspace: Path, header: dict[str, Any] | None = None) -> bool:
    """Whether a session ran in `workspace`: its recorded workspace is it, or its cwd is inside it."""
    header = read_header(summary.path) if header is None else header
    recorded = header.get("workspace")
    if isinstance(recorded, str) and recorded:
        return Path(recorded) == workspace
    if not summary.cwd:
        return False
    cwd = Path(summary.cwd)
    return cwd == workspace or workspace in cwd.parents


def latest_session(root: Path, cwd: Path | None = None) -> Path | None:
    """The session `codeassist --continue` reopens.

    Sessions without any prompt are skipped. With `cwd`, the newest session of the same
    workspace (see `workspace_of`) wins; when there is none, the newest of all.

    Returns:
        The session file, or None when `root` holds no session with a prompt.
    """
    summaries = [summary for summary in list_sessions(root) if summary.first_prompt is not None]
    if cwd is not None:
        workspace = workspace_of(cwd)
        for summary in summaries:
            if in_workspace(summary, workspace):
                return summary.path
    return summaries[0].path if summaries else None


def find_session(root: Path, id_or_path: str | Path) -> Path:
    """Resolve what the user typed after `--resume`, `replay` or `export` to a session file.

    Args:
        root: The sessions directory, usually `agent.paths.sessions_dir()`.
        id_or_path: A path to a `.jsonl` file, a full session id, or a unique prefix of one.

    Raises:
        SessionLookupError: The file does not exist, no session id matches, or a prefix matches
            several sessions (the message lists them).
    """
    text = str(id_or_path)
    try:
        candidate = Path(text).expanduser()
    except RuntimeError:  # "~name" for a user that does not exist
        raise SessionLookupError(f"no session file at {text}") from None
    if candidate.is_file():
        return candidate
    if isinstance(id_or_path, Path) or "/" in text or text.endswith(".jsonl"):
        raise SessionLookupError(f"no session file at {candidate}")
    if not text:
        raise SessionLookupError("no session id given")
    paths = sorted(Path(root).glob("*/*.jsonl"), key=lambda path: path.name, reverse=True)
    exact = [path for path in paths if path.stem == text]
    if len(exact) == 1:
        return exact[0]
    matches = exact or [path for path in paths if path.stem.startswith(text)]
    if not matches:
        raise SessionLookupError(f"no session matches {text!r} in {root} (`codeassist sessions --all` lists them)")
    if len(matches) > 1:
        shown = ", ".join(path.stem for path in matches[:5]) + (", …" if len(matches) > 5 else "")
        raise SessionLookupError(f"{text!r} matches {len(matches)} sessions ({shown}); give more of the id")
    return matches[0]
