"""The prompt history on disk (`tui.history`)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tui.history import PromptHistory

GITHUB_TOKEN = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"


def test_a_token_typed_into_the_prompt_is_never_stored_in_clear(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    history = PromptHistory(path)
    history.add(f"push with GITHUB_TOKEN={GITHUB_TOKEN} please")

    assert GITHUB_TOKEN not in path.read_text()
    assert json.loads(path.read_text()) == "push with GITHUB_TOKEN=[REDACTED] please"
    assert history.previous() == f"push with GITHUB_TOKEN={GITHUB_TOKEN} please"  # recalled as typed
    assert PromptHistory(path).previous() == "push with GITHUB_TOKEN=[REDACTED] please"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_secret_environment_value_typed_into_the_prompt_is_scrubbed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEPLOY_TOKEN", "plain-looking-deploy-value")
    path = tmp_path / "history.jsonl"
    PromptHistory(path).add("use plain-looking-deploy-value for the deploy")

    assert "plain-looking-deploy-value" not in path.read_text()


def test_history_walks_and_searches_entries(tmp_path: Path) -> None:
    history = PromptHistory(tmp_path / "history.jsonl")
    for text in ("first", "second", "second", "third"):
        history.add(text)

    assert history.entries == ["first", "second", "third"]
    assert [history.previous(), history.previous(), history.next()] == ["third", "second", "third"]
    assert history.search("s") == (1, "second")
