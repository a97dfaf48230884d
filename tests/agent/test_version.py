"""The version is written once, in `agent.__version__`; the package metadata reads it from there."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import tomllib
from pathlib import Path

import agent

ROOT = Path(__file__).resolve().parents[2]


def test_pyproject_takes_the_version_from_the_agent_package():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "agent.__version__"}


def test_installed_metadata_and_version_flag_report_the_agent_version():
    assert importlib.metadata.version("codeassist") == agent.__version__
    result = subprocess.run(
        [sys.executable, "-m", "codeassist", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == f"codeassist {agent.__version__}"
