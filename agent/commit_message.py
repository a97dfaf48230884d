"""Commit messages for `/commit` and `auto_commit`.

The model drafts one on a side request (`agent.side_request`: a plain `POST …/responses`, not
streamed, not stored, no tools, no `previous_response_id`, so the WebSocket's connection cache,
which holds the main chain, is never evicted). Where the model cannot be reached, the
message is written from the turns' prompts, the plan and the log of file-changing tool calls.
Every message ends with the trailer `Assisted-by: codeassist`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.conversation import RequestSettings
from agent.events import ChangesRedone, ChangesUndone, FileChangeSummary
from agent.side_request import SideRequestFailed, post_response, side_body
from agent.wire.items import user_message

TRAILER = "Assisted-by: codeassist"
"""The last line of every commit codeassist makes."""

MAX_NAMED_FILES = 10
"""Files named in a notice or a note before "and N more"."""
SUBJECT_LIMIT = 72
MAX_PATCH_CHARS = 24_000
"""How much of the session's diff the drafting request carries."""
DRAFT_TIMEOUT_S = 60.0

COMMIT_INSTRUCTIONS = (
    "You write git commit messages. From the user's requests and the diff, write one commit message: "
    f"a subject line of at most {SUBJECT_LIMIT} characters in the imperative mood, a blank line, then a "
    "short body saying what changed and why, wrapped at 72 columns. Reply with the message only: no code "
    "fences, no trailers, no commentary."
)

_FENCE = re.compile(r"^```[\w-]*\n(.*?)\n?```$", re.S)


@dataclass(frozen=True)
class TurnSummary:
    """What a commit message is written from: one turn's prompt, files and file-changing calls."""

    turn: int
    prompt: str
    files: list[FileChangeSummary] = field(default_factory=list)
    tools: list[str] = field(default_factory=list)
    """One line per file-changing call that ran (`write_file notes.txt`, `shell make fmt`)."""


def with_trailer(message: str) -> str:
    """`message` ending with the `Assisted-by: codeassist` trailer (added once)."""
    text = message.strip()
    if text.splitlines() and text.splitlines()[-1].strip() == TRAILER:
        return text + "\n"
    return f"{text}\n\n{TRAILER}\n" if text else f"{TRAILER}\n"


def file_line(change: FileChangeSummary) -> str:
    """`a.py (+3 −1)`, `old → new (renamed)`, `logo.png (binary)`."""
    name = f"{change.old_path} → {change.path}" if change.old_path else change.path
    if change.binary:
        return f"{name} ({change.status}, binary)"
    return f"{name} ({change.status}, +{change.added} −{change.removed})"


def _subject(text: str) -> str:
    line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    line = line.rstrip(".")
    return line if len(line) <= SUBJECT_LIMIT else line[: SUBJECT_LIMIT - 1].rstrip() + "…"


def offline_draft(turns: Iterable[TurnSummary], plan: Iterable[Mapping[str, Any]] = ()) -> str:
    """A message from the turns' prompts, the plan's steps and the tool log (no model needed)."""
    turns = list(turns)
    prompts = [turn.prompt for turn in turns if turn.prompt.strip()]
    files = {change.path: change for turn in turns for change in turn.files}
    subject = _subject(prompts[0]) if prompts else ""
    if not subject:
        names = sorted(files)
        subject = _subject("Update " + ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else ""))
    body: list[str] = []
    if len(prompts) > 1:
        body += ["Requests:", *(f"- {_subject(prompt)}" for prompt in prompts), ""]
    steps = [step for step in plan if str(step.get("status")) in ("completed", "in_progress")]
    if steps:
        body += ["Plan:", *(f"- {step.get('step', '')}" for step in steps), ""]
    tools = list(dict.fromkeys(line for turn in turns for line in turn.tools))
    if tools:
        body += ["Changes:", *(f"- {line}" for line in tools[:30]), *(["- …"] if len(tools) > 30 else []), ""]
    if files:
        body += ["Files:", *(f"- {file_line(change)}" for change in files.values())]
    text = subject + ("\n\n" + "\n".join(body).strip() if body else "")
    return with_trailer(text)


def draft_request(settings: RequestSettings, turns: Iterable[TurnSummary], patch: str) -> dict[str, Any]:
    """The side request's body: the session's requests, files and diff; no tools, not stored."""
    lines = []
    for turn in turns:
        lines.append(f"Turn {turn.turn} request: {turn.prompt.strip() or '(none)'}")
        lines += [f"  changed {file_line(change)}" for change in turn.files]
    shown = patch if len(patch) <= MAX_PATCH_CHARS else patch[:MAX_PATCH_CHARS] + "\n[… diff cut here]"
    ask = "\n".join(lines) + f"\n\nThe diff to commit:\n\n{shown}\n\nWrite the commit message."
    return side_body(settings, instructions=COMMIT_INSTRUCTIONS, input=[user_message(ask)])


async def model_draft(http: object, body: dict[str, Any], *, timeout: float = DRAFT_TIMEOUT_S) -> str | None:
    """The model's message for `body` through the HTTP transport's `post` (the side channel), with
    the trailer; None when the request fails or gives no text (then the offline draft is used)."""
    try:
        text = (await post_response(http, body, timeout=timeout)).text.strip()
    except SideRequestFailed:
        return None
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    lines = [line for line in text.splitlines() if line.strip() != TRAILER]
    text = "\n".join(lines).strip()
    return with_trailer(text) if text else None


def undo_note(event: ChangesUndone | ChangesRedone) -> str:
    """What the model hears with the next prompt after `/undo` or `/redo`."""
    files = named(event.files, 20) or "no files"
    if isinstance(event, ChangesUndone):
        return (
            f"Note from codeassist: the user undid the changes of turn {event.turn} (/undo). These files are back "
            f"as they were before that turn: {files}. Files that turn created are gone and files it deleted are "
            "back; do not assume its changes are still there."
        )
    return (
        f"Note from codeassist: the user re-applied the changes of turn {event.turn} (/redo): {files} are again "
        "as that turn left them."
    )


def named(paths: Sequence[str], limit: int = MAX_NAMED_FILES) -> str:
    """`a, b, c` — at most `limit` named, then "and N more"."""
    shown = ", ".join(paths[:limit])
    return shown + (f" and {len(paths) - limit} more" if len(paths) > limit else "")
