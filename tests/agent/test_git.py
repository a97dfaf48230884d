"""No program a repository configures runs when codeassist looks at it (`agent.git`)."""

from __future__ import annotations

import asyncio
import stat
import subprocess
from pathlib import Path

import pytest

from agent.git import config_fingerprint, git_environment, git_listed_files, repo_info, run_git
from agent.tools.list_files import git_files
from tests.agent.conftest import make_repo


def _trap(directory: Path, name: str, file_name: str | None = None) -> str:
    """A program that leaves a marker file when run (and behaves like `cat`)."""
    script = directory / (file_name or f"trap-{name}")
    script.write_text(f"#!/bin/sh\ntouch '{directory}/RAN-{name}'\nexec cat\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


@pytest.fixture
def hostile_repo(tmp_path: Path) -> Path:
    """A repository whose own configuration names a program for every hook point git offers a
    reader: a file system monitor, hooks, an external diff, a textconv driver and a filter."""
    repo = make_repo(tmp_path / "hostile", {"notes.txt": "one\n", ".gitattributes": "*.txt filter=trap diff=trap\n"})
    traps = tmp_path / "traps"
    traps.mkdir()
    hooks = traps / "hooks"
    hooks.mkdir()
    for hook in ("pre-commit", "post-checkout", "post-index-change", "reference-transaction"):
        _trap(hooks, hook, file_name=hook)
    config = {
        "core.fsmonitor": _trap(traps, "fsmonitor"),
        "core.hooksPath": str(hooks),
        "diff.external": _trap(traps, "external-diff"),
        "diff.trap.textconv": _trap(traps, "textconv"),
        "filter.trap.clean": _trap(traps, "clean"),
        "filter.trap.smudge": _trap(traps, "smudge"),
        "filter.trap.process": _trap(traps, "process"),
        "core.sshCommand": _trap(traps, "ssh"),
    }
    for key, value in config.items():
        subprocess.run(["git", "config", key, value], cwd=repo, check=True)
    (repo / "notes.txt").write_text("two\n")
    (repo / "new.txt").write_text("untracked\n")
    return repo


def _ran(repo: Path) -> list[str]:
    return sorted(path.name for path in (repo.parent / "traps").rglob("RAN-*"))


def test_the_trap_is_real_plain_git_runs_the_repository_programs(hostile_repo: Path) -> None:
    subprocess.run(["git", "status"], cwd=hostile_repo, capture_output=True)
    subprocess.run(["git", "diff"], cwd=hostile_repo, capture_output=True)
    assert "RAN-fsmonitor" in _ran(hostile_repo)
    assert len(_ran(hostile_repo)) >= 2


def test_reading_the_header_facts_runs_nothing(hostile_repo: Path) -> None:
    info = repo_info(hostile_repo)

    assert info is not None and info.dirty and info.branch == "main"
    assert _ran(hostile_repo) == []


def test_listing_files_runs_nothing(hostile_repo: Path) -> None:
    files = asyncio.run(git_files(hostile_repo))
    mentionable = git_listed_files(hostile_repo, 100)

    assert files is not None and {"notes.txt", "new.txt", ".gitattributes"} <= set(files)
    assert mentionable is not None and set(files) == set(mentionable)
    assert _ran(hostile_repo) == []


@pytest.mark.parametrize(
    "args",
    [["status", "--porcelain"], ["diff"], ["diff", "--stat"], ["log", "-p", "-1"], ["show", "HEAD"], ["add", "-A"]],
)
def test_git_commands_run_nothing_and_still_work(hostile_repo: Path, args: list[str]) -> None:
    result = run_git(args, hostile_repo)

    assert result.returncode == 0, result.stderr
    assert _ran(hostile_repo) == []


def test_diff_through_a_neutral_driver_still_shows_the_change(hostile_repo: Path) -> None:
    diff = run_git(["diff"], hostile_repo).stdout.decode()

    assert "-one" in diff and "+two" in diff


def test_the_users_own_global_drivers_are_kept(hostile_repo: Path, tmp_path: Path) -> None:
    global_config = tmp_path / "global.gitconfig"
    global_config.write_text('[filter "lfs"]\n\tclean = git-lfs clean -- %f\n')
    env = git_environment(hostile_repo, {"PATH": "/usr/bin:/bin", "GIT_CONFIG_GLOBAL": str(global_config)})

    keys = {env[name] for name in env if name.startswith("GIT_CONFIG_KEY_")}
    assert "filter.trap.clean" in keys
    assert "filter.lfs.clean" not in keys
    assert env["GIT_CONFIG_VALUE_0"] == "false"  # core.fsmonitor, the first neutral setting


def test_every_driver_overrides_the_users_own_filters_too(hostile_repo: Path, tmp_path: Path) -> None:
    global_config = tmp_path / "global.gitconfig"
    global_config.write_text('[filter "lfs"]\n\tclean = git-lfs clean -- %f\n\trequired = true\n')
    env = git_environment(
        hostile_repo, {"PATH": "/usr/bin:/bin", "GIT_CONFIG_GLOBAL": str(global_config)}, every_driver=True
    )

    settings = {env[f"GIT_CONFIG_KEY_{n}"]: env[f"GIT_CONFIG_VALUE_{n}"] for n in range(int(env["GIT_CONFIG_COUNT"]))}
    assert settings["filter.lfs.clean"] == "cat" and settings["filter.lfs.required"] == "false"
    assert settings["filter.trap.clean"] == "cat"


def test_the_configuration_fingerprint_follows_the_files_and_gives_up_on_includes(hostile_repo: Path) -> None:
    git_dir = hostile_repo / ".git"
    environ = {"HOME": str(hostile_repo.parent), "GIT_CONFIG_NOSYSTEM": "1"}
    first = config_fingerprint(git_dir, git_dir, environ)
    assert first is not None and config_fingerprint(git_dir, git_dir, environ) == first

    subprocess.run(["git", "config", "filter.late.clean", "cat"], cwd=hostile_repo, check=True)
    assert config_fingerprint(git_dir, git_dir, environ) not in (None, first)
    subprocess.run(["git", "config", "include.path", "elsewhere"], cwd=hostile_repo, check=True)
    assert config_fingerprint(git_dir, git_dir, environ) is None


def test_settings_the_caller_passes_in_the_environment_are_kept(hostile_repo: Path) -> None:
    env = git_environment(
        hostile_repo,
        {
            "PATH": "/usr/bin:/bin",
            "GIT_CONFIG_COUNT": "1",
            "GIT_CONFIG_KEY_0": "user.name",
            "GIT_CONFIG_VALUE_0": "Someone",
        },
    )

    assert env["GIT_CONFIG_KEY_0"] == "user.name" and env["GIT_CONFIG_VALUE_0"] == "Someone"
    assert env["GIT_CONFIG_KEY_1"] == "core.fsmonitor"
    assert int(env["GIT_CONFIG_COUNT"]) > 1


def test_outside_a_repository_nothing_is_found(tmp_path: Path) -> None:
    assert repo_info(tmp_path) is None
    assert asyncio.run(git_files(tmp_path)) is None


async def test_opening_a_session_in_a_hostile_repository_runs_nothing(hostile_repo: Path, tmp_path: Path) -> None:
    from agent.config import Settings
    from agent.session import Session

    settings = Settings(base_url="http://127.0.0.1:9/v1", api_key="sk-test-0123456789abcdefghij", warmup=False)
    session = Session.open(settings, cwd=hostile_repo, log_root=tmp_path / "sessions")
    try:
        assert "new.txt" in session.workspace_files()
        info = Session.repository(hostile_repo)
        assert info is not None and info.dirty
    finally:
        await session.close()
    assert _ran(hostile_repo) == []
