"""The one-line header: repository, branch, dirty state, approval policy and sandbox (in bold
when commands run unsandboxed), model (and its reasoning effort), transport and the context meter.

The context meter says how full the context is (what the next request carries against the model's
window) and turns amber near where compaction starts (`-context-near`; its colour is the theme's
`$warning`, through the `repo-header--context-near` component class).

Outside a git repository it names the directory and says it is not a repository: no branch, no
dirty mark."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual.widgets import Static

from agent.terminal_text import safe_terminal_text

if TYPE_CHECKING:  # the session loads after the first frame
    from agent.session import ContextUsage


class RepoHeader(Static):
    """Shows where codeassist works, how it talks to the model, and how full the context is."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {"repo-header--context", "repo-header--context-near"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._fields: dict[str, Any] | None = None
        self.context: ContextUsage | None = None
        """The context meter's figures (None: no meter, e.g. in a replay)."""

    def show(
        self,
        *,
        repo: str,
        branch: str | None,
        dirty: bool,
        model: str,
        transport: str,
        effort: str | None = None,
        mode: str = "",
        in_repository: bool = True,
        safety: str = "",
        context: ContextUsage | None = None,
    ) -> None:
        """Draw the header; `branch` None inside a repository means a detached HEAD."""
        self._fields = {
            "repo": repo,
            "branch": branch,
            "dirty": dirty,
            "model": model,
            "transport": transport,
            "effort": effort,
            "mode": mode,
            "in_repository": in_repository,
            "safety": safety,
        }
        self.show_context(context)

    def show_context(self, context: ContextUsage | None) -> None:
        """Update the context meter (None: hide it)."""
        self.context = context
        self.set_class(context is not None and context.near_threshold, "-context-near")
        if self._fields is not None:
            self.update(self._line(**self._fields))

    def _line(
        self,
        *,
        repo: str,
        branch: str | None,
        dirty: bool,
        model: str,
        transport: str,
        effort: str | None,
        mode: str,
        in_repository: bool,
        safety: str,
    ) -> Text:
        text = Text()
        text.append("codeassist ", style="bold")
        text.append(safe_terminal_text(repo))
        if in_repository:
            text.append(f" ⎇ {safe_terminal_text(branch or 'detached')}", style="italic")
            text.append(" ●" if dirty else " ✓", style="bold" if dirty else "dim")
        else:
            text.append("  (not a git repository)", style="dim italic")
        if safety:  # before the model and transport: a narrow terminal cuts the end of the line
            text.append(f"   {safety}", style="bold" if "no sandbox" in safety or "off" in safety else "")
        text.append(f"   model {safe_terminal_text(model)}")
        if effort:
            text.append(f" · effort {effort}")
        text.append(f"   {safe_terminal_text(transport)}")
        if self.context is not None:  # last: a narrow terminal cuts it before the transport
            near = self.context.near_threshold
            style = self.get_component_rich_style("repo-header--context-near" if near else "repo-header--context")
            text.append(f"   {self.context.label()}", style=style)
        if mode:
            text.append(f"   [{mode}]", style="bold")
        return text
