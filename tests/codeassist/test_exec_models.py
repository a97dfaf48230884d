"""`codeassist exec` and the model catalogue: an unknown model is said on stderr, the config's
`models` table is honoured (a real subprocess against a real server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.agent.conftest import make_repo
from tests.codeassist.test_exec import run_exec


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "work", {"a.py": "print('hello')\n"})


def test_exec_says_on_stderr_when_the_model_is_not_in_the_catalogue(server, workspace, tmp_path):
    result = run_exec(workspace, tmp_path, "please read a.py", "--base-url", server.address.base_url, "--model", "mine")
    assert result.returncode == 0, result.stderr
    assert "codeassist exec: Model mine is not in the model catalogue: using the default entry" in result.stderr
    assert "catalogue" not in result.stdout


def test_exec_takes_the_model_from_the_config_models_table_without_a_notice(server, workspace, tmp_path):
    config = tmp_path / "config" / "codeassist" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("[models.mine]\ncontext_window = 8192\nreasoning = false\n")
    result = run_exec(workspace, tmp_path, "please read a.py", "--base-url", server.address.base_url, "--model", "mine")
    assert result.returncode == 0, result.stderr
    assert "catalogue" not in result.stderr
    assert all("reasoning" not in entry.body for entry in server.state.received if entry.body)


def test_exec_reports_a_bad_models_entry_naming_the_model_and_the_field(server, workspace, tmp_path):
    config = tmp_path / "config" / "codeassist" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text("[models.mine]\ncontext_window = -1\n")
    result = run_exec(workspace, tmp_path, "hi", "--base-url", server.address.base_url)
    assert result.returncode == 2
    assert "invalid models: model 'mine': context_window must be a positive whole number" in result.stderr
