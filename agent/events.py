"""`AgentEvent`: the one discriminated union the agent emits.

The TUI, `codeassist exec --json`, the session log and replay all consume these same events.
Each is a small frozen pydantic model with a `type` literal; none carries a callback.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypeAlias

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter

from agent.approvals import ApprovalRequest
from agent.stats import ResponseStats, TurnStats
from agent.web_sources import WEB_SEARCH_CALL, hosted_search_notice
from agent.wire.event_types import REASONING_DELTAS, TEXT_DELTAS, TOOL_ITEM_TYPES

TurnEndReason: TypeAlias = Literal[
    "completed", "step_limit", "limit_exceeded", "cancelled", "error", "failed", "incomplete"
]
"""Why a turn ended: the last response asked for no tools (`completed`), the step limit, a
spending limit (`agent.cost.SpendingLimits`: cost or tokens) was reached between steps, the user
cancelled, an error made the response impossible, or the response failed / was incomplete."""

ToolStatus: TypeAlias = Literal["ok", "error", "denied", "invalid", "aborted"]
"""How a tool call was answered: ran fine, ran and failed, denied, refused for invalid
arguments, or aborted (cancelled turn, or a response that ended before its calls could run)."""


class _Event(BaseModel):
    model_config = ConfigDict(frozen=True)


class TurnStarted(_Event):
    type: Literal["turn_started"] = "turn_started"
    turn: int
    prompt: str
    images: list[str] = []
    """The names of the images attached to the prompt (their bytes are in the conversation item)."""


class ResponseStarted(_Event):
    """A request went out: which transport, and whether it was incremental (and why)."""

    type: Literal["response_started"] = "response_started"
    step: int
    transport: str
    incremental: bool
    reason: str
    items_sent: int


class TextDelta(_Event):
    type: Literal["text_delta"] = "text_delta"
    text: str


class ReasoningDelta(_Event):
    type: Literal["reasoning_delta"] = "reasoning_delta"
    text: str


class ToolCallStarted(_Event):
    """The model began a tool call (its arguments are still streaming)."""

    type: Literal["tool_call_started"] = "tool_call_started"
    call_id: str
    name: str


class ToolCallReady(_Event):
    """A tool call's arguments are complete.

    Streamed (`final` false) when the server's `output_item.done` arrives; then once more with
    `final` true, from the completed response, just before the call is decided: those are the
    arguments that are approved and run (the two copies can differ; the final one wins).
    """

    type: Literal["tool_call_ready"] = "tool_call_ready"
    call_id: str
    name: str
    arguments: str
    final: bool = False
    """From the completed response, announced before the call is decided: exactly what runs."""


class ApprovalRequested(_Event):
    type: Literal["approval_requested"] = "approval_requested"
    request: ApprovalRequest


class ApprovalDecided(_Event):
    type: Literal["approval_decided"] = "approval_decided"
    call_id: str
    decision: Literal["approve_once", "approve_always", "deny", "cancel"]
    rule: str | None
    reason: str | None
    waited_s: float


class ToolOutput(_Event):
    """What a running tool has printed so far (today: `shell`), sent at a bounded rate while it
    runs and always before its `ToolFinished`, which holds the whole output.

    Each event replaces the previous one of the same call: `text` is the latest tail of the
    output (its last lines, terminal controls removed), `total_bytes` how much was printed in all.
    """

    type: Literal["tool_output"] = "tool_output"
    call_id: str
    text: str
    total_bytes: int


class ToolFinished(_Event):
    """Exactly one per tool call: the output the model receives, and how it went."""

    type: Literal["tool_finished"] = "tool_finished"
    call_id: str
    name: str
    status: ToolStatus
    output: str
    duration_s: float
    display: dict[str, object] | None = None
    """Extra structured detail for the UI (diff, exit code, plan steps)."""
    images: int = 0
    """How many images went to the model with the output (their bytes are in the conversation item)."""


class ResponseFinished(_Event):
    type: Literal["response_finished"] = "response_finished"
    stats: ResponseStats


class MessageCompleted(_Event):
    """The full assistant text of one response, once it has ended (after its deltas)."""

    type: Literal["message_completed"] = "message_completed"
    text: str


class OutputDiscarded(_Event):
    """The attempt in flight was abandoned after it had streamed output, and the response starts
    again: drop the text, reasoning and tool-call starts shown since its `ResponseStarted`."""

    type: Literal["output_discarded"] = "output_discarded"
    cause: str


class Reconnecting(_Event):
    """The attempt failed; the response is retried from the start (an `OutputDiscarded` comes
    first when the failed attempt had shown output)."""

    type: Literal["reconnecting"] = "reconnecting"
    attempt: int
    delay_s: float
    cause: str


class TransportChanged(_Event):
    """The session changed transport (`agent.stats.TransportSwitch`): to HTTP/SSE after a
    fallback, or back to WebSocket at a turn start."""

    type: Literal["transport_changed"] = "transport_changed"
    transport: str
    reason: str
    cause: str = ""
    """Machine-readable: `retries_exhausted`, `upgrade_refused_<status>`, `websocket_retry`,
    `websocket_still_failing` (empty in sessions saved before it was recorded)."""
    permanent: bool = False
    """HTTP/SSE for the rest of the session: the endpoint has no WebSocket mode."""


CompactionMode: TypeAlias = Literal["auto", "manual", "client", "recovery"]
"""How a compaction came about: the server compacted inside a response (`auto`), the user asked
(`/compact`, `exec --compact-first`), codeassist summarised the conversation itself because the
endpoint refuses `context_management` (`client`), or a request was over the context window
(`recovery`)."""


class CompactionStarted(_Event):
    """The conversation is being compacted (the status line says "compacting" until `Compacted`)."""

    type: Literal["compaction_started"] = "compaction_started"
    mode: CompactionMode


class Compacted(_Event):
    """The conversation was compacted: from now on a full resend sends only the new window.

    `window` is the replacement window of a standalone or client-side compaction (the items
    the next requests start from, as JSON), kept so a resumed session continues from it; None
    for a compaction inside a response, whose `compaction` item is in the transcript.
    """

    type: Literal["compacted"] = "compacted"
    mode: CompactionMode
    tokens_before: int | None
    tokens_after: int | None
    """None when not known (yet)."""
    items_before: int
    items_after: int
    window: list[dict[str, Any]] | None = None


class Notice(_Event):
    type: Literal["notice"] = "notice"
    message: str
    waiting: Literal["mcp_servers"] | None = None
    """Set when the turn waits until this is over before its request: the MCP servers starting."""


class RulesChanged(_Event):
    """The session's own "approve always" rules after `/permissions` revoked one (recorded, so
    that `--continue` restores what was in force; approving always is recorded by its
    `ApprovalDecided`)."""

    type: Literal["rules_changed"] = "rules_changed"
    session_rules: list[str]


class AgentError(_Event):
    type: Literal["error"] = "error"
    message: str
    code: str | None = None


def _storable(text: str) -> str:
    """`text` as it can be written to JSON: a file name that is not UTF-8 (undecodable bytes kept
    as surrogates by `os.fsdecode`) shows its odd bytes as `\\xNN`."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return text


