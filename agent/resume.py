"""Rebuilding a conversation from its session file, and finding the session to reopen.

The session log is the source of truth: the transcript the model saw is the user messages, the
output items of every response the agent committed (those that ended `response.completed`,
`response.incomplete` or the legacy `response.done` with an id, exactly as `agent.loop` commits
them), and one output per tool call from the `tool_result` records, in file order. A tool call
whose result was never written (the process died) gets the synthetic `INTERRUPTED_OUTPUT`; it
is never run again. Nothing here executes anything or touches the network.

The log is redacted, so a secret the original conversation held comes back as its placeholder.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from agent.git import repo_info
from agent.session_log import LoadedSession, SessionSummary, list_sessions
from agent.stats import ResponseStats, TurnStats
from agent.wire import (
    CustomToolCall,
    CustomToolCallOutput,
    FrameDecodeError,
    FunctionCall,
    FunctionCallOutput,
    Item,
    decode_frame,
    user_message,
)
from agent.wire.event_types import COMMITTED_TERMINALS

__all__ = [
    "COMMITTED_TERMINALS",
    "INTERRUPTED_OUTPUT",
    "SessionLookupError",
    "ToolCallRecord",
    "TurnRecord",
    "conversation_items",
    "find_session",
    "frame_event",
    "in_workspace",
    "latest_session",
    "previous_turn_stats",
    "read_header",
    "session_turns",
    "workspace_of",
]

INTERRUPTED_OUTPUT = "interrupted — outcome unknown; it was not re-run"
"""The output given to a tool call whose result was never recorded."""

_ITEMS: TypeAdapter[list[Item]] = TypeAdapter(list[Item])


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


def session_turns(loaded: LoadedSession) -> list[TurnRecord]:
    """Walk a loaded session into its turns, in order.

    Records before the first `user_message` (the warm-up) add nothing. Unreadable records are
    skipped: the file is untrusted input.
    """
    walker = _Walker()
    for record in loaded.records:
        with contextlib.suppress(ValidationError, TypeError, ValueError, AttributeError):
            walker.feed(record)
    walker.close_turn()
    return walker.turns


def conversation_items(loaded: LoadedSession) -> list[Item]:
    """The complete transcript of a session, ready to put into a new `Conversation`.

    Every tool call in it has exactly one output: its recorded one, or `INTERRUPTED_OUTPUT`
    placed where its result would have been (before the next user message).
    """
    return [item for turn in session_turns(loaded) for item in turn.items]


def previous_turn_stats(turns: list[TurnRecord]) -> list[TurnStats]:
    """One `TurnStats` per turn number from 1 to the highest, for `Agent.turns` on resume.

    A turn that never ended gets stats from its recorded responses, and a missing number an
    empty `TurnStats`, so the next turn is numbered after the highest one in the file.
    """
    by_number = {turn.turn: turn.stats or TurnStats(turn=turn.turn, responses=turn.responses) for turn in turns}
    highest = max(by_number, default=0)
    return [by_number.get(number) or TurnStats(turn=number) for number in range(1, highest + 1)]


def frame_event(record: dict[str, Any]) -> dict[str, Any] | None:
    """The decoded event or request of a `frame` record, or None when it is unreadable."""
    data = record.get("data")
    if isinstance(data, dict):
        return data if isinstance(data.get("type"), str) or record.get("dir") == "sent" else None
    text = record.get("data_text")
    if isinstance(text, str):
        with contextlib.suppress(FrameDecodeError):
            return decode_frame(text)
    return None


class _Walker:
    """Folds records into turns, mirroring what `agent.loop` adds to its `Conversation`."""

    def __init__(self) -> None:
        self.turns: list[TurnRecord] = []
        self.turn: TurnRecord | None = None
        self.calls: dict[str, FunctionCall | CustomToolCall] = {}
        """Tool calls of committed responses in the open turn that have no output yet."""
        self.done_items: list[dict[str, Any]] = []
        self.warm_up = False

    def feed(self, record: dict[str, Any]) -> None:
        kind = record.get("type")
        if kind == "user_message":
            self.close_turn()
            number = record.get("turn")
            if not isinstance(number, int) or isinstance(number, bool):
                number = (self.turns[-1].turn if self.turns else 0) + 1
            text = record.get("text")
            text = text if isinstance(text, str) else ""
            self.turn = TurnRecord(turn=number, prompt=text, items=[user_message(text)])
        elif kind == "session_resumed":
            self.close_turn()
        elif kind == "frame":
            self._frame(record)
        elif self.turn is None:
            return
        elif kind == "tool_intent":
            self._call_record(str(record.get("call_id")), record)
        elif kind == "approval_request":
            self._call_record(str(record.get("call_id")), record).approval_request = _fields(record)
        elif kind == "approval":
            fields = _fields(record)
            fields.pop("call_id", None)
            self._call_record(str(record.get("call_id")), record).approval = fields
        elif kind == "tool_result":
            self._result(record)
        elif kind == "response_stats":
            self.turn.responses.append(ResponseStats.model_validate(record))
        elif kind == "turn_ended":
            self.turn.stats = TurnStats.model_validate(record.get("stats"))
            reason, message = record.get("reason"), record.get("message")
            self.turn.reason = reason if isinstance(reason, str) else "unknown"
            self.turn.message = message if isinstance(message, str) else None

    def _frame(self, record: dict[str, Any]) -> None:
        event = frame_event(record)
        if event is None:
            return
        if record.get("dir") == "sent":
            self.warm_up = event.get("generate") is False
            self.done_items = []
            return
        kind = event.get("type")
        if self.warm_up or self.turn is None:
            return
        if kind == "response.output_item.done" and isinstance(event.get("item"), dict):
            self.done_items.append(event["item"])
        elif kind in COMMITTED_TERMINALS:
            response = event.get("response")
            if not isinstance(response, dict) or not response.get("id"):
                return
            output = _ITEMS.validate_python(response.get("output") or self.done_items)
            self.turn.items.extend(output)
            for item in output:
                if isinstance(item, FunctionCall | CustomToolCall):
                    self.calls[item.call_id] = item

    def _call_record(self, call_id: str, record: dict[str, Any]) -> ToolCallRecord:
        assert self.turn is not None
        for call in reversed(self.turn.tool_calls):
            if call.call_id == call_id:
                return call
        arguments = record.get("arguments")
        call = ToolCallRecord(
            call_id=call_id,
            name=str(record.get("name") or record.get("tool") or ""),
            arguments=arguments if isinstance(arguments, str) else "",
        )
        self.turn.tool_calls.append(call)
        return call

    def _result(self, record: dict[str, Any]) -> None:
        assert self.turn is not None
        call_id = str(record.get("call_id"))
        output = record.get("output")
        output = output if isinstance(output, str) else ""
        entry = self._call_record(call_id, record)
        status, duration = record.get("status"), record.get("duration_s")
        entry.status = status if isinstance(status, str) else "error"
        entry.output = output
        entry.duration_s = float(duration) if isinstance(duration, int | float) else None
        call = self.calls.pop(call_id, None)
        if isinstance(call, CustomToolCall):
            self.turn.items.append(CustomToolCallOutput(call_id=call_id, output=output))
        else:
            self.turn.items.append(FunctionCallOutput(call_id=call_id, output=output))

    def close_turn(self) -> None:
        """End the open turn, answering every call that has no recorded result."""
        turn = self.turn
        if turn is None:
            return
        for call_id, call in self.calls.items():
            raw = call.arguments if isinstance(call, FunctionCall) else call.input
            entry = self._call_record(call_id, {"name": call.name, "arguments": raw})
            entry.output, entry.interrupted = INTERRUPTED_OUTPUT, True
            output_type = CustomToolCallOutput if isinstance(call, CustomToolCall) else FunctionCallOutput
            turn.items.append(output_type(call_id=call_id, output=INTERRUPTED_OUTPUT))
        self.calls = {}
        self.turns.append(turn)
        self.turn = None


def _fields(record: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in record.items() if key not in ("v", "seq", "t", "type")}


# ---- finding a session --------------------------------------------------------------------


def workspace_of(cwd: Path) -> Path:
    """The repository root containing `cwd`, or `cwd` itself outside git (resolved)."""
    repo = repo_info(cwd)
    return (repo.root if repo else cwd).resolve()


def read_header(path: Path) -> dict[str, Any]:
    """The first line of a session file as a dict (empty when unreadable); cheap for listings."""
    try:
        with open(path, "rb") as file:
            header = orjson.loads(file.readline())
    except (OSError, orjson.JSONDecodeError):
        return {}
    return header if isinstance(header, dict) else {}


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
        root: The sessions directory, usually `sessions_root()`.
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
