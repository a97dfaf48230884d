"""Prompt history, kept across sessions in `$XDG_DATA_HOME/codeassist/history.jsonl` (0600).

What is written there is redacted like the session log (`agent.redact`): a token pasted into the
prompt is recalled in this session as typed, but never stored in clear.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from agent.paths import history_file
from agent.redact import Redactor

MAX_ENTRIES = 1000


def history_path() -> Path:
    return history_file()


class PromptHistory:
    """Entries oldest first; `previous`/`next` walk them; `search` finds older matches."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or history_path()
        self.entries: list[str] = []
        self.position: int | None = None
        self._redactor: Redactor | None = None
        try:
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if isinstance(entry, str):
                    self.entries.append(entry)
        except OSError:
            pass
        self.entries = self.entries[-MAX_ENTRIES:]

    def add(self, text: str) -> None:
        """Remember a sent prompt (consecutive duplicates are kept once)."""
        self.position = None
        if not text.strip() or (self.entries and self.entries[-1] == text):
            return
        self.entries.append(text)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(descriptor, "a", encoding="utf-8") as file:
                file.write(json.dumps(self._redact(text)) + "\n")
        except OSError:
            pass  # history is a convenience; a read-only home must not break the prompt

    def _redact(self, text: str) -> str:
        if self._redactor is None:  # built on first use: it reads the environment's credentials
            self._redactor = Redactor()
        return self._redactor.redact(text)

    def previous(self) -> str | None:
        if not self.entries:
            return None
        self.position = len(self.entries) - 1 if self.position is None else max(0, self.position - 1)
        return self.entries[self.position]

    def next(self) -> str | None:
        if self.position is None:
            return None
        if self.position >= len(self.entries) - 1:
            self.position = None
            return ""
        self.position += 1
        return self.entries[self.position]

    def search(self, needle: str, before: int | None = None) -> tuple[int, str] | None:
        """The newest entry containing `needle` older than index `before`."""
        start = len(self.entries) if before is None else before
        for index in range(start - 1, -1, -1):
            if needle.lower() in self.entries[index].lower():
                return index, self.entries[index]
        return None
