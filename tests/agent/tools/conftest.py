"""Tool fixtures: a real git repository as the workspace, and a way to run tools by name."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from agent.tools import ToolContext
from tests.agent.conftest import make_repo


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    return make_repo(
        tmp_path / "ws",
        {
            "a.py": "print('hello')\n",
            "pkg/__init__.py": "",
            "pkg/core.py": "def count(text):\n    return len(text.split(' '))\n",
            "docs/readme.md": "# Title\n\nSome words here.\n",
            ".gitignore": "build/\n*.log\n",
        },
    )


@pytest.fixture
def ctx(workspace: Path) -> ToolContext:
    return ToolContext(workspace=workspace)


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under `root` (symlinks not followed), to prove nothing changed."""
    digest = {}
    for path in sorted(root.rglob("*")):
        if path.is_file() and not path.is_symlink():
            digest[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest
