"""Markdown and JSON transcripts of a saved session (`/export`, `codeassist export`).

Both are built from the session record alone, read once as a stream (see
`agent.resume.session_turns`; version-1 files are converted by `agent.session_v1`), so they show
exactly what the model saw and did, with secrets already redacted by the log. Nothing is run.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from agent.commit_message import file_line
from agent.events import ChangesUndone, Committed, TurnChanges
from agent.paths import exports_dir
from agent.resume import ToolCallRecord, TurnRecord, read_header, session_turns
from agent.session_log import LoadedSession
from agent.session_record import read_session
from agent.stats import TurnStats, counted
from agent.terminal_text import safe_terminal_text
from agent.wire import CustomToolCall, FunctionCall, Message, Reasoning, UnknownItem
from agent.wire.items import Refusal

if TYPE_CHECKING:
    from agent.checkpoints import SessionDiff

__all__ = ["EXPORT_FORMAT_VERSION", "ExportFormat", "export_json", "export_markdown", "export_session"]

ExportFormat = Literal["markdown", "json"]

EXPORT_FORMAT_VERSION = 1
"""Version of the JSON transcript layout (`"format": "codeassist-transcript"`)."""

_SUFFIXES = {"markdown": ".md", "json": ".json"}
_BACKTICKS = re.compile(r"`+")


def export_markdown(source: Path | str | LoadedSession) -> str:
    """A readable Markdown transcript of a session (a file or a loaded one).

    It has a header (id, start, directory, repository, model), then per turn: the user's
    prompt, the assistant's text, reasoning summaries as quotes, each tool call with its
    arguments, approval and output in fenced blocks, the files it changed, a stats line, then
    what was undone, redone or committed before the next turn; then session totals.
    Control sequences from the session (model text, tool output, file names) are removed or
    shown as visible symbols (`agent.terminal_text`), so the Markdown is safe to print.
    """
    reading = read_session(source)
    turns = session_turns(reading)
    header = reading.header
    diffs = _diffs(header, turns)
    out = [f"# codeassist session {header.get('id', '')}".rstrip(), ""]
    facts = [
        ("Started", _when(header.get("wall"))),
        ("Directory", _code(header.get("cwd"))),
        ("Repository", _repository(header)),
        ("Model", _code(header.get("model"))),
        ("Transport", header.get("transport")),
        ("codeassist", header.get("version")),
    ]
    out += [f"- **{label}:** {value}" for label, value in facts if value]
    out.append("")
    if reading.warnings:
        out += ["> **Note:** the session file was damaged; some records were not readable:", ">"]
        out += [f"> - {warning}" for warning in reading.warnings]
        out.append("")
    for turn in turns:
        out += _turn_markdown(turn, diffs.get(turn.turn))
    if turns:
        out += ["---", "", f"**Session totals:** {_totals_line(turns)}", ""]
    return safe_terminal_text("\n".join(out))


def export_json(source: Path | str | LoadedSession) -> dict[str, Any]:
    """A structured transcript (of a file or a loaded session): the header, then the turns with
    their items, tool calls and stats.

    Items are in their Responses wire form. `stats` is the turn's `TurnStats` (None when the
    log ends before the turn did) with derived figures under `summary`.
    """
    reading = read_session(source)
    turns = session_turns(reading)
    diffs = _diffs(reading.header, turns)
    return {
        "format": "codeassist-transcript",
        "version": EXPORT_FORMAT_VERSION,
        "session": reading.header,
        "warnings": list(reading.warnings),
        "turns": [
            {
                "turn": turn.turn,
                "prompt": turn.prompt,
                "reason": turn.reason,
                "message": turn.message,
                "items": [_without_image_bytes(item.model_dump(mode="json")) for item in turn.items],
                "tool_calls": [asdict(call) for call in turn.tool_calls],
                "stats": _stats_json(turn.stats) if turn.stats is not None else None,
                "changes": _changes_json(turn.changes, diffs.get(turn.turn)),
                "afterwards": [event.model_dump(mode="json") for event in turn.afterwards],
            }
            for turn in turns
        ],
        "totals": _totals(turns),
    }


def export_session(path: Path, fmt: ExportFormat = "markdown", out: Path | None = None) -> Path:
    """Write a session's transcript to a file (mode 0600: transcripts hold code and output).

    Args:
        path: The session's `.jsonl` file.
        fmt: `"markdown"` or `"json"`.
        out: Where to write; defaults to `<session id>.md` or `.json` in the exports folder of
            the data directory (`$XDG_DATA_HOME/codeassist/exports`), never the current
            directory, which is usually the repository. An existing file is replaced.

    Returns:
        The file written.

    Raises:
        SessionLogError: The session cannot be read.
        ValueError: An unknown format.
        OSError: The output cannot be written.
    """
    if fmt not in _SUFFIXES:
        raise ValueError(f"unknown export format {fmt!r}: use 'markdown' or 'json'")
    if fmt == "markdown":
        text = export_markdown(Path(path))
    else:
        text = json.dumps(export_json(Path(path)), indent=2, ensure_ascii=False) + "\n"
    if out is None:
        folder = exports_dir()
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        out = folder / f"{read_header(Path(path)).get('id') or Path(path).stem}{_SUFFIXES[fmt]}"
    target = Path(out)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "w", encoding="utf-8", errors="backslashreplace") as file:
        file.write(text)
    return target


# ---- Markdown -----------------------------------------------------------------------------


def _without_image_bytes(value: Any) -> Any:
    """`value` with each `data:` image URL cut to its media type and size: an export names the
    images a turn sent, it does not carry them."""
    if isinstance(value, dict):
        url = value.get("image_url")
        if value.get("type") == "input_image" and isinstance(url, str) and url.startswith("data:"):
            head, _, data = url.partition(",")
            return {**value, "image_url": f"{head},… ({len(data) * 3 // 4} bytes not exported)"}
        return {key: _without_image_bytes(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_image_bytes(item) for item in value]
    return value


def _diffs(header: dict[str, Any], turns: list[TurnRecord]) -> dict[int, SessionDiff]:
    """The recorded turns' diffs, read from the session's checkpoints (nothing when no turn has one)."""
    changed = [turn.changes for turn in turns if turn.changes is not None]
    if not changed:
        return {}
    from agent.checkpoints import recorded_diffs

    return recorded_diffs(header, changed)


def _changes_json(changes: TurnChanges | None, diff: SessionDiff | None) -> dict[str, Any] | None:
    if changes is None:
        return None
    return {
        "before": changes.before,
        "after": changes.after,
        "files": [file.model_dump(mode="json") for file in changes.files],
        "patch": diff.patch if diff is not None else None,
    }


def _changes_markdown(turn: TurnRecord, diff: SessionDiff | None) -> list[str]:
    if turn.changes is None:
        return []
    files = turn.changes.files
    out = [f"### Changes ({counted(len(files), 'file')})", ""]
    out += [f"- `{file_line(file)}`" for file in files]
    if diff is not None and diff.patch:
        out += ["", *_fenced(diff.patch, "diff")]
    return [*out, ""]


def _afterwards_markdown(turn: TurnRecord) -> list[str]:
    """What was done between this turn and the next: /undo, /redo, /commit (and auto-commits)."""
    out: list[str] = []
    for event in turn.afterwards:
        if isinstance(event, Committed):
            subject = event.message.strip().splitlines()[0] if event.message.strip() else ""
            how = "auto-committed" if event.auto else "committed"
            out += [f"*{how} `{event.commit[:12]}` on {event.branch or 'a detached HEAD'}: {subject}*", ""]
        else:
            verb = "undone (/undo)" if isinstance(event, ChangesUndone) else "redone (/redo)"
            out += [f"*Turn {event.turn} {verb}: {', '.join(event.files) or 'no files'}*", ""]
    return out


def _turn_markdown(turn: TurnRecord, diff: SessionDiff | None = None) -> list[str]:
    out = [
        f"## Turn {turn.turn}",
        "",
        "### User",
        "",
        turn.prompt.strip() or "*(empty prompt)*",
        "",
        "### Assistant",
        "",
    ]
    calls = {call.call_id: call for call in turn.tool_calls}
    shown: set[str] = set()
    for item in turn.items[1:]:
        if isinstance(item, Message) and item.role == "assistant":
            out += [_message_text(item), ""]
        elif isinstance(item, Reasoning):
            out += _reasoning(item)
        elif isinstance(item, FunctionCall | CustomToolCall):
            shown.add(item.call_id)
            out += _tool_call(calls.get(item.call_id) or _call_from_item(item))
        elif isinstance(item, UnknownItem):
            out += [f"*({item.type} item)*", ""]
    for call in turn.tool_calls:  # calls whose request was not committed (none in a well-formed log)
        if call.call_id not in shown:
            out += _tool_call(call)
    if turn.message and turn.reason != "completed":
        out += [f"> **{turn.reason}:** {turn.message}", ""]
    out += _changes_markdown(turn, diff)
    out += [_stats_line(turn), ""]
    out += _afterwards_markdown(turn)
    return out


def _message_text(message: Message) -> str:
    if isinstance(message.content, str):
        return message.content
    parts = []
    for part in message.content:
        if isinstance(part, Refusal):
            parts.append(f"*Refused:* {part.refusal}")
        elif isinstance(text := getattr(part, "text", None), str):
            parts.append(text)
    return "".join(parts)


def _reasoning(item: Reasoning) -> list[str]:
    texts = [part.text for part in item.summary if isinstance(getattr(part, "text", None), str)]  # type: ignore[union-attr]
    if not texts:
        return []
    out = ["> **Reasoning**", ">"]
    for index, text in enumerate(texts):
        if index:
            out.append(">")
        out += [f"> {line}".rstrip() for line in text.splitlines()]
    return [*out, ""]


def _tool_call(call: ToolCallRecord) -> list[str]:
    status = "interrupted (outcome unknown, not re-run)" if call.interrupted else call.status or "no result"
    duration = f" · {call.duration_s:.2f} s" if call.duration_s is not None else ""
    out = [f"**Tool call** `{call.name}` · {status}{duration}", ""]
    arguments, language = _pretty_arguments(call.arguments)
    if arguments:
        out += [*_fenced(arguments, language), ""]
    request = call.approval_request or {}
    if isinstance(request.get("diff"), str) and request["diff"]:
        out += ["Proposed change:", "", *_fenced(request["diff"], "diff"), ""]
    if call.approval:
        out += [_approval_line(call.approval), ""]
    if call.output is not None:
        out += ["Output:", "", *_fenced(call.output, "text"), ""]
    return out


def _approval_line(approval: dict[str, Any]) -> str:
    decision = str(approval.get("decision") or "unknown").replace("_", " ")
    rule = approval.get("rule")
    line = f"Approval: **{decision}**" + (f" ({rule})" if rule else "")
    waited = approval.get("waited_s")
    if isinstance(waited, int | float) and waited >= 0.05:
        line += f" after {waited:.1f} s"
    if approval.get("reason"):
        line += f" — {approval['reason']}"
    return line


def _stats_line(turn: TurnRecord) -> str:
    if turn.stats is None:
        return f"*Turn {turn.turn} · interrupted: the session log ends before this turn did*"
    return f"*Turn {turn.turn} · {turn.reason} · {turn.stats.summary_line()}*"


def _call_from_item(item: FunctionCall | CustomToolCall) -> ToolCallRecord:
    return ToolCallRecord(call_id=item.call_id, name=item.name, arguments=item.raw_input)


def _pretty_arguments(raw: str) -> tuple[str, str]:
    try:
        value = json.loads(raw)
    except ValueError:
        return raw, "text"
    if value == {}:
        return "", "json"
    return json.dumps(value, indent=2, ensure_ascii=False), "json"


def _fenced(text: str, language: str) -> list[str]:
    """`text` in a code fence longer than any run of backticks inside it."""
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{language}", text.rstrip("\n"), fence]


def _code(value: Any) -> str | None:
    return f"`{value}`" if isinstance(value, str) and value else None


def _when(wall: Any) -> str | None:
    if not isinstance(wall, str):
        return None
    try:
        return datetime.fromisoformat(wall).strftime("%Y-%m-%d %H:%M:%S %z")
    except ValueError:
        return wall


def _repository(header: dict[str, Any]) -> str | None:
    workspace, branch, head = header.get("workspace"), header.get("git_branch"), header.get("git_head")
    if not isinstance(head, str):
        return _code(workspace)
    where = f"`{workspace}` " if isinstance(workspace, str) else ""
    return f"{where}on `{branch or 'detached HEAD'}` at `{head[:12]}`"


# ---- JSON and totals ---------------------------------------------------------------------------


def _stats_json(stats: TurnStats) -> dict[str, Any]:
    return {
        **stats.model_dump(mode="json"),
        "summary": {
            "first_token_s": stats.first_token_s,
            "tokens_per_s": stats.tokens_per_s,
            "input_tokens": stats.input_tokens,
            "cached_tokens": stats.cached_tokens,
            "cache_ratio": stats.cache_ratio,
            "output_tokens": stats.output_tokens,
            "bytes_sent": stats.bytes_sent,
            "bytes_received": stats.bytes_received,
            "incremental": stats.incremental,
        },
    }


def _totals(turns: list[TurnRecord]) -> dict[str, Any]:
    responses = [response for turn in turns for response in turn.responses]
    input_tokens = sum(r.input_tokens for r in responses)
    cached = sum(r.cached_tokens for r in responses)
    return {
        "turns": len(turns),
        "responses": len(responses),
        "tool_calls": sum(len(turn.tool_calls) for turn in turns),
        "input_tokens": input_tokens,
        "cached_tokens": cached,
        "cache_ratio": cached / input_tokens if input_tokens else 0.0,
        "output_tokens": sum(r.output_tokens for r in responses),
        "bytes_sent": sum(r.bytes_sent for r in responses),
        "bytes_received": sum(r.bytes_received for r in responses),
    }


def _totals_line(turns: list[TurnRecord]) -> str:
    totals = _totals(turns)
    return (
        f"{counted(totals['turns'], 'turn')} · {counted(totals['responses'], 'response')} · "
        f"{counted(totals['tool_calls'], 'tool call')} · "
        f"input {totals['input_tokens']} tok ({totals['cache_ratio']:.0%} cached) · "
        f"output {totals['output_tokens']} tok"
    )
