"""A tool call in the transcript: name, what it does, status, duration, and its output.

Arguments, output, diffs and plans come from outside (the model, the tool, files): they pass
through `agent.terminal_text` before they are rendered.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rich.console import Group, RenderableType
from rich.syntax import Syntax
from rich.text import Text
from textual.widgets import Static

from agent.events import ToolStatus
from agent.plan import PLAN_GLYPHS, PLAN_STATUSES, PlanStatus, plan_lines
from agent.terminal_text import safe_terminal_text
from tui.widgets.web_sources import sources_text

if TYPE_CHECKING:  # annotations only: the session is imported after the first frame
    from agent.session import CallDescription

MAX_OUTPUT_SHOWN = 20_000

STATUS_LABELS = {
    "queued": "queued",
    "waiting": "waiting for approval",
    "running": "running",
    "ok": "done",
    "error": "failed",
    "invalid": "invalid arguments",
    "denied": "denied",
    "aborted": "aborted",
}


class ToolCard(Static, can_focus=True):
    """One tool call: name, key argument, status, duration, and its output (collapsible: a click,
    or Enter while it has the focus). Calls that run together show `running` together."""

    def __init__(self, call_id: str, name: str) -> None:
        super().__init__(classes="-queued")
        self.call_id = call_id
        self.tool_name = name
        self.arguments = ""
        self.description: CallDescription | None = None
        self.status = "queued"
        """`queued` until the call is decided and run (`running`, or `waiting` for approval), then
        how it was answered (`ok`, `error`, …)."""
        self.duration_s: float | None = None
        self.approval_wait_s: float | None = None
        """How long the call waited for a person's answer (None: nobody was asked)."""
        self.output = ""
        self.display_data: dict[str, Any] | None = None
        self.expanded = False
        self.ran = False
        """Whether the call was ever shown running (a call aborted before it ran shows no run time)."""
        self.live_output = ""
        """The latest lines a running command printed (kept after an interrupted run)."""
        self._render_card()

    def set_arguments(self, arguments: str, description: CallDescription) -> None:
        """The call's complete arguments, and how the tool describes them."""
        self.arguments = arguments
        self.description = description
        self._render_card()

    def set_status(self, status: str) -> None:
        self.remove_class(f"-{self.status}")
        self.status = status
        self.ran = status == "running" or (self.ran and status != "waiting")  # shown running before it asks
        self.add_class(f"-{status}")
        self._render_card()

    def finish(self, status: ToolStatus, output: str, duration_s: float, display: dict[str, Any] | None) -> None:
        self.output = output
        self.duration_s = duration_s
        self.display_data = display
        self.set_status(status)

    def set_approval_wait(self, waited_s: float) -> None:
        """The time the call waited for its approval (shown apart from the time it ran)."""
        self.approval_wait_s = waited_s
        self._render_card()

    def show_live_output(self, text: str) -> None:
        """The latest lines the running call printed (each call replaces the previous lines)."""
        self.live_output = text
        self._render_card()

    @property
    def has_result(self) -> bool:
        """Whether the call has been answered (ran, failed, denied, …)."""
        return self.duration_s is not None

    def on_click(self) -> None:
        self.toggle()

    def toggle(self) -> None:
        """Show or hide the output."""
        self.expanded = not self.expanded
        self._render_card()
        self.refresh_bindings()  # the footer's Enter: Expand or Collapse

    @property
    def text(self) -> str:
        """What the copy key copies: the command in full (other tools: name and key argument), then
        the output."""
        try:
            arguments = json.loads(self.arguments) if self.arguments else {}
        except ValueError:
            arguments = {}
        command = arguments.get("command") if isinstance(arguments, dict) else None
        if not isinstance(command, str):
            command = f"{self.tool_name} {self.description.summary if self.description else ''}".strip()
        return "\n\n".join(part for part in (command, self.output) if part)

    def _collapsed_body(self) -> str:
        """The output as a collapsed card counts it: without a shell call's first line when that line
        only says the exit code the title already shows."""
        exit_code = (self.display_data or {}).get("exit_code")
        first, _, rest = self.output.partition("\n")
        return rest if exit_code is not None and first == f"exit code {exit_code}" else self.output

    def _render_card(self) -> None:
        summary = safe_terminal_text(self.description.summary) if self.description else ""
        title = Text.assemble(
            (safe_terminal_text(self.tool_name) + (" " if summary else ""), "bold"),
            summary,
            ("  ·  ", "dim"),
            (STATUS_LABELS.get(self.status, self.status), "italic"),
        )
        exit_code = (self.display_data or {}).get("exit_code")
        if exit_code is not None:
            title.append(f"  ·  exit {exit_code}", style="bold" if exit_code else "dim")
        timing = timing_text(self.status, self.duration_s, self.approval_wait_s, ran=self.ran)
        if timing:
            title.append(f"  ·  {timing}", style="dim")
        parts: list[RenderableType] = [title]
        if self.live_output and (self.status == "running" or (self.status == "aborted" and not self.expanded)):
            parts.append(Text(safe_terminal_text(self.live_output), style="dim"))
        sources = sources_text(self.display_data)
        if sources is not None:
            parts.append(sources)
        diff = (self.display_data or {}).get("diff")
        if isinstance(diff, str) and diff:
            parts.append(Syntax(safe_terminal_text(diff), "diff", word_wrap=True, background_color="default"))
        plan = (self.display_data or {}).get("plan")
        if isinstance(plan, list):
            parts.append(plan_text(plan))
        elif self.output and (self.expanded or self.status in ("error", "invalid", "denied")):
            shown = self.output if len(self.output) <= MAX_OUTPUT_SHOWN else self.output[:MAX_OUTPUT_SHOWN] + "\n…"
            parts.append(Text(safe_terminal_text(shown), style="dim"))
        elif len(body := self._collapsed_body().splitlines()) == 1:  # as small as saying it is there: shown
            parts.append(Text(safe_terminal_text(body[0].strip()), style="dim", no_wrap=True, overflow="ellipsis"))
        elif self.output.strip():
            parts.append(Text(f"{output_lines(self.output)} of output — Enter or click to expand", style="dim italic"))
        self.update(Group(*parts))


