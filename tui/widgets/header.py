"""The one-line header: repository, branch, dirty state, model, transport."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class RepoHeader(Static):
    """Shows where codeassist works and how it talks to the model."""

    def show(self, *, repo: str, branch: str | None, dirty: bool, model: str, transport: str, mode: str = "") -> None:
        text = Text()
        text.append("codeassist ", style="bold")
        text.append(f"{repo}")
        text.append(f" ⎇ {branch or 'detached'}", style="italic")
        text.append(" ●" if dirty else " ✓", style="bold" if dirty else "dim")
        text.append(f"   model {model}")
        text.append(f"   {transport}")
        if mode:
            text.append(f"   [{mode}]", style="bold")
        self.update(text)
