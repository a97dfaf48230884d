"""The first frame's import set: `tui.app` (and the command line that opens it) loads none of the
heavy modules; they come after the first frame. No timing here: `bench/startup.py` measures."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = (
    "pydantic",
    "httpx",
    "websockets",
    "git",
    "uvicorn",
    "starlette",
    "mcp",
    "PIL",
    "mcp_types",
    "httpx2",
    "jsonschema",
    "agent.mcp.manager",
    "agent.mcp.connection",
    "agent.mcp.session_hooks",
    "agent.session",
    "agent.images",
    "agent.mentions",
    "agent.events",
    "agent.stats",
    "agent.settings_model",
    "agent.transport",
    "agent.wire",
    "agent.loop",
    "agent.tools",
    "agent.approvals",
    "agent.replay",
    "server",
    "tui.router",
    "tui.widgets.approval",
    "markdown_it",
    "pygments",
    "rich.markdown",
    "textual.highlight",
)
"""Packages and modules the first frame does not need (a module counts with its submodules)."""


def loaded_heavy_modules(code: str) -> list[str]:
    probe = (
        f"import json, sys\n{code}\n"
        f"heavy = {HEAVY!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules if any(m == h or m.startswith(h + '.') for h in heavy))))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize(
    "code",
    [
        "import tui.app",
        # what `codeassist` and `codeassist replay FILE` run before the app's first frame
        "import codeassist.main, codeassist.app, codeassist.replay, tui.app\n"
        "from agent.config import draft_settings\ndraft_settings({})",
    ],
)
def test_the_first_frame_loads_no_heavy_module(code, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert loaded_heavy_modules(code) == []


def test_mcp_servers_in_the_config_start_nothing_before_the_first_frame(tmp_path, monkeypatch):
    """Configured servers are only checked (plain Python) before the first frame: no SDK, no server."""
    (tmp_path / "codeassist").mkdir()
    (tmp_path / "codeassist" / "config.toml").write_text('[mcp_servers.files]\ncommand = "npx"\n')
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    code = (
        "import codeassist.main, codeassist.app, tui.app\n"
        "from agent.config import SettingsDraft, draft_settings\nassert isinstance(draft_settings({}), SettingsDraft)"
    )
    assert loaded_heavy_modules(code) == []


def test_the_heavy_modules_do_load_once_the_session_is_used():
    """The guard above can fail: the same probe sees them when the session stack is imported."""
    assert {"pydantic", "httpx", "agent.session"} <= set(loaded_heavy_modules("import agent.session"))


def test_markdown_and_pygments_load_with_the_first_answer():
    """They are kept off the first frame, not removed: the first fenced answer brings them in."""
    code = "from tui.widgets.markdown_stream import split_blocks\nsplit_blocks('```py\\nx = 1\\n```\\n')"
    assert {"markdown_it"} <= set(loaded_heavy_modules(code))