def output_lines(output: str) -> str:
    """`1 line`, `12 lines`: how many lines `output` holds (a final newline ends a line, it does
    not start one)."""
    count = len(output.splitlines()) or 1
    return f"{count} line{'' if count == 1 else 's'}"


def timing_text(status: str, duration_s: float | None, approval_wait_s: float | None, *, ran: bool = True) -> str:
    """`ran 1.2s · waited 8.0s for approval`: the run time (only for a call that ran: an aborted
    one only if it was `ran`, not cancelled while it waited or was queued) and the approval wait
    (only for a call someone was asked about), never added together."""
    parts = []
    if duration_s is not None and (status in ("ok", "error") or (status == "aborted" and ran)):
        parts.append(f"ran {duration_s:.1f}s")
    if approval_wait_s is not None:
        parts.append(f"waited {approval_wait_s:.1f}s for approval")
    return " · ".join(parts)


_PENDING, _IN_PROGRESS, _DONE = PLAN_STATUSES
PLAN_STYLES: dict[PlanStatus, str] = {_PENDING: "", _IN_PROGRESS: "bold", _DONE: "dim strike"}
"""How each plan step is styled by its status (an unknown status is styled as pending)."""


def plan_text(steps: list[dict[str, Any]]) -> Text:
    """A plan as a checklist."""
    text = Text()
    for index, step in enumerate(steps):
        if index:
            text.append("\n")
        style = PLAN_STYLES.get(step.get("status", _PENDING), PLAN_STYLES[_PENDING])
        text.append(safe_terminal_text(plan_lines([step], PLAN_GLYPHS)[0]), style=style)
    return text
