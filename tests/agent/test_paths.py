"""XDG paths: one home for where configuration and data live."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent import paths
from agent.config import config_path


def test_xdg_variables_choose_the_directories() -> None:
    env = {"XDG_CONFIG_HOME": "/cfg", "XDG_DATA_HOME": "/data", "HOME": "/home/u"}
    assert paths.config_dir(env) == Path("/cfg/codeassist")
    assert paths.data_dir(env) == Path("/data/codeassist")
    assert paths.sessions_dir(env) == Path("/data/codeassist/sessions")
    assert paths.history_file(env) == Path("/data/codeassist/history.jsonl")
    assert paths.bench_dir(env) == Path("/data/codeassist/bench")
    assert paths.exports_dir(env) == Path("/data/codeassist/exports")


@pytest.mark.parametrize("xdg", [None, "", "relative/dir", "."])
def test_unset_empty_or_relative_xdg_falls_back_to_home(xdg: str | None) -> None:
    env = {"HOME": "/home/u"}
    if xdg is not None:
        env |= {"XDG_CONFIG_HOME": xdg, "XDG_DATA_HOME": xdg}
    assert paths.config_dir(env) == Path("/home/u/.config/codeassist")
    assert paths.data_dir(env) == Path("/home/u/.local/share/codeassist")


def test_a_relative_home_is_not_used(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert paths.data_dir({"HOME": "relative"}) == tmp_path / ".local/share/codeassist"


def test_the_environment_defaults_to_os_environ(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert paths.sessions_dir() == tmp_path / "data/codeassist/sessions"
    assert paths.config_dir() == tmp_path / "config/codeassist"


def test_the_config_file_lives_in_the_config_directory() -> None:
    env = {"XDG_CONFIG_HOME": "/cfg", "XDG_DATA_HOME": "/data"}
    assert config_path(env) == paths.config_dir(env) / "config.toml"