FileName = Annotated[str, AfterValidator(_storable)]
"""A workspace path or a line naming one, in an event: any file name, JSON-safe."""


class FileChangeSummary(BaseModel):
    """One file a turn (or the session) changed, with its line counts (0 for a binary file)."""

    model_config = ConfigDict(frozen=True)

    path: FileName
    status: Literal["added", "modified", "deleted", "renamed", "mode", "type"]
    old_path: FileName | None = None
    """The path before a rename."""
    added: int = 0
    removed: int = 0
    binary: bool = False


class GitBaseline(_Event):
    """The repository as the session found it (recorded once, when a session starts): whether
    checkpoints can be taken (`available`, else `reason`), and the files already dirty then, which
    `/commit` leaves out unless asked."""

    type: Literal["git_baseline"] = "git_baseline"
    head: str | None
    branch: str | None
    dirty: list[FileName]
    available: bool
    reason: str | None = None


class CheckpointCreated(_Event):
    """The workspace was snapshotted right before the turn's first file-changing call ran."""

    type: Literal["checkpoint_created"] = "checkpoint_created"
    turn: int
    commit: str
    ref: str | None
    skipped: list[FileName] = []
    """Paths left out of the snapshot (too big, nested repositories, submodules)."""


class TurnChanges(_Event):
    """What a turn that has a checkpoint changed in the workspace (just before its `TurnEnded`;
    `files` may be empty): its checkpoint `before` and the snapshot `after` it."""

    type: Literal["turn_changes"] = "turn_changes"
    turn: int
    before: str
    after: str
    files: list[FileChangeSummary]


