"""The screen shown when no model can be reached: the three ways forward."""

from __future__ import annotations

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Center, Vertical
from textual.widgets import Footer, Static

from themes import STYLESHEET, THEMES


def welcome_text(config_file: str) -> Text:
    text = Text()
    text.append("codeassist has no model to talk to yet.\n\n", style="bold")
    text.append("Choose one of these:\n\n")
    text.append("  1. ", style="bold")
    text.append("Use OpenAI: ")
    text.append("export OPENAI_API_KEY=sk-…", style="bold")
    text.append(f"\n     (or set api_key in {config_file})\n\n")
    text.append("  2. ", style="bold")
    text.append("Use a compatible or local server: ")
    text.append("codeassist --base-url http://127.0.0.1:8000/v1", style="bold")
    text.append("\n     (any Responses-API endpoint; `codeassist serve` runs one locally)\n\n")
    text.append("  3. ", style="bold")
    text.append("Try it offline: ")
    text.append("codeassist demo", style="bold")
    text.append("  (a scripted model fixes a sample project, for real)\n")
    return text


class WelcomeApp(App[str]):
    """Explains how to configure a model; `d` starts the offline demo, `q` quits."""

    CSS_PATH = [STYLESHEET]
    CSS = "#welcome { width: 90; height: auto; padding: 1 2; border: round $primary; margin: 2 0; }"
    BINDINGS = [Binding("d", "demo", "Start the demo"), Binding("q", "quit", "Quit")]

    def __init__(self, config_file: str) -> None:
        super().__init__()
        self.config_file = config_file

    def compose(self) -> ComposeResult:
        with Center(), Vertical(id="welcome"):
            yield Static(welcome_text(self.config_file))
        yield Footer()

    def on_mount(self) -> None:
        for theme in THEMES:
            self.register_theme(theme)
        self.theme = "codeassist-dark"

    def action_demo(self) -> None:
        self.exit("demo")
