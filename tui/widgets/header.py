"""The one-line header: repository, branch, dirty state, model, transport, approval policy and
sandbox (in bold when commands run unsandboxed).

Outside a git repository it names the directory and says it is not a repository: no branch, no
dirty mark."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from agent.terminal_text import safe_terminal_text


class RepoHeader(Static):
    """Shows where codeassist works and how it talks to the model."""

    def show(
        self,
        *,
        repo: str,
        branch: str | None,
        dirty: bool,
        model: str,
        transport: str,
        mode: str = "",
        in_repository: bool = True,
        safety: str = "",
    ) -> None:
        """Draw the header; `branch` None inside a repository means a detached HEAD."""
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
        text.append(f"   {safe_terminal_text(transport)}")
        if mode:
            text.append(f"   [{mode}]", style="bold")
        self.update(text)