class ChangesUndone(_Event):
    """`/undo` put the files of turn `turn` back as they were before it (`overwritten`: edited by
    hand since, replaced as the user confirmed; `problems`: what could not be restored)."""

    type: Literal["changes_undone"] = "changes_undone"
    turn: int
    files: list[FileName]
    overwritten: list[FileName] = []
    problems: list[FileName] = []


class ChangesRedone(_Event):
    """`/redo` applied the undone changes of turn `turn` again."""

    type: Literal["changes_redone"] = "changes_redone"
    turn: int
    files: list[FileName]
    overwritten: list[FileName] = []
    problems: list[FileName] = []


class Committed(_Event):
    """The session's changes were committed on the current branch (`branch` None: a detached
    HEAD); `auto` for a commit `auto_commit` made after a turn."""

    type: Literal["committed"] = "committed"
    commit: str
    branch: str | None
    files: list[FileName]
    message: str
    auto: bool = False


class TurnEnded(_Event):
    type: Literal["turn_ended"] = "turn_ended"
    reason: TurnEndReason
    stats: TurnStats
    message: str | None = None


AgentEvent = Annotated[
    TurnStarted
    | ResponseStarted
    | TextDelta
    | ReasoningDelta
    | ToolCallStarted
    | ToolCallReady
    | ApprovalRequested
    | ApprovalDecided
    | ToolOutput
    | ToolFinished
    | MessageCompleted
    | ResponseFinished
    | OutputDiscarded
    | Reconnecting
    | TransportChanged
    | CompactionStarted
    | Compacted
    | Notice
    | RulesChanged
    | AgentError
    | GitBaseline
    | CheckpointCreated
    | TurnChanges
    | ChangesUndone
    | ChangesRedone
    | Committed
    | TurnEnded,
    Field(discriminator="type"),
]

AGENT_EVENT_ADAPTER: TypeAdapter[AgentEvent] = TypeAdapter(AgentEvent)


def delta_text(event: dict[str, Any]) -> str:
    """The delta of a delta event, as text."""
    delta = event.get("delta")
    return delta if isinstance(delta, str) else ("" if delta is None else str(delta))


def streamed_event(
    event: dict[str, Any],
) -> TextDelta | ReasoningDelta | ToolCallStarted | ToolCallReady | Notice | None:
    """The agent event a streamed server event becomes, if any (the live loop and replay share this).
    A web search the endpoint ran inside the response (`web_search_call`) becomes a `Notice`.

    Deltas are built without validation: this runs once per token. Fields of the wrong type
    (possible in a saved file; the live client checks events first) give no event.
    """
    kind = event.get("type")
    if not isinstance(kind, str):
        return None
    if kind in TEXT_DELTAS:
        return TextDelta.model_construct(text=delta_text(event))
    if kind in REASONING_DELTAS:
        return ReasoningDelta.model_construct(text=delta_text(event))
    if kind == "response.output_item.added" or kind == "response.output_item.done":
        item = event.get("item")
        if kind == "response.output_item.done" and isinstance(item, dict) and item.get("type") == WEB_SEARCH_CALL:
            return Notice(message=hosted_search_notice(item))
        if not isinstance(item, dict) or not isinstance(item.get("type"), str) or item["type"] not in TOOL_ITEM_TYPES:
            return None
        call_id, name = item.get("call_id"), item.get("name")
        if not isinstance(call_id, str) or not isinstance(name, str):
            return None
        if kind == "response.output_item.added":
            return ToolCallStarted(call_id=call_id, name=name)
        arguments = item.get("arguments", item.get("input", ""))
        return ToolCallReady(call_id=call_id, name=name, arguments=arguments if isinstance(arguments, str) else "")
    return None
